"""Comparing a program's stdout with the expected output, and saying where they differ.

* ``exact``: byte for byte (after decoding).
* ``trim``: as Judge0 does, trailing whitespace of every line and trailing blank lines are
  ignored (so ``\\r\\n`` line ends and a missing final newline pass too).
* ``regex``: the expected text is a pattern that must match the whole output, with
  ``re.MULTILINE`` (``^``/``$`` at line ends); ``.`` does not cross lines.
* ``numeric``: token by token (split on any whitespace). Two tokens that both read as numbers
  match when ``|got - want| <= max(abs_tol, rel_tol * |want|)``; other tokens must be equal.
  Infinities match themselves; NaN matches nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sandbox.grading.definitions import CompareMode, Comparison

_SHOW = 60


@dataclass(frozen=True)
class Outcome:
    passed: bool
    reason: str = ""


def compare(expected: str, actual: str, rule: Comparison) -> Outcome:
    if rule.mode is CompareMode.EXACT:
        return _lines(expected, actual, exact=True)
    if rule.mode is CompareMode.TRIM:
        return _lines(expected, actual, exact=False)
    if rule.mode is CompareMode.REGEX:
        if re.fullmatch(expected, actual, re.MULTILINE):
            return Outcome(True)
        return Outcome(False, "the output does not match the expected pattern")
    return _numeric(expected, actual, rule.abs_tol, rule.rel_tol)


def trim(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _lines(expected: str, actual: str, *, exact: bool) -> Outcome:
    if exact:
        if expected == actual:
            return Outcome(True)
        if expected.rstrip("\n") == actual.rstrip("\n"):
            return Outcome(False, "the output differs only in its final newlines")
        want, got = expected.split("\n"), actual.split("\n")
    else:
        want, got = trim(expected), trim(actual)
        if want == got:
            return Outcome(True)
    for number, (w, g) in enumerate(zip(want, got, strict=False), start=1):
        if w != g:
            return Outcome(False, f"line {number}: expected {_cut(w)}, got {_cut(g)}")
    if len(got) < len(want):
        return Outcome(False, f"the output ends after {_count(got, 'line')}; expected {len(want)}")
    return Outcome(False, f"the output has {_count(got, 'line')}; expected {len(want)}")


def _numeric(expected: str, actual: str, abs_tol: float, rel_tol: float) -> Outcome:
    want, got = expected.split(), actual.split()
    for index, (w, g) in enumerate(zip(want, got, strict=False), start=1):
        w_number, g_number = _number(w), _number(g)
        if w_number is not None and g_number is not None:
            close = abs(g_number - w_number) <= max(abs_tol, rel_tol * abs(w_number))
            if not (close or (math.isinf(w_number) and g_number == w_number)):
                return Outcome(False, f"value {index}: expected {_cut(w)}, got {_cut(g)}")
        elif w != g:
            return Outcome(False, f"token {index}: expected {_cut(w)}, got {_cut(g)}")
    if len(want) != len(got):
        return Outcome(False, f"the output has {_count(got, 'value')}; expected {len(want)}")
    return Outcome(True)


def _number(token: str) -> float | None:
    try:
        return float(token)
    except ValueError:
        return None


def _cut(text: str) -> str:
    return repr(text if len(text) <= _SHOW else text[:_SHOW] + "…")


def _count(items: list[str], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"
