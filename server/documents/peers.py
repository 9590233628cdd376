"""Which other processes hold a document, so its frames go to the bus only when one does.

Design note. Behind the load balancer (deploy/nginx) a document's sockets meet on one
process, so most documents are held by one process alone. Publishing their every frame
anyway cost that process a Redis round trip per batch and, since a Redis subscriber hears
its own publications, reading each frame back. A holder of a document therefore knows its
peers (the other loaded copies, each known by the origin its messages carry) and publishes
only while it has one. The frames on the document's channel that say so never reach a
client:

1. HELLO. A process that loads a document subscribes to its channel, waits for Redis to
   confirm it (server/bus/redis.py), says HELLO, and only then reads the store.
2. Hearing HELLO from X, a holder adds X, publishes its whole state and its clients'
   awareness (after its pending commits, as every frame), then says HERE.
3. Hearing HERE from an X it did not know, a holder adds X and publishes its whole state
   and awareness likewise.
4. A holder with a peer publishes every frame its clients and the server produce, as
   before; with none it publishes nothing, and so reads nothing of its own back.
5. A holder that unloads the document (or shuts down) says BYE; the others forget it.
6. A peer that died without BYE is forgotten by :func:`forget_departed`, run every
   PEER_CHECK_SECONDS: a document whose channel has no subscriber but us (PUBSUB NUMSUB)
   forgets its peers, unless it heard a HELLO or HERE since it asked.
7. After a bus outage the registry resyncs: HELLO again, and its whole state published
   whatever it knows of peers.
8. A document frame from an origin that is not a known peer (a server of an earlier version
   during a rolling upgrade, which publishes every frame and says no HELLO; a HELLO lost in
   an outage) makes it one, as HERE does.

Why nothing is lost: say A holds a document and B loads it. B listens before its HELLO
(rule 1), so it hears everything A publishes after hearing HELLO. An update A sent to its
clients before that was stored first, and is in the whole state A publishes (rule 2);
B's own updates before B heard HERE are in the whole state B publishes then (rule 3). If
A and B load it at once, Redis orders their subscriptions and HELLOs: the later HELLO is
heard by the other, which answers HERE. Whole states are idempotent Yjs updates, like
every update on the bus. Rule 6's check cannot drop a live peer: NUMSUB counted it, or it
subscribed after the count and its HELLO comes after the reply was computed, so it is
either heard before we act on the reply (the check is void) or after (it is added back).
Each loaded copy of a document has its own origin, so a BYE of an unloaded copy that is
still queued cannot remove the copy that loaded it again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from rooms.exceptions import ProtocolError
from server.bus import Bus

log = logging.getLogger("classroom.docs")

# The first byte of a peer frame: beyond the y-websocket message types (0 to 3), and never
# sent to a client.
PEER_TAG = 100
HELLO = bytes((PEER_TAG, 0))
HERE = bytes((PEER_TAG, 1))
BYE = bytes((PEER_TAG, 2))

PEER_CHECK_SECONDS = 30.0


def is_peer_frame(frame: bytes) -> bool:
    return frame[:1] == HELLO[:1]


@dataclass(frozen=True, slots=True)
class Reply:
    """What a holder does on hearing a peer frame: publish its whole state, answer HERE."""

    share: bool = False
    answer: bool = False


NOTHING = Reply()


@dataclass(slots=True)
class Peers:
    """The origins of the other processes holding one document."""

    origins: set[bytes] = field(default_factory=set)
    heard: int = 0  # HELLOs and HEREs heard so far (rule 6)

    def hear(self, origin: bytes, frame: bytes) -> Reply:
        """Take in a peer frame from ``origin``. Raises ProtocolError for an unknown one."""
        if frame == HELLO:
            self.heard += 1
            self.origins.add(origin)
            return Reply(share=True, answer=True)
        if frame == HERE:
            self.heard += 1
            if origin in self.origins:
                return NOTHING
            self.origins.add(origin)
            return Reply(share=True)
        if frame == BYE:
            self.origins.discard(origin)
            return NOTHING
        raise ProtocolError(f"unknown peer frame {frame[:8]!r}")

    def met(self, origin: bytes) -> bool:
        """A document frame came from ``origin`` (rule 8): True if it was not a known peer."""
        if origin in self.origins:
            return False
        self.heard += 1
        self.origins.add(origin)
        return True

    def forget(self, heard: int) -> bool:
        """Forget every peer, unless a HELLO or HERE came since ``heard`` was read."""
        if self.heard != heard or not self.origins:
            return False
        self.origins.clear()
        return True


class Shared(Protocol):
    """A loaded document, as :func:`forget_departed` sees it."""

    channel: str
    peers: Peers


async def forget_departed(bus: Bus, docs: Iterable[Shared]) -> int:
    """Rule 6: forget the peers of documents no other process listens to any more.
    Returns how many documents stopped publishing."""
    shared = [(doc, doc.peers.heard) for doc in docs if doc.peers.origins]
    if not shared:
        return 0
    channels: Sequence[str] = [doc.channel for doc, _ in shared]
    try:
        counts = await bus.subscriber_counts(channels)
    except Exception as exc:
        # The broker is away: its return resyncs every document anyway (rule 7).
        log.debug("peer check of %d documents skipped: %s", len(shared), exc)
        return 0
    forgotten = 0
    for doc, heard in shared:
        if counts.get(doc.channel, 0) <= 1 and doc.peers.forget(heard):
            forgotten += 1
    if forgotten:
        log.info("%d documents have no other process any more: not published", forgotten)
    return forgotten
