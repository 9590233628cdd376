"""Hints and explanations of an exercise's tests, as one student may see them.

Rule 1: a test's hints unlock in order. Automatically, one per ``hint_after`` graded attempts
in which that test failed; beyond that, one more per hint the student bought (at the
exercise's ``hint_cost`` in XP) or the staff pushed. Nothing past the unlocked count ever
leaves the server for a student.
Rule 2: a test's explanation shows once the student passed that test, or after the due date.
Rule 3: ``after_due`` tests say nothing before the due date, not even that they have hints.
A unit test's cases are reported as ``"{test}: {case}"``; they count towards their test.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rooms.cockpit.exceptions import NoHintLeft, UnknownTest
from rooms.events import Outgoing, only


@dataclass(frozen=True)
class HintSet:
    name: str
    hints: tuple[str, ...] = ()
    explanation: str = ""
    after_due: bool = False


def unlocked_count(help: HintSet, failures: int, granted: int, hint_after: int) -> int:
    """How many of ``help``'s hints are unlocked (rule 1)."""
    automatic = failures // hint_after if hint_after > 0 else 0
    return min(len(help.hints), automatic + granted)


def find(tests: Sequence[HintSet], name: str) -> HintSet:
    for help in tests:
        if help.name == name:
            return help
    raise UnknownTest(f"the exercise has no test named {name!r}")


def next_hint(
    tests: Sequence[HintSet], name: str, failures: int, granted: int, hint_after: int
) -> tuple[int, str]:
    """(index, text) of the next locked hint of test ``name``; raises NoHintLeft."""
    help = find(tests, name)
    index = unlocked_count(help, failures, granted, hint_after)
    if index >= len(help.hints):
        raise NoHintLeft(f"every hint of {name!r} is already unlocked")
    return index, help.hints[index]


def first_with_hint_left(
    tests: Sequence[HintSet],
    failing: Sequence[str],
    failures: Mapping[str, int],
    granted: Mapping[str, int],
    hint_after: int,
) -> str:
    """The test a pushed hint is about when the staff names none: the first failing test
    with a hint left, else the first test with one. Raises NoHintLeft."""
    order = [*failing, *(t.name for t in tests)]
    for name in order:
        try:
            help = find(tests, name)
        except UnknownTest:
            continue
        if unlocked_count(help, failures.get(name, 0), granted.get(name, 0), hint_after) < len(
            help.hints
        ):
            return name
    raise NoHintLeft("no test of this exercise has a hint left to unlock")


def student_view(
    tests: Sequence[HintSet],
    *,
    failures: Mapping[str, int],
    granted: Mapping[str, int],
    passed: Collection[str],
    after_due: bool,
    hint_after: int,
    hint_cost: int,
) -> list[dict[str, Any]]:
    """What one student sees of the hints and explanations (rules 1 to 3)."""
    out = []
    for help in tests:
        if help.after_due and not after_due:
            continue
        count = unlocked_count(
            help, failures.get(help.name, 0), granted.get(help.name, 0), hint_after
        )
        show_explanation = bool(help.explanation) and (help.name in passed or after_due)
        out.append(
            {
                "test": help.name,
                "hints": list(help.hints[:count]),
                "locked": len(help.hints) - count,
                "hint_cost": hint_cost,
                "explanation": help.explanation if show_explanation else None,
            }
        )
    return out


def pushed(
    users: Iterable[int],
    *,
    exercise_id: str,
    test: str | None,
    hint: str | None,
    index: int | None,
    message: str | None,
    sender: str,
) -> list[Outgoing]:
    """``hint.pushed`` to each of ``users``: a hint (``test``, ``index``, ``hint``) and/or a
    written ``message`` from the staff member ``sender``."""
    event = {
        "type": "hint.pushed",
        "exercise_id": exercise_id,
        "test": test,
        "index": index,
        "hint": hint,
        "message": message,
        "from": sender,
    }
    return [(only(user), event) for user in dict.fromkeys(users)]
