"""Rewrite, or check, the generated blocks of every page under ``docs/``."""

from __future__ import annotations

import re
from pathlib import Path

from .blocks import DOCS
from .blocks import RENDERERS as BLOCKS
from .deploying import decision, overload, scaling
from .glossary import linked
from .goals import goals, projection
from .scripts import tried
from .teaching import teaching

RENDERERS = {**BLOCKS, "teaching": teaching, "decision": decision, "scaling": scaling,
             "overload": overload, "goals": goals, "projection": projection, "try": tried}

#: A block's first line: a MyST comment in a page, an HTML comment in README.md.
BEGIN = re.compile(r"^(% |<!-- )generated: (\w+)(?: (.+?))?( -->)?$")
ENDS = {"% ": "% generated: end", "<!-- ": "<!-- generated: end -->"}


class PageError(ValueError):
    """A page's markers are broken: one line says where."""


def pages() -> list[Path]:
    """The site's Markdown pages (the samples' reports are not pages), and README.md."""
    return [DOCS.parent / "README.md", *sorted(
        path for path in DOCS.rglob("*.md")
        if "sample" not in path.relative_to(DOCS).parts and "_build" not in path.parts)]


def render(text: str, where: str, write: bool = False) -> str:
    """``text`` with each generated block rendered anew."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        match = BEGIN.match(line)
        if not match or line in ENDS.values():
            continue
        style, kind, arg = match.group(1), match.group(2), match.group(3) or ""
        end_line = ENDS[style]
        if kind not in RENDERERS:
            raise PageError(f"{where}:{i}: unknown generated block {kind!r}")
        try:
            end = lines.index(end_line, i)
        except ValueError:
            raise PageError(f"{where}:{i}: `{line}` has no `{end_line}`") from None
        out += ["", RENDERERS[kind](arg, write=write), "", end_line]
        i = end + 1
    return "\n".join(out) + "\n"


def stale(write: bool) -> list[Path]:
    """The pages whose generated blocks differ from what they render to now, or that use
    a glossary term without its link; with ``write``, rewrite them (and the charts they
    show)."""
    changed = []
    for path in pages():
        text = path.read_text()
        fresh = linked(render(text, str(path.relative_to(DOCS.parent)), write=write), path)
        if fresh != text:
            changed.append(path)
            if write:
                path.write_text(fresh)
    return changed
