"""The open sockets of each user in this process, so a change of trust reaches them at once.

When a user's role changes or their sessions are revoked, :class:`~server.security.sessions.
Sessions` tells every process over the bus, and each closes that user's sockets here with
1012 (reconnect): the client comes back with whatever role, or none, it has now.

A socket is authenticated before it is held here, and both take awaits (a ticket to redeem,
a role to read), so a change can arrive between them: it finds nothing to close, and the
socket would go on with the trust it had before. So the table numbers the changes it sees;
a socket takes :meth:`OpenSockets.mark` before it is accepted, and one whose user changed
since (:meth:`OpenSockets.changed_since`) is closed with 1012 instead of being held.
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
# Users whose last change is remembered; past this the table forgets them all at once, and a
# socket that began before that forgetting is taken as changed (one needless reconnect).
MAX_REMEMBERED_CHANGES = 4096


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
        self._changes = 0  # trust changes seen in this process, numbered from 1
        self._changed: dict[int, int] = {}  # user -> the number of their last change
        self._forgotten = 0  # changes up to this number are no longer told apart by user

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

    def mark(self) -> int:
        """The number of the last change seen; a socket takes it before it is accepted."""
        return self._changes

    def changed_since(self, user_id: int, mark: int) -> bool:
        """Whether ``user_id``'s trust changed after ``mark`` (then their socket reconnects)."""
        if mark < self._forgotten:
            return True
        return self._changed.get(user_id, 0) > mark

    async def close_user(self, user_id: int, reason: str) -> int:
        """Close every socket of ``user_id`` here with 1012; returns how many. The change is
        remembered for the user's sockets still being opened (:meth:`changed_since`)."""
        self._changes += 1
        if len(self._changed) >= MAX_REMEMBERED_CHANGES and user_id not in self._changed:
            self._changed.clear()
            self._forgotten = self._changes - 1
        self._changed[user_id] = self._changes
        sockets = list(self._by_user.get(user_id, {}).values())
        for _, close in sockets:
            with contextlib.suppress(Exception):
                await close(CLOSE_RECONNECT, reason)
        if sockets:
            log.info("closed %d sockets of user %s: %s", len(sockets), user_id, reason)
        return len(sockets)
