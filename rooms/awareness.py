"""Awareness entries of the y-websocket protocol and the server's table of them.

An awareness payload is ``varUint n • n x (varUint clientID, varUint clock, varString JSON)``;
the JSON ``null`` removes a client. The table applies the y-protocols clock rule (a newer
clock wins; an equal clock wins only to remove), so it can greet a new connection with the
current states and remove a departed connection's clients with ``clock + 1``.

The numbers and strings are read and written by :mod:`rooms.varint`, so hostile input fails
with :class:`~rooms.exceptions.ProtocolError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rooms import client_json
from rooms.client_json import NotJson
from rooms.exceptions import ProtocolError
from rooms.varint import Reader, write_var_string, write_var_uint

NULL_STATE = "null"
_NULL_BYTES = NULL_STATE.encode()


_UNREAD: Any = object()


@dataclass(frozen=True)
class AwarenessEntry:
    client_id: int
    clock: int
    state: str  # JSON text as the client sent it; "null" removes the client
    # What decode_awareness read of ``state``, kept so rule 11 (``labelled``) need not read it
    # again; never compared, never changed.
    value: Any = field(default=_UNREAD, compare=False, repr=False)

    @property
    def removed(self) -> bool:
        return self.state == NULL_STATE


def decode_awareness(payload: bytes) -> list[AwarenessEntry]:
    """Entries of an awareness payload; the JSON of each state must parse."""
    reader = Reader(payload)
    count = reader.var_uint()
    entries: list[AwarenessEntry] = []
    for _ in range(count):
        client_id = reader.var_uint()
        clock = reader.var_uint()
        state = reader.var_string()
        # Browsers JSON.parse each state; one bad string would break every other client
        # (NaN too: rooms/client_json.py rule 1).
        try:
            value = client_json.loads(state, text=False)  # passed on as it came, never stored
        except NotJson as exc:
            raise ProtocolError(
                f"awareness state of client {client_id} is not JSON: {exc}"
            ) from None
        entries.append(AwarenessEntry(client_id, clock, state, value))
    return entries


def labelled(entry: AwarenessEntry, user_id: int, name: str) -> AwarenessEntry:
    """``entry`` with the ``user.name`` and ``user.id`` of its state set to those of the user
    whose connection sent it, where the state says otherwise; else ``entry`` itself.

    Editors label a remote cursor with ``state.user.name`` (y-codemirror), so a student's
    own client could put any name on their cursor ("Ms. Smith") in a classmate's editor. A
    state without a ``user`` object, or whose ``user`` names nobody, is left as sent (stock
    Yjs clients send none). The state is read from what :func:`decode_awareness` decoded."""
    if entry.removed:
        return entry
    value = entry.value
    if value is _UNREAD:  # an entry not from decode_awareness
        value = client_json.loads(entry.state, text=False)
    user = value.get("user") if isinstance(value, dict) else None
    if not isinstance(user, dict):
        return entry
    wrong = ("name" in user and user["name"] != name) or ("id" in user and user["id"] != user_id)
    if not wrong:
        return entry
    fixed = dict(user)
    if "name" in user:
        fixed["name"] = name
    if "id" in user:
        fixed["id"] = user_id
    value = {**value, "user": fixed}
    # ASCII escapes: a state may hold half a surrogate pair, which UTF-8 cannot carry.
    state = json.dumps(value, separators=(",", ":"))
    return AwarenessEntry(entry.client_id, entry.clock, state, value)


def encode_awareness(entries: Iterable[AwarenessEntry]) -> bytes:
    items = list(entries)
    parts = [write_var_uint(len(items))]
    for entry in items:
        parts.append(write_var_uint(entry.client_id))
        parts.append(write_var_uint(entry.clock))
        parts.append(write_var_string(entry.state))
    return b"".join(parts)


class AwarenessTable:
    """The latest entry per client id, kept with the y-protocols clock rule."""

    def __init__(self) -> None:
        self._entries: dict[int, AwarenessEntry] = {}

    def apply(self, entries: Iterable[AwarenessEntry]) -> list[AwarenessEntry]:
        """Apply entries; return those accepted (newer clock, or a removal at equal clock)."""
        accepted: list[AwarenessEntry] = []
        for entry in entries:
            current = self._entries.get(entry.client_id)
            if current is None:
                newer = True
            else:
                newer = current.clock < entry.clock or (
                    current.clock == entry.clock and entry.removed and not current.removed
                )
            if newer:
                self._entries[entry.client_id] = entry
                accepted.append(entry)
        return accepted

    def only_echoes(self, payload: bytes) -> bool:
        """Whether :meth:`apply` would accept none of ``payload``'s entries, read without
        decoding their states. The y-websocket 1.5.4 provider sends back every awareness
        update it applies, so each renewal in a room of *n* comes back *n - 1* times with
        the clock already held; those stop here, before any JSON is parsed. Raises
        ProtocolError for a payload that does not frame."""
        reader = Reader(payload)
        entries = self._entries
        for _ in range(reader.var_uint()):
            client_id = reader.var_uint()
            clock = reader.var_uint()
            state = reader.var_bytes()
            current = entries.get(client_id)
            if current is None or current.clock < clock:
                return False
            if current.clock == clock and state == _NULL_BYTES and not current.removed:
                return False
        return True

    def remove(self, client_ids: Iterable[int]) -> list[AwarenessEntry]:
        """Mark these clients gone; return the removal entries (clock + 1) to broadcast."""
        removals: list[AwarenessEntry] = []
        for client_id in client_ids:
            current = self._entries.get(client_id)
            if current is None or current.removed:
                continue
            removal = AwarenessEntry(client_id, current.clock + 1, NULL_STATE)
            self._entries[client_id] = removal
            removals.append(removal)
        return removals

    def present(self) -> list[AwarenessEntry]:
        """Entries of clients currently present (non-null state)."""
        return [entry for entry in self._entries.values() if not entry.removed]

    def state(self, client_id: int) -> str | None:
        entry = self._entries.get(client_id)
        return None if entry is None or entry.removed else entry.state


@dataclass(frozen=True)
class AwarenessLimits:
    """What one connection may put in a document's awareness table.

    ``max_clients``: client ids a connection may claim (a tab has one; a page with a demo
    and an editor open on one socket each still has one per socket). ``max_state_bytes``:
    the largest JSON state of one entry. ``rate``/``burst``: awareness frames a second that
    are passed on at once; faster ones are coalesced (the table keeps the newest state and
    the caller is told when to pass it on). ``renewal_hold``: how long a renewal waits to go
    out with the document's others (rooms/sync.py rule 8; 0: at the next turn of the loop).
    """

    max_clients: int = 4
    max_state_bytes: int = 4096
    rate: float = 20.0
    burst: float = 40.0
    renewal_hold: float = 5.0


def announced_count(payload: bytes) -> int:
    """How many entries an awareness payload says it holds, read before decoding any."""
    return Reader(payload).var_uint()


class Budget:
    """A token bucket on an injected clock: ``take(now)`` says whether a frame may pass now,
    and :meth:`due` when the next one may."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def due(self) -> float:
        return self.stamp + max(0.0, 1.0 - self.tokens) / self.rate
