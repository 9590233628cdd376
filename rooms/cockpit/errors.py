"""The last error of an attempt in one line, normalised so that the same mistake made by
thirty students reads the same.

Rule 1: the line shown is the most telling line of the first failed test's output: the last
line naming an error (``NameError: …``, ``main.c:3:5: error: …``, ``panicked at …``), else
the first line (the comparison's reason, ``line 1: expected 'ADA', got 'ada'``).
Rule 2: the *signature* strips what differs between students: paths and file positions,
quoted names and literals, numbers, and the "did you mean …" guesses built from their names.
Attempts with equal signatures form one cluster.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

MAX_LINE: Final = 200

_ERROR_LINE = re.compile(
    r"(\b[A-Z]\w*(Error|Exception|Exit)\b|\berror(\[E\d+\])?:|\bpanic(ked)?\b|\bAssertion\b"
    r"|\bSegmentation fault\b|\bfailed\b|\btimed? ?out\b|\bkilled\b)",
    re.IGNORECASE,
)
_NOISE = re.compile(r"^\s*(\^|~|\||-{3,}|at |File \"|Traceback|note:|\d+ \|)")
_PATH = re.compile(
    r"(?:[A-Za-z]:)?(?:[\w.\-]*/)+[\w.\-]+(?::\d+)*|\b[\w\-]+\.(?:py|js|ts|c|h|cpp|hpp|go|rs)(?::\d+)*\b"
)
_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`|\u2018[^\u2019\n]*\u2019")
_NUMBER = re.compile(r"\b0x[0-9a-fA-F]+\b|(?<![A-Za-z_])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
_SPACE = re.compile(r"\s+")
# Compilers and Python add a guess that depends on the student's names: not the mistake.
_SUGGESTION = re.compile(r"[.;,]?\s*did you mean\b.*$", re.IGNORECASE)


def error_line(output: str) -> str:
    """The one line of ``output`` that tells most (rule 1); empty for empty output."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines:
        return ""
    named = [line for line in lines if _ERROR_LINE.search(line) and not _NOISE.match(line)]
    chosen = named[-1] if named else lines[0]
    return chosen[:MAX_LINE]


def signature(line: str) -> str:
    """``line`` without paths, quoted names, numbers and "did you mean" guesses (rule 2)."""
    text = _SUGGESTION.sub("", line)
    text = _PATH.sub("<path>", text)
    text = _QUOTED.sub("<name>", text)
    text = _NUMBER.sub("<n>", text)
    return _SPACE.sub(" ", text).strip()[:MAX_LINE]


def first_failure(results: Mapping[str, Any] | None, error: str | None = None) -> tuple[str, str]:
    """(test name, error line) of an attempt: its first failed test, or the grading error
    when it could not be graded; ``("", "")`` when nothing failed."""
    if results is None:
        return ("", error_line(error or "")) if error else ("", "")
    for test in results.get("tests") or []:
        if isinstance(test, Mapping) and test.get("status") == "failed":
            return str(test.get("name", "")), error_line(str(test.get("output") or "failed"))
    return "", ""


def verdicts(results: Mapping[str, Any] | None, tests: Sequence[str]) -> dict[str, bool]:
    """Each exercise test's verdict in one attempt's results: a unit test's cases
    (``"{test}: {case}"``) fold into their test, which passes when all of them do."""
    out: dict[str, bool] = {}
    for row in (results or {}).get("tests") or []:
        name = row.get("name") if isinstance(row, Mapping) else None
        if not isinstance(name, str):
            continue
        test = owning_test(name, tests) or name
        out[test] = out.get(test, True) and row.get("status") == "passed"
    return out


def owning_test(result_name: str, tests: Iterable[str]) -> str | None:
    """The exercise test a result row belongs to (a unit case names its test first)."""
    for name in tests:
        if result_name == name or result_name.startswith(f"{name}: "):
            return name
    return None
