"""What one event on a document's connections asks of the caller, and what each connection is.

Shared by :mod:`rooms.sync` (the document) and :mod:`rooms.sync_awareness` (its presence).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rooms.awareness import AwarenessEntry, Budget
from rooms.pieces import Pieces


class Output:
    """What the caller must do after one event, in this order.

    A broadcast given to an output that has nothing else to send is kept as one entry, its
    recipients (a snapshot) and frame, until :attr:`sends` is read: a caller that sends to a
    whole document at once reads :attr:`group` instead, with no pair made per recipient
    (server/documents/loaded.py: in a room of 100 that was 7 µs of an update's path)."""

    __slots__ = ("_group", "_sends", "awareness_due", "later", "persist", "publish", "units")

    def __init__(self) -> None:
        self._sends: list[tuple[int, bytes]] = []
        self._group: tuple[tuple[int, ...], bytes, int | None] | None = None
        self.persist: list[bytes] = []  # Yjs updates, oldest first
        self.publish: list[bytes] = []  # frames for the other processes
        self.awareness_due: float | None = None  # call flush_awareness() at this clock time
        # rooms/sync.py rule 13: to receive from the same connection next
        self.later: Pieces | None = None
        self.units = 0  # the structs and deleted ranges of the update applied, if one was

    @property
    def sends(self) -> list[tuple[int, bytes]]:
        """Each (connection, frame) to send, in order."""
        group = self._group
        if group is not None:
            self._group = None
            recipients, frame, but = group
            self._sends.extend((conn, frame) for conn in recipients if conn != but)
        return self._sends

    @property
    def group(self) -> tuple[tuple[int, ...], bytes, int | None] | None:
        """What this output sends, when it is one broadcast: its recipients, its frame and the
        one of them it leaves out (or None); else None, and :attr:`sends` says."""
        return self._group

    def broadcast(self, recipients: Iterable[int], frame: bytes, but: int | None = None) -> None:
        """Send ``frame`` to each of ``recipients`` (as they are now) but ``but``."""
        if self._group is None and not self._sends:
            self._group = (tuple(recipients), frame, but)
        else:
            self.sends.extend((conn, frame) for conn in recipients if conn != but)


@dataclass
class Connection:
    """One connection to a document, as the document and its presence see it."""

    writable: bool
    user: int | None = None  # who is behind it: one user's tabs may hand an id over
    name: str | None = None  # their name, which their cursors carry (rooms/sync.py rule 11)
    client_ids: set[int] = field(default_factory=set)
    denied: bool = False
    budget: Budget | None = None
    pending: dict[int, AwarenessEntry] = field(default_factory=dict)  # coalesced, not yet sent
    requests: Budget | None = None  # rooms/sync.py rule 10
