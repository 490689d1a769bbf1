"""The glossary's terms, linked from their first use on each page.

``python -m loadtests.site`` links a page's first use of each term in its own prose to the
term's section of ``docs/glossary.md``; ``--check`` (``make docs``) fails a page where that
link is missing. Prose is what a page's author wrote: not a code block or inline code, a
generated block, a heading, a directive or comment, nor a link's text already. A page that
links a term anywhere is left as it is for that term.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .blocks import DOCS

GLOSSARY = DOCS / "glossary.md"

#: Each term's section in the glossary (its anchor), and the words that use it.
TERMS: dict[str, str] = {
    "slots": r"slots?",
    "r-and-s": r"service times?",
    "little-s-law": r"Little's law",
    "bound": r"(?<![-\w])bounds?(?![-\w])(?! (?:with|to|the|an|a)\b)",  # the noun
    "fidelity": r"fidelity",
    "knee": r"knee",
    "closed-network": r"closed (?:network|loop)s?",
    "convoy": r"convoys?",
    "hub": r"hub",
    "dirty-workers": r"dirty workers?",
    "cell": r"cells?",
    "preset": r"presets?",
    "sample": r"samples?",
    "rss-and-uss": r"USS",
}
WORDS = {anchor: re.compile(rf"(?<![\w`/.-]){words}(?![\w`/-])", re.I)
         for anchor, words in TERMS.items()}

#: Any character but a line's end.
BLANK = re.compile(r"[^\n]")
#: What is not prose: inline code, a link or an image, an autolink, HTML.
NOT_PROSE = re.compile(r"`[^`]*`|!?\[[^\]]*\]\([^)]*\)|<[^>]*>")
#: Lines that are not prose: a heading, a MyST comment or directive, a table's rule.
NOT_PROSE_LINE = re.compile(r"^\s*(#|%|:::|\|[-:| ]+\|\s*$)")


def prose(text: str) -> str:
    """``text`` with all but its author's prose blanked (NUL), character for character."""
    lines, fenced, generated = [], False, False
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        keep = False
        if stripped.startswith(("% generated:", "<!-- generated:")):
            generated = not stripped.startswith(("% generated: end", "<!-- generated: end"))
        elif stripped.startswith(("```", "~~~")):
            fenced = not fenced
        else:
            keep = not (fenced or generated or NOT_PROSE_LINE.match(line)
                        or "glossary.md)" in line)  # a line about the glossary itself
        lines.append(line if keep else BLANK.sub("\0", line))
    return NOT_PROSE.sub(lambda code: BLANK.sub("\0", code[0]), "".join(lines))


def first_uses(text: str) -> dict[str, re.Match]:
    """Each term's first use in the prose of ``text`` (terms it links already left out)."""
    written = prose(text)
    return {anchor: match for anchor, words in WORDS.items()
            if f"glossary.md#{anchor})" not in text and (match := words.search(written))}


def linked(text: str, page: Path) -> str:
    """``text`` with each term's first use linked to the glossary."""
    if page == GLOSSARY:
        return text
    target = Path(os.path.relpath(GLOSSARY, page.parent)).as_posix()
    for anchor, match in sorted(first_uses(text).items(), key=lambda item: -item[1].start()):
        text = (text[:match.start()] + f"[{text[match.start():match.end()]}]({target}#{anchor})"
                + text[match.end():])
    return text
