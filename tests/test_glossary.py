"""The glossary's links (loadtests/site/glossary.py): a page's first use of a term in its
own prose is linked, and nothing else is."""

from __future__ import annotations

import re

import pytest

from loadtests.site.glossary import GLOSSARY, TERMS, linked

pytestmark = pytest.mark.inprocess  # no process: make test runs it beside the timing tests

PAGE = GLOSSARY.parent / "lessons" / "example.md"


def test_the_first_use_in_prose_is_linked_and_nothing_before_or_after_it():
    text = ("# Slots and cells\n\n"                      # a heading
            "`slots` in code, a [slots](io.md) link.\n\n"
            "```sh\ncurl slots\n```\n\n"
            "% generated: lesson io\n\nslots in a generated block\n\n% generated: end\n\n"
            "A CPU-bound cell has few slots; more slots later.\n")
    out = linked(text, PAGE)
    assert out.count("](../glossary.md#slots)") == 1
    assert "few [slots](../glossary.md#slots); more slots later" in out
    assert "A CPU-bound [cell](../glossary.md#cell) has" in out  # "CPU-bound" is no bound
    assert "#bound" not in out
    assert linked(out, PAGE) == out  # once linked, left as it is


def test_a_page_that_links_a_term_already_is_left_alone_for_it():
    text = "The [knee](../glossary.md#knee) comes first; the knee again.\n"
    assert linked(text, PAGE) == text


def test_every_term_has_its_section_in_the_glossary():
    headings = re.findall(r"^## (.+)$", GLOSSARY.read_text(), re.M)
    anchors = {re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-") for heading in headings}
    assert set(TERMS) <= anchors, set(TERMS) - anchors
