"""Storage quotas: how many documents a user and a room may have, and how big one may grow.

Rule 1: opening a document that does not exist yet counts it: past ``max_docs_per_room``
documents in the room, or ``max_docs_per_user`` documents of its owner (``students/{user}/…``,
or a pair group's ``pairs/{group}/…``), it is refused (close 1008 with the reason) before
anything is stored. Existing documents always open.
Rule 2: a document takes updates until it holds ``max_doc_bytes`` (its encoded state, measured
when the running count of received bytes passes the limit, so the cost is paid rarely); an
update past it closes the writer's socket with 1008 and is not applied. What is stored stays.
A user's stored bytes are therefore bounded by ``max_docs_per_user * max_doc_bytes``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rooms.documents import DocKind, DocumentName


class QuotaExceeded(Exception):
    """A document quota refuses this; the message is the close reason."""


@dataclass(frozen=True)
class DocumentQuota:
    max_docs_per_user: int = 50
    max_docs_per_room: int = 5000
    max_doc_bytes: int = 1 << 20

    def check_new(self, name: DocumentName, existing: Iterable[str]) -> None:
        """Rule 1, given the names of the room's stored and loaded documents."""
        names = set(existing)
        if str(name) in names or name.kind is DocKind.DEMO:
            return
        if self.max_docs_per_room and len(names) >= self.max_docs_per_room:
            raise QuotaExceeded(f"this room has {self.max_docs_per_room} documents already")
        prefix = str(name).rsplit("/", 1)[0] + "/"
        mine = sum(1 for n in names if n.startswith(prefix))
        if self.max_docs_per_user and mine >= self.max_docs_per_user:
            raise QuotaExceeded(
                f"quota reached: {self.max_docs_per_user} documents per owner; delete or reuse one"
            )


def is_update_frame(frame: bytes) -> bool:
    """A sync step2 or update frame: the ones that can make a document grow."""
    return len(frame) > 1 and frame[0] == 0 and frame[1] in (1, 2)
