"""What one event on a document's connections asks of the caller, and what each connection is.

Shared by :mod:`rooms.sync` (the document) and :mod:`rooms.sync_awareness` (its presence).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import repeat

from rooms.awareness import AwarenessEntry, Budget
from rooms.pieces import Pieces


@dataclass
class Output:
    """What the caller must do after one event, in this order."""

    sends: list[tuple[int, bytes]] = field(default_factory=list)
    persist: list[bytes] = field(default_factory=list)  # Yjs updates, oldest first
    publish: list[bytes] = field(default_factory=list)  # frames for the other processes
    awareness_due: float | None = None  # call flush_awareness() at this clock time
    later: Pieces | None = None  # rooms/sync.py rule 13: to receive from the same connection next
    units: int = 0  # the structs and deleted ranges of the update applied, if one was

    def broadcast(self, recipients: Iterable[int], frame: bytes) -> None:
        self.sends.extend(zip(recipients, repeat(frame)))


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
