from __future__ import annotations

import pytest

from sandbox.grading.compare import Outcome, compare, trim
from sandbox.grading.definitions import CompareMode, Comparison

EXACT = Comparison(CompareMode.EXACT)
TRIM = Comparison(CompareMode.TRIM)
REGEX = Comparison(CompareMode.REGEX)


def numeric(abs_tol: float = 0.0, rel_tol: float = 0.0) -> Comparison:
    return Comparison(CompareMode.NUMERIC, abs_tol, rel_tol)


def test_exact_needs_every_byte() -> None:
    assert compare("3\n", "3\n", EXACT) == Outcome(True)
    assert compare("3\n", "3", EXACT) == Outcome(
        False, "the output differs only in its final newlines"
    )
    assert compare("1\n2\n", "1\n2\n3\n", EXACT) == Outcome(False, "line 3: expected '', got '3'")
    assert compare("1", "1\n2", EXACT) == Outcome(False, "the output has 2 lines; expected 1")
    assert compare("a\nb\n", "a\nc\n", EXACT) == Outcome(False, "line 2: expected 'b', got 'c'")
    assert not compare("3\n", "3\r\n", EXACT).passed


@pytest.mark.parametrize(
    "actual",
    ["Hello\nWorld\n", "Hello  \nWorld", "Hello\r\nWorld\r\n", "Hello\nWorld\n\n\n  \n"],
)
def test_trim_ignores_trailing_space_and_blank_lines(actual: str) -> None:
    assert compare("Hello\nWorld", actual, TRIM).passed


def test_trim_keeps_leading_space_and_inner_blank_lines() -> None:
    assert compare("a\nb", " a\nb", TRIM) == Outcome(False, "line 1: expected 'a', got ' a'")
    assert compare("a\nb", "a\n\nb", TRIM) == Outcome(False, "line 2: expected 'b', got ''")
    assert compare("a\nb\nc", "a\nb", TRIM) == Outcome(
        False, "the output ends after 2 lines; expected 3"
    )
    assert trim("x \n\n") == ["x"]


def test_long_lines_are_cut_in_reasons() -> None:
    reason = compare("a" * 100, "b" * 100, TRIM).reason
    assert reason == f"line 1: expected {'a' * 60 + '…'!r}, got {'b' * 60 + '…'!r}"


def test_regex_is_a_full_multiline_match() -> None:
    assert compare(r"\d+ items?\n", "3 items\n", REGEX).passed
    assert compare(r"^a$\n^b$\n?", "a\nb\n", REGEX).passed
    assert compare(r"\d+", "12 apples", REGEX) == Outcome(
        False, "the output does not match the expected pattern"
    )
    # `.` does not cross a line end
    assert not compare(r"a.b", "a\nb", REGEX).passed


def test_numeric_tolerances() -> None:
    assert compare("0.333333", "0.3333334", numeric(abs_tol=1e-6)).passed
    assert compare("1 2 3", "1.0\n2.0\n3.0\n", numeric()).passed
    assert compare("1000", "1001", numeric(rel_tol=0.01)).passed
    assert compare("1000", "1011", numeric(rel_tol=0.01)) == Outcome(
        False, "value 1: expected '1000', got '1011'"
    )
    assert compare("0.5", "0.50001", numeric(abs_tol=1e-6)) == Outcome(
        False, "value 1: expected '0.5', got '0.50001'"
    )


def test_numeric_compares_words_exactly_and_counts_tokens() -> None:
    assert compare("mean 2.5", "mean 2.50000001", numeric(abs_tol=1e-6)).passed
    assert compare("mean 2.5", "avg 2.5", numeric()) == Outcome(
        False, "token 1: expected 'mean', got 'avg'"
    )
    assert compare("1 2", "1 2 3", numeric()) == Outcome(
        False, "the output has 3 values; expected 2"
    )
    assert compare("1 2", "1", numeric()) == Outcome(False, "the output has 1 value; expected 2")


def test_numeric_special_values() -> None:
    assert compare("inf", "inf", numeric()).passed
    assert not compare("inf", "-inf", numeric(abs_tol=1.0)).passed
    assert not compare("nan", "nan", numeric(abs_tol=1.0)).passed
