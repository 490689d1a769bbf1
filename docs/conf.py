"""Sphinx configuration of the lab's docs site (``make docs``; ``make docs-serve``).

Sphinx with MyST: the tool gunicorn, Flask, Celery and Locust document themselves with,
while the pages stay Markdown, as the README and the matrix's reports are.
"""

project = "Worker-model lab"
author = "the worker-model lab"
copyright = "2026, the worker-model lab"

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
# The samples' own reports are the matrix's output, not pages (the lesson pages embed
# renderings of their results.json); _build is the output.
exclude_patterns = ["_build", "sample/**", "README.md"]

myst_heading_anchors = 3  # links to a page's sections: [text](page.md#a-heading)
myst_enable_extensions = ["colon_fence"]

html_theme = "alabaster"  # Sphinx's own: no theme to pin
html_theme_options = {
    "description": "Python web concurrency, measured (Fluent Python, chapter 19)",
    "fixed_sidebar": True,
    "page_width": "1200px",
    "sidebar_width": "260px",
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
html_title = project
html_static_path: list[str] = []
# Keep `--threads` and "quotes" as typed: readers copy command lines from the tables.
smartquotes = False
