"""Hints unlocked one by one, explanations after a pass or the due date, pushes."""

from __future__ import annotations

import pytest

from rooms.cockpit.exceptions import NoHintLeft, UnknownTest
from rooms.cockpit.hints import (
    HintSet,
    first_with_hint_left,
    next_hint,
    pushed,
    student_view,
    unlocked_count,
)
from rooms.events import only

TESTS = [
    HintSet("adds", ("read two numbers", "use int()", "print the sum"), "a + b"),
    HintSet("empty", (), "nothing to add"),
    HintSet("late", ("secret hint",), "late explanation", after_due=True),
]


def view(**kw: object) -> dict[str, dict[str, object]]:
    args: dict[str, object] = {
        "failures": {},
        "granted": {},
        "passed": set(),
        "after_due": False,
        "hint_after": 2,
        "hint_cost": 5,
    }
    args.update(kw)
    return {t["test"]: t for t in student_view(TESTS, **args)}  # type: ignore[arg-type]


def test_hints_unlock_one_per_threshold_of_failures_plus_grants() -> None:
    adds = TESTS[0]
    assert [unlocked_count(adds, f, 0, 2) for f in range(7)] == [0, 0, 1, 1, 2, 2, 3]
    assert unlocked_count(adds, 1, 1, 2) == 1
    assert unlocked_count(adds, 9, 9, 2) == 3
    assert view()["adds"]["hints"] == [] and view()["adds"]["locked"] == 3
    seen = view(failures={"adds": 3}, granted={"adds": 1})["adds"]
    # Nothing past the unlocked count leaves: the third hint's text is not in the view.
    assert seen["hints"] == ["read two numbers", "use int()"] and seen["locked"] == 1
    assert "print the sum" not in str(seen)


def test_explanations_after_a_pass_or_the_due_date_and_after_due_tests_hidden() -> None:
    before = view()
    assert before["adds"]["explanation"] is None
    assert "late" not in before and "secret hint" not in str(before)
    assert view(passed={"adds"})["adds"]["explanation"] == "a + b"
    after = view(after_due=True)
    assert after["adds"]["explanation"] == "a + b"
    assert after["late"]["explanation"] == "late explanation"


def test_next_hint_and_refusals() -> None:
    assert next_hint(TESTS, "adds", 0, 0, 2) == (0, "read two numbers")
    assert next_hint(TESTS, "adds", 2, 1, 2) == (2, "print the sum")
    with pytest.raises(NoHintLeft):
        next_hint(TESTS, "adds", 6, 0, 2)
    with pytest.raises(NoHintLeft):
        next_hint(TESTS, "empty", 0, 0, 2)
    with pytest.raises(UnknownTest):
        next_hint(TESTS, "nope", 0, 0, 2)


def test_pushed_hint_goes_to_the_failing_test_then_any() -> None:
    assert first_with_hint_left(TESTS, ["empty", "adds"], {}, {}, 2) == "adds"
    assert first_with_hint_left(TESTS, [], {}, {}, 2) == "adds"
    assert first_with_hint_left(TESTS, [], {"adds": 6}, {}, 2) == "late"
    with pytest.raises(NoHintLeft):
        first_with_hint_left(TESTS[:2], [], {"adds": 6}, {}, 2)
    out = pushed(
        [3, 4, 3], exercise_id="ex", test="adds", hint="h", index=0, message="m", sender="Ada"
    )
    assert [a for a, _ in out] == [only(3), only(4)]
    assert out[0][1] == {
        "type": "hint.pushed",
        "exercise_id": "ex",
        "test": "adds",
        "index": 0,
        "hint": "h",
        "message": "m",
        "from": "Ada",
    }
