"""The teacher's table: the book's sections, the lesson that measures each, what it needs,
and the one command that runs it live -- all from the lessons' registry.

``make lesson L=<name>`` runs one lesson's cells and observation (``python -m
loadtests.matrix --lesson <name>``); a lesson whose cells are in the full preset only gets
``ARGS=--full``; one the matrix does not run (its page's commands are by hand) says so.
"""

from __future__ import annotations

from ..lessons import LESSONS, Lesson
from ..lessons.base import BOOK
from .blocks import summary


def live(lesson: Lesson) -> str:
    """The one command that shows the lesson live, as a reader types it."""
    if lesson.cells("quick") or lesson.observation:
        return f"`make lesson L={lesson.name}`"
    if lesson.cells("full"):
        return f"`make lesson L={lesson.name} ARGS=--full`"
    return "by hand, on its page"


def needs(lesson: Lesson) -> str:
    return ", ".join(lesson.needs()) or "Python only"


def section(lesson: Lesson) -> tuple[int, str, str]:
    """(its section's place in the book, the section, what the lesson takes from it)."""
    head, _, detail = lesson.book.partition(" — ")
    if head not in BOOK:
        raise ValueError(f"lesson {lesson.name!r}: {lesson.book!r} names no section of "
                         f"chapter 19 ({', '.join(BOOK)})")
    return BOOK.index(head), head, detail


def teaching(arg: str = "", write: bool = False) -> str:
    """The lessons by the book's section (``arg``: the folder the links start from)."""
    prefix = f"{arg}/" if arg else ""
    ordered = sorted(LESSONS, key=lambda lesson: section(lesson)[0])  # stable: teaching order
    lines = ["| the book (chapter 19) | the lesson | needs | run it live |",
             "|---|---|---|---|"]
    shown = None
    for lesson in ordered:
        _, head, detail = section(lesson)
        title, _ = summary(lesson.name)
        book = f"**{head}** — {detail}" if head != shown else detail
        shown = head
        lines.append(f"| {book} | [{title}]({prefix}{lesson.name}.md) | {needs(lesson)} | "
                     f"{live(lesson)} |")
    return "\n".join(lines)
