"""How fast one socket may send: a backstop against a client that floods the server.

Design note. Every frame costs the event loop something before anything can refuse it, and
the loop is every room's. Measured on a 2-core machine, one student's socket sending as fast
as it could (nothing else changed):

- ``demo.detach`` / ``demo.follow`` on the room events socket, 67,000 a second: another
  student's ping took 1.1 s (p50) instead of 0.6 ms, for as long as it lasted;
- ``ping``, 63,000 a second: 290 ms;
- 4-byte step1s on a 50 KB demo, each answered with the whole document: the process froze for
  over a minute (a document socket's frames are handed to the document from uvicorn's data
  callback, server/documents/direct.py rule 4, a whole TCP read of them at once).

What a person does with a page is far below any of this: keystrokes, cursor moves, a click.
So each socket has a :class:`SocketBudget`, ``rate`` frames a second with five seconds' worth
at once (a paste, a reconnect's catch-up, a test's loop), and a socket past it is closed
with 1008; a stock client reconnects and resyncs. ``rate`` 0 turns the check off. What a
frame costs inside its budget is bounded where it is handled: awareness is coalesced and
whole-state requests have their own budget (rooms/sync.py rules 7 and 10), updates count
against the document's quota, runs and submissions against theirs.

A flooder reconnects and floods again: every socket they open costs a handshake, the session
check and a snapshot or a document's state before the budget can close it (the flood of
``demo.detach`` again, reconnecting: 96 sockets in 10 s, another student's ping 21 ms at p50,
125 at p99). So a user whose socket was closed for a flood waits :data:`PENALTY_SECONDS`
before this process opens another socket of theirs (:meth:`Floods.waiting`, checked right
after the session, before anything is read for the socket): their reconnections cost a
session check each, and nobody else anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rooms.awareness import Budget

BURST_SECONDS = 5
PENALTY_SECONDS = 10.0


class SocketBudget:
    """What one socket may still send: ``rate`` frames a second, :data:`BURST_SECONDS` of
    them at once."""

    def __init__(self, rate: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._budget = Budget(rate, rate * BURST_SECONDS, clock()) if rate > 0 else None

    def take(self) -> bool:
        """Whether one more frame is within the budget."""
        return self._budget is None or self._budget.take(self._clock())

    def refusal(self, what: str) -> str:
        """The close reason for a socket past its budget."""
        return f"too many {what}: at most {self.rate} a second"


class Floods:
    """The socket budgets of this process and who waits after a flood."""

    def __init__(
        self,
        doc_frames: int,
        event_messages: int,
        *,
        penalty: float = PENALTY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rates = {"docs": doc_frames, "events": event_messages}
        self.penalty = penalty
        self._clock = clock
        self._until: dict[int, float] = {}  # user id -> when they may open sockets again

    def budget(self, endpoint: str) -> SocketBudget:
        """A new socket's budget (``endpoint`` is ``docs`` or ``events``)."""
        return SocketBudget(self._rates[endpoint], self._clock)

    def flooded(self, user_id: int, at_least: float = 0.0) -> None:
        """``user_id``'s socket was closed for a flood: they wait before the next, the penalty
        or ``at_least`` seconds, whichever is longer."""
        now = self._clock()
        self._until = {u: t for u, t in self._until.items() if t > now}  # forget the past
        self._until[user_id] = now + max(self.penalty, at_least)

    def waiting(self, user_id: int) -> float | None:
        """Seconds ``user_id`` still waits before a socket of theirs is opened, or None."""
        until = self._until.get(user_id)
        if until is None:
            return None
        left = until - self._clock()
        if left <= 0:
            del self._until[user_id]
            return None
        return left

    def refusal(self, left: float) -> str:
        """The close reason for a socket opened while its user waits."""
        return f"sent too fast before: wait {left:.0f} s"


# A user's document frames may take this many seconds of their share of the loop at once.
WORK_BURST_SECONDS = 5


class WorkBudgets:
    """How much of the event loop one user's document frames may take on this process: ``ms``
    milliseconds a second, :data:`WORK_BURST_SECONDS` of that at once (0.5 s at the default).

    A frame budget counts frames, and some frames cost far more than others: an update of
    350 KB that the document already holds took about 100 ms to read and apply (rooms/
    update_check.py reads every item first), so a script sending it again and again, a few
    a second, well within 1,000 frames a second, kept the loop of every room on the process
    busy. What a person does costs far less: a typed character about 30 µs, pasting a
    large file or reconnecting to one some tens of milliseconds, once. So the time each
    frame took is charged to its user (all their document sockets on this process), and
    a socket whose user is past the budget is closed with 1008 like a flood: their next
    sockets wait :data:`PENALTY_SECONDS`, or until the budget has refilled what they took
    beyond it (a frame can only be measured after it ran: one that took 2 s leaves 1.5 s to
    repay, 15 s at the default rate). ``ms`` 0 turns the check off."""

    def __init__(self, ms: int, clock: Callable[[], float] = time.perf_counter) -> None:
        self.rate = ms / 1000
        self.burst = self.rate * WORK_BURST_SECONDS
        self._clock = clock
        self._left: dict[int, tuple[float, float]] = {}  # user -> (seconds left, when)

    def charge(self, user_id: int, seconds: float) -> bool:
        """Charge ``seconds`` of the loop to ``user_id``; whether they are still within."""
        if self.rate <= 0:
            return True
        now = self._clock()
        left, stamp = self._left.get(user_id) or (self.burst, now)
        left = min(self.burst, left + (now - stamp) * self.rate) - seconds
        if len(self._left) >= 10_000:  # forget the users whose budget is whole again
            rate, burst = self.rate, self.burst
            self._left = {u: e for u, e in self._left.items() if e[0] + (now - e[1]) * rate < burst}
        self._left[user_id] = (left, now)
        return left >= 0

    def debt(self, user_id: int) -> float:
        """Seconds until ``user_id`` is within the budget again (0 if they are)."""
        entry = self._left.get(user_id)
        if entry is None or self.rate <= 0:
            return 0.0
        left, stamp = entry
        return max(0.0, -(left + (self._clock() - stamp) * self.rate) / self.rate)

    def refusal(self) -> str:
        return f"too much work: at most {self.rate * 1000:.0f} ms of the server a second"


# An API user's burst, in seconds of their rate: a dashboard loading every panel, a tool's loop.
REQUEST_BURST_SECONDS = 10


class RequestBudgets:
    """How many API requests a second one user may make on this process: ``rate``, and
    :data:`REQUEST_BURST_SECONDS` of them at once.

    A page makes a request or two a second; a script makes as many as the server answers, and
    some answers cost: the most expensive a student may ask for (a progress page) took 7.1 ms,
    so 140 a second filled a core. The balancer in deploy/ holds each session to 20 a second;
    a process serving alone (``python -m server``) had nothing. Checked after the session
    (:func:`server.api.base.verified_caller`), so the key is a user the token proved, never a
    claim an attacker could make to spend someone else's budget. Per process: N processes
    behind a balancer give a user N budgets, and the balancer's own limit is the one that
    counts there. ``rate`` 0 turns the check off."""

    def __init__(self, rate: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._budgets: dict[int, Budget] = {}

    def take(self, user_id: int) -> float | None:
        """None when ``user_id`` may make one more request now, else the seconds to wait."""
        if self.rate <= 0:
            return None
        now = self._clock()
        budget = self._budgets.get(user_id)
        if budget is None:
            if len(self._budgets) >= 10_000:  # forget the users whose budget is whole again
                whole = now - REQUEST_BURST_SECONDS
                self._budgets = {u: b for u, b in self._budgets.items() if b.stamp > whole}
            burst = self.rate * REQUEST_BURST_SECONDS
            budget = self._budgets[user_id] = Budget(self.rate, burst, now)
        if budget.take(now):
            return None
        return budget.due() - now

    def refusal(self) -> str:
        return f"too many requests: at most {self.rate} a second"
