"""Names shown as typed (rooms/names.py): what a name may not hold, what is taken out of one
from an LMS, and how two names are compared."""

from __future__ import annotations

import pytest

from rooms.names import folded, printable, problem


@pytest.mark.parametrize(
    "name",
    [
        "Alice",
        "Zoë Ó Briain",
        # A Persian name with the zero-width non-joiner it needs.
        "\u0641\u0627\u0637\u0645\u0647\u200c\u0632\u0627\u062f\u0647",
        "👩\u200d💻 Ana",  # an emoji sequence's zero-width joiner
        "李小龍",
    ],
)
def test_names_that_show_as_they_are(name: str) -> None:
    assert problem(name) is None
    assert printable(name) == name


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("Alice\nAda (teacher)", "a control character (U+000A)"),
        ("Ali\tce", "a control character (U+0009)"),
        ("\x1b[2JAlice", "a control character (U+001B)"),
        ("\u202erehcaet", "a character that reverses the text's direction (U+202E)"),
        ("Ana\u2066x", "a character that reverses the text's direction (U+2066)"),
        ("A\u200bda", "an invisible character (U+200B)"),
        ("Ada\ufeff", "an invisible character (U+FEFF)"),
        ("Ada\u2028Lovelace", "an invisible character (U+2028)"),
    ],
)
def test_names_that_would_show_as_something_else(name: str, found: str) -> None:
    assert problem(name) == f"a name may not hold {found}"


def test_a_name_from_elsewhere_is_made_printable() -> None:
    assert printable("  Ana\nLi\t\u202e \u200b") == "Ana Li"
    assert printable("\u202e\u200b") == ""


def test_names_compare_folded() -> None:
    assert folded("\uff21\uff24\uff21") == folded(" ada ") == folded("Ada") == "ada"
    assert folded("Ada  Lovelace") == "ada lovelace"
    assert folded("Ad\u0430") != folded("Ada")  # a Cyrillic a is another letter: not folded
