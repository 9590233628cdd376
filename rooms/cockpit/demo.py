"""A demo's analytics from its step timeline: how many students followed each step.

Rule: a student *followed* step k when, at some moment while the room was on step k, they
were present and not detached (a detached student stays on the step they left from, and
counts for that one only if they were following it before). Detachers per step and quiz
correctness are plain counts, done by SQL; following needs the timeline replayed, in order,
which is what this does (records as :func:`rooms.demos.timeline.positions` reads them).
"""

from __future__ import annotations

from collections.abc import Iterable

from rooms.demos.timeline import TimelineKind, TimelineRecord


def followers_per_step(records: Iterable[TimelineRecord]) -> dict[int, set[int]]:
    """Step → the students who followed it (records in time order)."""
    room: int | None = None
    present: set[int] = set()
    detached: set[int] = set()
    followed: dict[int, set[int]] = {}
    for record in records:
        user = record.user_id
        if user is None:
            if record.kind in (TimelineKind.STARTED, TimelineKind.STEP):
                room = record.step
            elif record.kind is TimelineKind.STOPPED:
                room = None
                present.clear()
                detached.clear()
        elif record.kind is TimelineKind.JOINED:
            present.add(user)
            detached.discard(user)
        elif record.kind is TimelineKind.LEFT:
            present.discard(user)
            detached.discard(user)
        elif record.kind is TimelineKind.DETACHED:
            detached.add(user)
        elif record.kind is TimelineKind.FOLLOWED:
            detached.discard(user)
        if room is not None:
            followed.setdefault(room, set()).update(present - detached)
    return followed
