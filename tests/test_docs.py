"""The docs site: its generated parts match the samples, it builds strictly, and it renders.

The browser check opens the built site in Debian's chromium, headless, driven by
Playwright (never a downloaded browser): every page loads, every image on it rendered,
and the navigation reaches every page.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import pytest

from loadtests.lessons import LESSONS
from loadtests.servers import ROOT
from loadtests.site import blocks, pages

DOCS = ROOT / "docs"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def test_every_generated_block_is_what_the_samples_render_to():
    """A page's numbers come from docs/sample/*/results.json: `make docs-pages` rewrote them
    after the last change to a sample, a lesson or a command line."""
    assert pages.stale(write=False) == []


@pytest.mark.parametrize("lesson", [lesson.name for lesson in LESSONS])
def test_every_lesson_has_a_page_with_its_measured_table_and_chart(lesson):
    page = (DOCS / "lessons" / f"{lesson}.md").read_text()
    assert f"% generated: lesson {lesson}\n" in page
    title, answer = blocks.summary(lesson)
    assert title.endswith("?") and answer
    block = blocks.lesson(lesson)
    assert re.search(r"^\|.*\|$", block, re.M), "a table"
    images = re.findall(r"!\[[^]]*\]\(([^)]+)\)", block)
    assert images and all((DOCS / "lessons" / image).is_file() for image in images)
    assert "*Sample `" in block  # which sample, which command, when, which machine


def test_the_lessons_index_is_the_registry_in_teaching_order():
    index = (DOCS / "lessons" / "index.md").read_text()
    linked = re.findall(r"^\d+\. \[[^]]+\]\((\w+)\.md\)", index, re.M)
    assert linked == [lesson.name for lesson in LESSONS]


def test_a_broken_marker_is_one_line_naming_the_page():
    with pytest.raises(pages.PageError, match=r"^x.md:1: .* has no `% generated: end`"):
        pages.render("% generated: lessons\ntext\n", "x.md")
    with pytest.raises(pages.PageError, match=r"^x.md:1: unknown generated block 'nope'"):
        pages.render("% generated: nope\n% generated: end\n", "x.md")
    with pytest.raises(ValueError, match=r"^no part 'nope' of a lesson named 'hosts'$"):
        pages.render("% generated: part hosts nope\n% generated: end\n", "x.md")


def _settings_read(path: Path) -> set[str]:
    text = path.read_text()
    return set(re.findall(r'_env\w*\(\s*"([A-Z_]+)"', text)) | set(
        re.findall(r'os\.environ(?:\.get\(|\[)\s*"([A-Z_]+)"', text))


def test_the_reference_names_every_setting_the_lab_reads():
    reference = (DOCS / "reference.md").read_text()
    read = _settings_read(ROOT / "gunicorn.conf.py")
    for path in (ROOT / "webapp").rglob("*.py"):
        read |= _settings_read(path)
    assert len(read) > 15
    missing = sorted(name for name in read if f"`{name}`" not in reference)
    assert not missing, f"settings the reference does not list: {missing}"


def test_the_proxy_page_shows_the_nginx_configuration_the_lab_writes():
    """docs/proxy.md's nginx block is :data:`loadtests.services.nginx.CONFIG` with no limit,
    its folder, ports and user as placeholders (blank lines aside)."""
    from loadtests.services import nginx

    written = nginx.CONFIG.format(
        folder="/tmp/lab-nginx-XXXX", port="<free port>", upstream="<gunicorn's port>",
        user="<you>", header_timeout=10, ignore_accel="", read_timeout=nginx._duration(60),
        keepalive=32,
        **nginx._late(60), **nginx._limit(None, None))
    shown = re.search(r"```nginx\n(.*?)```", (DOCS / "proxy.md").read_text(), re.S).group(1)

    def lines(text: str) -> list[str]:
        return [line.rstrip() for line in text.splitlines() if line.strip()]

    assert lines(shown) == lines(written)


def test_the_readme_links_every_lesson_page_in_teaching_order():
    readme = (ROOT / "README.md").read_text()
    linked = re.findall(r"\]\(docs/lessons/(\w+)\.md\)", readme)
    assert [name for name in linked if name != "index"] == [lesson.name for lesson in LESSONS]
    assert len(readme.splitlines()) <= 250


def test_every_relative_link_in_the_readme_reaches_a_file_in_the_clone():
    """GitHub shows the README from the root: a lesson's one-line answer, copied from its
    page, had kept its page's ``../glossary.md`` links, which led out of the clone."""
    readme = (ROOT / "README.md").read_text()
    targets = {urldefrag(target).url for target in re.findall(r"\]\(([^)]+)\)", readme)
               if not urlparse(target).scheme and not target.startswith("#")}
    assert len(targets) > 10
    missing = sorted(t for t in targets if not (ROOT / t).resolve().is_relative_to(ROOT)
                     or not (ROOT / t).exists())
    assert not missing, missing

# -- the built site ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site built strictly: a warning, a broken link or a missing image fails."""
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q",
                           "-E", "-b", "html", str(DOCS), str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not done.stderr.strip(), done.stderr[-3000:]
    return out


def test_the_site_has_a_page_per_lesson_and_per_question(site):
    built = {p.relative_to(site).as_posix() for p in site.rglob("*.html")}
    expected = {f"lessons/{lesson.name}.html" for lesson in LESSONS} | {
        f"{name}.html" for name in ("index", "teaching", "getting-started", "measuring",
                                    "glossary", "deploying", "proxy", "offload", "advisor",
                                    "reliability", "reference", "contributing")}
    assert expected <= built


def _chromium():
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium not found, and CI=true: nothing may be skipped")
        pytest.skip("chromium not found: install it with `sudo apt-get install chromium`")
    from playwright.sync_api import sync_playwright

    return sync_playwright()


@pytest.mark.integration
def test_every_page_loads_with_its_images_and_the_navigation_reaches_it(site):
    pages_built = {p.resolve() for p in site.rglob("*.html")
                   if p.name not in ("genindex.html", "search.html")}
    with _chromium() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            seen, queue, broken = set(), [(site / "index.html").resolve()], []
            while queue:
                path = queue.pop()
                if path in seen:
                    continue
                seen.add(path)
                response = page.goto(path.as_uri(), wait_until="load")
                assert response is None or response.ok, path
                assert page.title(), path
                broken += [f"{path.name}: {src}" for src in page.evaluate(
                    "Array.from(document.images)"
                    ".filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")]
                for href in page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)"):
                    url = urlparse(urldefrag(href).url)
                    if url.scheme == "file" and url.path.endswith(".html"):
                        queue.append(Path(url.path).resolve())
        finally:
            browser.close()
    assert not broken, broken
    assert pages_built <= seen, sorted(str(p) for p in pages_built - seen)
