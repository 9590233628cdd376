"""The class grid's cells: state from the stored facts, the stuck rule, stuck-first order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rooms.cockpit.cells import CellState, Facts, StuckRule, cell, stuck_first

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
RULE = StuckRule(attempts=3, minutes=10)


def facts(**kw: object) -> Facts:
    base: dict[str, object] = {"user_id": 1, "exercise_id": "ex"}
    base.update(kw)
    return Facts(**base)  # type: ignore[arg-type]


def test_states_from_facts() -> None:
    assert cell(facts(), RULE, NOW).state is CellState.NOT_STARTED
    assert cell(facts(last_edit_at=NOW), RULE, NOW).state is CellState.WORKING
    assert cell(facts(grading=True), RULE, NOW).state is CellState.WORKING
    failing = cell(facts(attempts=1, last_attempt_at=NOW, last_error="E"), RULE, NOW)
    assert (failing.state, failing.last_error, failing.stuck) == (CellState.FAILING, "E", False)
    passed = cell(
        facts(attempts=2, passed=True, best_score=3, max_score=3, last_error="old"), RULE, NOW
    )
    assert (passed.state, passed.last_error, passed.stuck) == (CellState.PASSED, None, False)


def test_stuck_after_failed_attempts_or_idle_minutes() -> None:
    recent = NOW - timedelta(minutes=1)
    assert cell(facts(attempts=3, last_attempt_at=recent), RULE, NOW).stuck
    assert not cell(facts(attempts=2, last_attempt_at=recent), RULE, NOW).stuck
    idle = NOW - timedelta(minutes=10)
    assert cell(facts(attempts=1, last_attempt_at=idle), RULE, NOW).stuck
    assert cell(facts(last_edit_at=idle), RULE, NOW).stuck
    # A recent edit is progress: the idle clock starts again.
    assert not cell(facts(attempts=1, last_attempt_at=idle, last_edit_at=recent), RULE, NOW).stuck
    # Passed, not started, or being graded: never stuck.
    assert not cell(facts(attempts=9, passed=True, last_attempt_at=idle), RULE, NOW).stuck
    assert not cell(facts(), RULE, NOW).stuck
    assert not cell(facts(attempts=5, grading=True, last_attempt_at=idle), RULE, NOW).stuck


def test_stuck_first_longest_on_top() -> None:
    cells = [
        cell(facts(user_id=1), RULE, NOW),
        cell(facts(user_id=2, attempts=4, last_attempt_at=NOW - timedelta(minutes=2)), RULE, NOW),
        cell(facts(user_id=3, attempts=1, last_attempt_at=NOW), RULE, NOW),
        cell(facts(user_id=4, attempts=1, last_attempt_at=NOW - timedelta(hours=1)), RULE, NOW),
        cell(
            facts(user_id=2, exercise_id="b", attempts=5, last_attempt_at=NOW - timedelta(hours=2)),
            RULE,
            NOW,
        ),
    ]
    ordered = stuck_first(c.to_dict() for c in cells)
    assert [(c["user_id"], c["exercise_id"]) for c in ordered] == [
        (2, "b"),
        (4, "ex"),
        (2, "ex"),
        (1, "ex"),
        (3, "ex"),
    ]


def test_cell_json_and_rule_bounds() -> None:
    data = cell(
        facts(attempts=1, last_attempt_at=NOW, best_score=1.5, max_score=3), RULE, NOW
    ).to_dict()
    assert data == {
        "user_id": 1,
        "exercise_id": "ex",
        "state": "failing",
        "attempts": 1,
        "best_score": 1.5,
        "max_score": 3,
        "last_error": None,
        "last_change_at": NOW.isoformat(),
        "stuck": False,
    }
    with pytest.raises(ValueError):
        StuckRule(attempts=0)
