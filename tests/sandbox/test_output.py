"""What a program wrote, as every store takes it (sandbox/output.py ``storable``)."""

from __future__ import annotations

import pytest

from sandbox.grading.definitions import Visibility
from sandbox.grading.results import GradedTest
from sandbox.output import storable


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("a\x00b", "a\ufffdb"),  # PostgreSQL's text refuses NUL
        ("bad \ud800 x \udfff", "bad \ufffd x \ufffd"),  # no UTF-8 encoder takes these
        ("\x00\x00", "\ufffd\ufffd"),
        ("ok \U0001f600 \x01\t\n", "ok \U0001f600 \x01\t\n"),  # everything else as written
        ("", ""),
    ],
)
def test_nul_and_half_surrogates_are_shown_as_replacement_characters(
    written: str, stored: str
) -> None:
    assert storable(written) == stored
    stored.encode("utf-8")  # every encoder takes it


def test_a_graded_tests_output_is_stored_as_text() -> None:
    """A runner's JSON can hand on "\\ud800" (a raised message, a returned string)."""
    test = GradedTest("t", 0.0, 1.0, False, "the call failed:\nbad\ud800\x00", Visibility.VISIBLE)
    assert test.to_dict()["output"] == "the call failed:\nbad\ufffd\ufffd"
