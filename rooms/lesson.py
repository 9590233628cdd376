"""The lesson controls of one room, sans I/O: spotlight, freeze, announcement, countdown, and
the pairs with their driver.

Feed :class:`LessonState` a command with the time (``now``, epoch seconds, given by the caller)
and send the ``(Audience, event)`` pairs it returns; :meth:`LessonState.lock` is what the
document permission check (:func:`rooms.documents.access`) needs; :meth:`LessonState.view` is
the room snapshot's ``lesson`` part, so a late joiner sees the current spotlight, freeze,
announcement and countdown. The state round-trips through :meth:`to_dict` / :meth:`from_dict`
(the server keeps it in memory or in Redis between commands).

Rules:

1. A spotlight shows one student's file, read-only and live, to the whole room; with
   ``show_name`` false nobody but the staff learns whose it is.
2. Freeze is read-only for every student (enforced by the document check, not by the page).
3. An announcement or a countdown replaces the previous one; empty text or 0 seconds ends it.
4. Pairs are replaced whole by a new pairing; each pairing has a new ``round``, so its group
   names (``r{round}g{n}``) never reuse an earlier pairing's files.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from rooms.documents import LessonLock
from rooms.events import ROOM_AUDIENCE, STAFF_AUDIENCE, Outgoing, only, staff_and
from rooms.pairing import Pair, rotate

MAX_ANNOUNCEMENT = 500
MAX_COUNTDOWN_SECONDS = 3 * 3600


@dataclass(frozen=True)
class Spotlight:
    user_id: int
    doc: str
    name: str
    show_name: bool = True

    def view(self, *, staff: bool) -> dict[str, Any]:
        shown = self.show_name or staff
        return {
            "user_id": self.user_id if shown else None,
            "name": self.name if shown else None,
            "doc": self.doc,
            "show_name": self.show_name,
        }


@dataclass(frozen=True)
class Timed:
    """An announcement (``text``) or a countdown (``seconds`` ending at ``until``)."""

    at: float
    text: str = ""
    seconds: int = 0
    until: float = 0.0


@dataclass
class LessonState:
    spotlight: Spotlight | None = None
    frozen: str | None = None  # the reason shown; "" = frozen without one
    frozen_at: float = 0.0
    announcement: Timed | None = None
    countdown: Timed | None = None
    pairs: list[Pair] = field(default_factory=list)
    round: int = 0
    rotate_every: int = 0  # seconds; 0 = no rotation timer
    rotate_at: float = 0.0

    # -- the permission check's view ---------------------------------------------------

    def lock(self) -> LessonLock:
        return LessonLock(
            frozen=self.frozen is not None, drivers={p.group: p.driver for p in self.pairs}
        )

    def view(self, now: float, *, staff: bool) -> dict[str, Any]:
        """The room snapshot's ``lesson`` part."""
        countdown = self.countdown
        if countdown is not None and countdown.until <= now:
            countdown = None
        return {
            "spotlight": self.spotlight.view(staff=staff) if self.spotlight else None,
            "freeze": (
                {"reason": self.frozen, "since": self.frozen_at}
                if self.frozen is not None
                else None
            ),
            "announcement": (
                {"text": self.announcement.text, "at": self.announcement.at}
                if self.announcement
                else None
            ),
            "countdown": _countdown(countdown, now) if countdown else None,
            "pairs": self.pairs_view(now, groups=staff),
        }

    def pairs_view(self, now: float, *, groups: bool = True) -> dict[str, Any]:
        """The pairing; ``groups`` (every group with its members) is for the staff."""
        return {
            "round": self.round,
            "groups": [p.to_dict() for p in self.pairs] if groups else None,
            "rotate_every": self.rotate_every,
            "rotate_in": max(0, round(self.rotate_at - now)) if self.rotate_every else None,
        }

    # -- commands --------------------------------------------------------------------

    def set_spotlight(self, spotlight: Spotlight | None) -> list[Outgoing]:
        self.spotlight = spotlight
        if spotlight is None:
            return [(ROOM_AUDIENCE, {"type": "lesson.spotlight", "spotlight": None})]
        staff_view = {"type": "lesson.spotlight", "spotlight": spotlight.view(staff=True)}
        if spotlight.show_name:
            return [(ROOM_AUDIENCE, staff_view)]
        everyone = {"type": "lesson.spotlight", "spotlight": spotlight.view(staff=False)}
        # Everyone gets the anonymous view; the staff (and the author) then the full one.
        return [
            (ROOM_AUDIENCE, everyone),
            (staff_and(spotlight.user_id), staff_view),
        ]

    def freeze(self, reason: str, now: float) -> list[Outgoing]:
        self.frozen, self.frozen_at = reason, now
        return [(ROOM_AUDIENCE, {"type": "lesson.frozen", "reason": reason, "since": now})]

    def unfreeze(self) -> list[Outgoing]:
        self.frozen = None
        return [(ROOM_AUDIENCE, {"type": "lesson.unfrozen"})]

    def announce(self, text: str, now: float) -> list[Outgoing]:
        text = text.strip()
        if len(text) > MAX_ANNOUNCEMENT:
            raise ValueError(f"an announcement is at most {MAX_ANNOUNCEMENT} characters")
        self.announcement = Timed(at=now, text=text) if text else None
        event = {"type": "lesson.announcement", "text": text or None, "at": now}
        return [(ROOM_AUDIENCE, event)]

    def start_countdown(self, seconds: int, now: float) -> list[Outgoing]:
        if not 0 <= seconds <= MAX_COUNTDOWN_SECONDS:
            raise ValueError(f"a countdown is 0 to {MAX_COUNTDOWN_SECONDS} seconds")
        self.countdown = Timed(at=now, seconds=seconds, until=now + seconds) if seconds else None
        view = _countdown(self.countdown, now) if self.countdown else None
        return [(ROOM_AUDIENCE, {"type": "lesson.countdown", "countdown": view})]

    def set_pairs(self, pairs: list[Pair], now: float, rotate_every: int) -> list[Outgoing]:
        self.round += 1
        self.pairs = pairs
        self.rotate_every = rotate_every
        self.rotate_at = now + rotate_every if rotate_every else 0.0
        return self._pairs_events(now)

    def regroup(self, pairs: list[Pair], now: float) -> list[Outgoing]:
        """Groups changed within this pairing (students re-paired after a partner left)."""
        self.pairs = pairs
        return self._pairs_events(now)

    def rotate(self, now: float) -> list[Outgoing]:
        """Each pair's next member drives; the rotation timer starts over."""
        self.pairs = [rotate(p) for p in self.pairs]
        if self.rotate_every:
            self.rotate_at = now + self.rotate_every
        return self._pairs_events(now)

    def rotation_due(self, now: float) -> bool:
        return bool(self.rotate_every and self.pairs and self.rotate_at <= now)

    def _pairs_events(self, now: float) -> list[Outgoing]:
        out: list[Outgoing] = [
            (STAFF_AUDIENCE, {"type": "pairs.updated", **self.pairs_view(now)}),
        ]
        for pair in self.pairs:
            mine = {"type": "pairs.yours", "round": self.round, **pair.to_dict()}
            if self.rotate_every:
                mine["rotate_in"] = max(0, round(self.rotate_at - now))
            out.append((only(*pair.members), mine))
        return out

    # -- storage ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "spotlight": self.spotlight.__dict__ if self.spotlight else None,
            "frozen": self.frozen,
            "frozen_at": self.frozen_at,
            "announcement": self.announcement.__dict__ if self.announcement else None,
            "countdown": self.countdown.__dict__ if self.countdown else None,
            "pairs": [p.to_dict() for p in self.pairs],
            "round": self.round,
            "rotate_every": self.rotate_every,
            "rotate_at": self.rotate_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LessonState:
        """Raises KeyError, TypeError or ValueError for state this code cannot read."""
        spot, ann, cd = data["spotlight"], data["announcement"], data["countdown"]
        return cls(
            spotlight=Spotlight(**spot) if spot else None,
            frozen=data["frozen"],
            frozen_at=float(data["frozen_at"]),
            announcement=Timed(**ann) if ann else None,
            countdown=Timed(**cd) if cd else None,
            pairs=[Pair.from_dict(p) for p in data["pairs"]],
            round=int(data["round"]),
            rotate_every=int(data["rotate_every"]),
            rotate_at=float(data["rotate_at"]),
        )

    def copy(self) -> LessonState:
        return replace(self, pairs=list(self.pairs))


def _countdown(countdown: Timed, now: float) -> dict[str, Any]:
    return {
        "seconds": countdown.seconds,
        "ends_at": countdown.until,
        "seconds_left": max(0, round(countdown.until - now)),
    }
