"""Storage quotas: how many documents a user and a room may have, and how big one may grow.

Rule 1: opening a document that does not exist yet counts it: past ``max_docs_per_room``
documents in the room, or ``max_docs_per_user`` documents of its owner (``students/{user}/…``,
or a pair group's ``pairs/{group}/…``), it is refused (close 1008 with the reason) before
anything is stored. Existing documents always open.
Rule 2: a document takes updates until it holds ``max_doc_bytes`` (its encoded state, measured
when the running count of received bytes passes the limit, so the cost is paid rarely); an
update past it closes the writer's socket with 1008 and is not applied. What is stored stays.
A user's stored bytes are therefore bounded by ``max_docs_per_user * max_doc_bytes``.
Rule 3: a document takes updates while loading it would take at most
``max_doc_load_seconds`` (1 s), estimated as the time its last load took plus, for each update
applied since, the time it took beyond what its structs and bytes account for (0.2 ms a struct,
20 ns a byte: a typed character, a paste or a reconnecting client's edits never go beyond).
Some structs cost yrs milliseconds each at receipt and again at every load of the document
(rooms/pieces.py: an item placed by scanning many others); without this a student could make
their file take minutes to load, each load holding every room of the process. Past it the
document is read-only for everyone (rooms/sync.py ``read_only``: each writer is told once, as
a reader is) until a later load measures it again. What is stored stays.
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
    max_doc_load_seconds: float = 1.0

    def over_load(self, estimate: float) -> bool:
        """Rule 3: whether a document whose load would take ``estimate`` seconds may take no
        more changes."""
        return bool(self.max_doc_load_seconds) and estimate > self.max_doc_load_seconds

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


# Rule 3: what a struct and a byte of an update may take to apply before the rest counts
# towards the document's load.
STRUCT_SECONDS = 0.0002
BYTE_SECONDS = 2e-8


def beyond_its_size(took: float, structs: int, size: int) -> float:
    """Rule 3: the seconds an update of ``structs`` structs in ``size`` bytes took beyond
    what those account for (0 when within)."""
    return max(0.0, took - structs * STRUCT_SECONDS - size * BYTE_SECONDS)
