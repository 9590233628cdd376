"""server/security/floods.py on a fake clock: a socket's budget, and the wait after a flood."""

from __future__ import annotations

from server.security.floods import BURST_SECONDS, Floods, SocketBudget


def test_a_budget_takes_five_seconds_worth_at_once_then_its_rate() -> None:
    now = [0.0]
    budget = SocketBudget(10, clock=lambda: now[0])
    assert sum(budget.take() for _ in range(100)) == 10 * BURST_SECONDS
    now[0] = 0.5
    assert [budget.take() for _ in range(6)] == [True] * 5 + [False]
    assert budget.refusal("frames") == "too many frames: at most 10 a second"


def test_a_rate_of_zero_is_no_limit() -> None:
    budget = SocketBudget(0, clock=lambda: 0.0)
    assert all(budget.take() for _ in range(100_000))


def test_a_flooder_waits_and_then_may_open_sockets_again() -> None:
    now = [100.0]
    floods = Floods(1000, 100, penalty=10.0, clock=lambda: now[0])
    assert floods.waiting(7) is None
    floods.flooded(7)
    now[0] = 104.0
    assert floods.waiting(7) == 6.0 and floods.waiting(8) is None
    assert floods.refusal(6.0) == "sent too fast before: wait 6 s"
    now[0] = 110.0
    assert floods.waiting(7) is None
    # Those whose wait is over are forgotten when the next flood is recorded.
    floods.flooded(7)
    now[0] = 200.0
    floods.flooded(8)
    assert floods.waiting(7) is None and floods.waiting(8) == 10.0
    docs, events = floods.budget("docs"), floods.budget("events")
    assert sum(docs.take() for _ in range(10_000)) == 5000
    assert sum(events.take() for _ in range(10_000)) == 500
