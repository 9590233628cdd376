from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rooms.progress import Graded, apply
from rooms.streaks import Streak, record
from rooms.xp import LiveWindow, Reason, XpRules, awards, total

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
WINDOW = LiveWindow(T0, timedelta(minutes=10))
RULES = XpRules()


def first_pass(at: datetime, score: float = 8.0):  # type: ignore[no-untyped-def]
    return apply(None, Graded(1, "ex-7", score, 10.0, True, at))


@pytest.mark.parametrize(
    ("elapsed", "points"),
    [(0, 100), (timedelta(minutes=5), 75), (timedelta(minutes=10), 50), (timedelta(hours=1), 50)],
)
def test_kahoot_speed_points(elapsed: timedelta | int, points: int) -> None:
    at = T0 + (elapsed if isinstance(elapsed, timedelta) else timedelta(0))
    assert RULES.first_pass_points(at, WINDOW) == points


def test_earlier_solutions_score_more() -> None:
    scores = [RULES.first_pass_points(T0 + timedelta(seconds=s), WINDOW) for s in range(0, 601, 60)]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > scores[-1]


def test_before_opening_counts_as_the_opening_and_homework_gets_full_points() -> None:
    assert RULES.first_pass_points(T0 - timedelta(seconds=5), WINDOW) == 100
    assert RULES.first_pass_points(T0 + timedelta(days=3), None) == 100


def test_live_first_pass_earns_speed_and_rank() -> None:
    at = T0 + timedelta(minutes=2)
    got = awards(RULES, first_pass(at), at=at, window=WINDOW, solver_rank=2)
    assert [(a.reason, a.amount) for a in got] == [(Reason.FIRST_PASS, 90), (Reason.RANK, 30)]
    assert got[1].detail == "rank 2"


def test_rank_bonus_only_inside_the_window_and_top_three() -> None:
    late = T0 + timedelta(minutes=11)
    got = awards(RULES, first_pass(late), at=late, window=WINDOW, solver_rank=1)
    assert [a.reason for a in got] == [Reason.FIRST_PASS]
    at = T0 + timedelta(minutes=1)
    fourth = awards(RULES, first_pass(at), at=at, window=WINDOW, solver_rank=4)
    assert [a.reason for a in fourth] == [Reason.FIRST_PASS]


def test_second_pass_earns_nothing_but_a_first_perfect_does() -> None:
    p = first_pass(T0).progress
    again = apply(p, Graded(1, "ex-7", 8.0, 10.0, True, T0 + timedelta(minutes=1)))
    assert awards(RULES, again, at=T0, window=WINDOW, solver_rank=1) == []
    perfect = apply(p, Graded(1, "ex-7", 10.0, 10.0, True, T0 + timedelta(minutes=2)))
    assert [(a.reason, a.amount) for a in awards(RULES, perfect, at=T0)] == [(Reason.PERFECT, 25)]


def test_failed_attempt_earns_nothing() -> None:
    change = apply(None, Graded(1, "ex-7", 3.0, 10.0, False, T0))
    assert awards(RULES, change, at=T0, window=WINDOW, solver_rank=1) == []


def test_streak_bonus_grows_and_is_capped() -> None:
    change = apply(None, Graded(1, "ex-7", 3.0, 10.0, False, T0))
    s = Streak()
    amounts = []
    for d in range(8):
        step = record(s, T0.date() + timedelta(days=d))
        s = step.streak
        amounts.append(total(awards(RULES, change, at=T0, streak=step)))
    assert amounts == [0, 10, 20, 30, 40, 50, 50, 50]
    same_day = record(s, s.last_day)  # type: ignore[arg-type]
    assert awards(RULES, change, at=T0, streak=same_day) == []


def test_rules_and_windows_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="speed_weight"):
        XpRules(speed_weight=1.5)
    with pytest.raises(ValueError, match=">= 0"):
        XpRules(rank_bonus=(10, -1))
    with pytest.raises(ValueError, match="more than 0s"):
        LiveWindow(T0, timedelta(0))
    with pytest.raises(ValueError, match="timezone-aware"):
        LiveWindow(datetime(2026, 1, 1), timedelta(minutes=1))
