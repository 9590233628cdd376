"""The step timeline of a demo session: who was where, when, as records to store.

A record with ``user_id`` None is the room's own position (``started``, ``step``, ``paused``,
``resumed``, ``stopped``); a record with a user is that student's (``joined``, ``left``,
``detached``, ``followed``, ``completed``). Followers are wherever the room is; a detached
student stays on the step they detached from. ``positions`` replays records to answer
"where was everyone at time t", which is what a session review draws.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class TimelineKind(StrEnum):
    STARTED = "started"
    STEP = "step"
    PAUSED = "paused"
    RESUMED = "resumed"
    STOPPED = "stopped"
    JOINED = "joined"
    LEFT = "left"
    DETACHED = "detached"
    FOLLOWED = "followed"
    COMPLETED = "completed"


@dataclass(frozen=True)
class TimelineRecord:
    """One row of DemoTimelineEvent; ``at`` is the injected clock's time (epoch seconds)."""

    kind: TimelineKind
    step: int | None
    at: float
    user_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        return data


def positions(records: Iterable[TimelineRecord], at: float) -> dict[int, int]:
    """Each present student's step at time ``at`` (records in time order, ties as given)."""
    room: int | None = None
    present: set[int] = set()
    detached: dict[int, int] = {}
    for record in records:
        if record.at > at:
            break
        user = record.user_id
        if user is None:
            if record.kind in (TimelineKind.STARTED, TimelineKind.STEP):
                room = record.step
            elif record.kind is TimelineKind.STOPPED:
                room = None
                present.clear()
                detached.clear()
            continue
        if record.kind is TimelineKind.JOINED:
            present.add(user)
            detached.pop(user, None)
        elif record.kind is TimelineKind.LEFT:
            present.discard(user)
            detached.pop(user, None)
        elif record.kind is TimelineKind.DETACHED and record.step is not None:
            detached[user] = record.step
        elif record.kind is TimelineKind.FOLLOWED:
            detached.pop(user, None)
    if room is None:
        return {}
    return {user: detached.get(user, room) for user in sorted(present)}
