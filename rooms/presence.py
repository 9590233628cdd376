"""What a document's awareness relay remembers: the frames it sent (rooms/sync.py rule 6) and
the renewals it holds back (rule 8).

Both are small and bounded: at most :data:`ECHO_MEMORY` frames of at most
:data:`ECHO_MAX_BYTES` each, and at most one held entry per awareness client of the document.
"""

from __future__ import annotations

from collections.abc import Iterable

from rooms.awareness import AwarenessEntry, encode_awareness
from rooms.frames import awareness_frame

# Awareness frames a document remembers sending, and the largest (rule 6).
ECHO_MEMORY = 16
ECHO_MAX_BYTES = 4096
# The longest a renewal waits to go out with the others (rule 8), in seconds.
RENEWAL_HOLD = 5.0
# A hold ends early once its renewals times the connections that get them reach this (rule 8):
# every client gets them in one frame and a stock provider sends them all back, so a flush
# puts at most about this many states before the room's clients at one moment. 8 to each of
# a room of 20; a room of 81 or more passes each renewal on at the next turn of the loop.
RENEWAL_SENDS = 160


def accepted_frame(
    frame: bytes, entries: list[AwarenessEntry], accepted: list[AwarenessEntry]
) -> bytes | None:
    """The awareness frame to pass on: only what the table accepted.

    y-websocket 1.5.4 providers re-send every awareness update they apply, remote ones
    included; forwarding those echoes (same clock, rejected) made one renewal in a room of
    n cost (n-1)**2 frames. The reference server stops them the same way."""
    if not accepted:
        return None
    if len(accepted) == len(entries):
        return frame
    return awareness_frame(encode_awareness(accepted))


class EchoMemory:
    """The last awareness frames sent, oldest first, to know their echoes by their bytes."""

    __slots__ = ("_frames",)

    def __init__(self) -> None:
        self._frames: dict[bytes, None] = {}

    def __contains__(self, frame: bytes) -> bool:
        return frame in self._frames

    def remember(self, frame: bytes | None) -> bytes:
        """Remember ``frame`` (one we send) and return it."""
        assert frame is not None
        if len(frame) > ECHO_MAX_BYTES:  # a big room's greeting: the table's check is enough
            return frame
        frames = self._frames
        frames[frame] = None
        if len(frames) > ECHO_MEMORY:
            del frames[next(iter(frames))]
        return frame


def renewal_batch(recipients: int) -> int:
    """How many renewals a hold may gather for a frame that goes to ``recipients``."""
    return max(1, RENEWAL_SENDS // max(recipients, 1))


class RenewalHold:
    """Renewals waiting to go out together: the newest per client, due ``hold`` seconds
    (:data:`RENEWAL_HOLD` unless told) after the first of them, or at once when there are
    :func:`renewal_batch` of them for the room's size."""

    __slots__ = ("_held", "due", "hold")

    def __init__(self, hold: float = RENEWAL_HOLD) -> None:
        self.hold = hold
        self._held: dict[int, AwarenessEntry] = {}
        self.due: float | None = None

    def add(self, entries: Iterable[AwarenessEntry], now: float, recipients: int) -> float:
        """Hold ``entries``, which go to ``recipients`` connections; return when they are due."""
        self._held.update((entry.client_id, entry) for entry in entries)
        if self.due is None:
            self.due = now + self.hold
        if len(self._held) >= renewal_batch(recipients):
            self.due = min(self.due, now)
        return self.due

    def drop(self, client_ids: Iterable[int]) -> None:
        """Forget what is held for these clients (something newer went out, or they left)."""
        for client_id in client_ids:
            self._held.pop(client_id, None)

    def take_due(self, now: float) -> list[AwarenessEntry]:
        """Everything held, once it is due (then the hold starts afresh); else nothing."""
        if self.due is None or now < self.due:
            return []
        self.due = None
        held = list(self._held.values())
        self._held.clear()
        return held
