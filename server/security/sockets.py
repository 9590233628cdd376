"""The open sockets of each user in this process, so a change of trust reaches them at once.

When a user's role changes or their sessions are revoked, :class:`~server.security.sessions.
Sessions` tells every process over the bus, and each closes that user's sockets here with
1012 (reconnect): the client comes back with whatever role, or none, it has now.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator

from server.exceptions import TooManyRequests

log = logging.getLogger("classroom.security")

CloseSocket = Callable[[int, str], Awaitable[None]]
CLOSE_RECONNECT = 1012
# A close frame carries at most 125 bytes, two of them the code (RFC 6455 section 5.5).
MAX_CLOSE_REASON_BYTES = 123


def close_reason(text: str) -> str:
    """``text`` cut to what a close frame can carry, on a character boundary. A reason cut by
    characters alone (a document name in CJK, say) could pass 123 bytes: the websockets
    library then refused to send the close ("control frame too long"), the socket dropped
    without one and the log got a traceback."""
    data = text.encode("utf-8", "replace")
    return data[:MAX_CLOSE_REASON_BYTES].decode("utf-8", "ignore")


class OpenSockets:
    def __init__(self, max_events_per_user: int = 5) -> None:
        self.max_events_per_user = max_events_per_user
        self._by_user: dict[int, dict[int, tuple[str, CloseSocket]]] = defaultdict(dict)
        self._next = 0

    def count(self, user_id: int, kind: str) -> int:
        return sum(1 for k, _ in self._by_user.get(user_id, {}).values() if k == kind)

    @contextlib.contextmanager
    def opened(self, user_id: int, kind: str, close: CloseSocket) -> Iterator[int]:
        """Hold the socket in the table while the block runs."""
        if kind == "events" and self.count(user_id, kind) >= self.max_events_per_user:
            raise TooManyRequests(
                f"you have {self.max_events_per_user} room event sockets open already",
                code="too_many_sockets",
            )
        self._next += 1
        key = self._next
        self._by_user[user_id][key] = (kind, close)
        try:
            yield key
        finally:
            sockets = self._by_user.get(user_id)
            if sockets is not None:
                sockets.pop(key, None)
                if not sockets:
                    del self._by_user[user_id]

    async def close_user(self, user_id: int, reason: str) -> int:
        """Close every socket of ``user_id`` here with 1012; returns how many."""
        sockets = list(self._by_user.get(user_id, {}).values())
        for _, close in sockets:
            with contextlib.suppress(Exception):
                await close(CLOSE_RECONNECT, reason)
        if sockets:
            log.info("closed %d sockets of user %s: %s", len(sockets), user_id, reason)
        return len(sockets)
