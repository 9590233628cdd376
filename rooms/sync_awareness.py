"""The awareness side of one document's connections: presence and cursors, sans I/O.

:class:`~rooms.sync.DocumentSync` holds one :class:`DocumentPresence` and hands it every
awareness frame, local or remote, every whole-state request and every disconnect. The rules
it keeps are rooms/sync.py's rules 2 (what a connection's own awareness gets back), 4
(removal on disconnect), 6 (echoes stop here), 7 (ownership, caps, coalescing), 8 (renewals
held), 10 (whole-state requests budgeted) and 11 (a state carries its connection's name); the
rules are written out there, with the document's others.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rooms.awareness import (
    AwarenessEntry,
    AwarenessLimits,
    AwarenessTable,
    Budget,
    announced_count,
    decode_awareness,
    encode_awareness,
    labelled,
)
from rooms.frames import awareness_frame
from rooms.presence import EchoMemory, RenewalHold, accepted_frame
from rooms.sync_output import Connection, Output

# Rule 10: whole-state requests (step1, awareness query) a connection may make at once, then
# a second.
REQUEST_BURST = 5.0
REQUEST_RATE = 1.0


class DocumentPresence:
    """The awareness table of one document and who owns each of its entries.

    ``connections`` is the document's own map of its connections, shared, not copied: the
    presence reads who is connected from it and never changes it.
    """

    def __init__(
        self,
        connections: dict[int, Connection],
        limits: AwarenessLimits,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = AwarenessTable()
        self.limits = limits
        self.clock = clock
        self._connections = connections
        self._owner: dict[int, int] = {}  # awareness client id -> connection
        self.echoes = EchoMemory()  # rule 6: ``frame in echoes``, an echo of what we sent
        self._renewals = RenewalHold(limits.renewal_hold)  # rule 8

    def receive(
        self, conn: int, state: Connection, payload: bytes, frame: bytes, out: Output
    ) -> None:
        """An awareness ``frame`` (its ``payload``) from local connection ``conn``."""
        limits = self.limits
        if announced_count(payload) > limits.max_clients:
            return  # a flood: not even decoded
        if self.table.only_echoes(payload):
            return  # rule 6, before any state is decoded
        entries = decode_awareness(payload)
        allowed = [e for e in entries if self._may_set(conn, state, e)]
        relabelled = False
        if state.user is not None and state.name is not None:  # rule 11
            named = [labelled(e, state.user, state.name) for e in allowed]
            relabelled = any(a is not b for a, b in zip(named, allowed, strict=True))
            allowed = named
        before = {e.client_id: self.table.state(e.client_id) for e in allowed}
        accepted = self.table.apply(allowed)
        for entry in accepted:
            previous = self._owner.get(entry.client_id)
            if previous is not None and previous != conn:  # the same user's new socket
                self._connections[previous].client_ids.discard(entry.client_id)
            state.client_ids.add(entry.client_id)
            self._owner[entry.client_id] = conn
        if not accepted:
            return
        now = self.clock()
        if state.budget is None:
            state.budget = Budget(limits.rate, limits.burst, now)
        renewal = all(before[e.client_id] == e.state for e in accepted)
        # A renewal takes from the budget too: a hold that ends when full, or a hold of 0,
        # must not let a flood of renewals through faster than changes (rules 7, 8).
        if renewal and not state.pending and state.budget.take(now):
            # Rule 8: renewals wait (fewer of them in a bigger room).
            out.awareness_due = self._renewals.add(accepted, now, len(self._connections))
            return
        self._renewals.drop(e.client_id for e in accepted)  # what goes now supersedes them
        if state.pending or not state.budget.take(now):
            state.pending.update((e.client_id, e) for e in accepted)
            out.awareness_due = state.budget.due()
            return
        if relabelled:
            forward = self.sent(awareness_frame(encode_awareness(accepted)))
        else:
            forward = self.sent(accepted_frame(frame, entries, accepted))
        out.broadcast(self._connections, forward)  # the sender too (rule 2)
        out.publish.append(forward)

    def receive_remote(self, frame: bytes, payload: bytes, out: Output) -> None:
        """An awareness ``frame`` (its ``payload``) another process published."""
        entries = decode_awareness(payload)
        accepted = self.table.apply(entries)
        self._renewals.drop(e.client_id for e in accepted)  # rule 8: superseded
        forward = accepted_frame(frame, entries, accepted)
        if forward is not None:
            out.broadcast(self._connections, self.sent(forward))

    def may_request(self, state: Connection) -> bool:
        """Rule 10: whether a whole-state request of this connection is answered."""
        now = self.clock()
        if state.requests is None:
            state.requests = Budget(REQUEST_RATE, REQUEST_BURST, now)
        return state.requests.take(now)

    def _may_set(self, conn: int, state: Connection, entry: AwarenessEntry) -> bool:
        if len(entry.state.encode()) > self.limits.max_state_bytes:
            return False
        owner = self._owner.get(entry.client_id)
        if owner is not None and owner != conn:
            # A reconnecting tab may announce its id before its old socket is gone: the id
            # moves, but only between connections of one known user.
            holder = self._connections[owner].user
            return holder is not None and holder == state.user
        if owner is not None:
            return True
        # Unclaimed here: a client of another process (present in the table) is not ours to
        # set; a new id is, within the connection's cap.
        if self.table.state(entry.client_id) is not None or entry.removed:
            return False
        return len(state.client_ids) < self.limits.max_clients

    def flush(self) -> Output:
        """Pass on the coalesced awareness states whose connection has budget again, and
        the held renewals once their time has come."""
        out = Output()
        now = self.clock()
        for state in self._connections.values():
            if not state.pending or state.budget is None:
                continue
            if not state.budget.take(now):
                due = state.budget.due()
                out.awareness_due = (
                    due if out.awareness_due is None else min(due, out.awareness_due)
                )
                continue
            frame = self.sent(awareness_frame(encode_awareness(state.pending.values())))
            state.pending.clear()
            out.broadcast(self._connections, frame)
            out.publish.append(frame)
        renewals = self._renewals.take_due(now)
        if renewals:  # rule 8: every renewal held, in one frame
            frame = self.sent(awareness_frame(encode_awareness(renewals)))
            out.broadcast(self._connections, frame)
            out.publish.append(frame)
        elif (held_until := self._renewals.due) is not None:
            sooner = out.awareness_due
            out.awareness_due = held_until if sooner is None else min(sooner, held_until)
        return out

    def disconnect(self, conn: int, state: Connection, out: Output) -> None:
        """Rule 4: ``conn`` (already gone from the connections) leaves; its clients' removal
        goes to everyone else, and is published."""
        owned = [cid for cid in state.client_ids if self._owner.get(cid) == conn]
        for cid in owned:
            del self._owner[cid]
        self._renewals.drop(owned)
        removals = self.table.remove(owned)
        if removals:
            frame = self.sent(awareness_frame(encode_awareness(removals)))
            out.broadcast(self._connections, frame)
            out.publish.append(frame)

    def present_frame(self) -> bytes:
        """Every state the table holds, in one frame (the answer to an awareness query)."""
        return awareness_frame(encode_awareness(self.table.present()))

    def joined_frame(self) -> bytes | None:
        """What a joining connection is sent: every state present, or None when none is."""
        present = self.table.present()
        return self.sent(awareness_frame(encode_awareness(present))) if present else None

    def local_frame(self) -> bytes | None:
        """The awareness states of this process's connections, to re-announce after an outage."""
        entries = [e for e in self.table.present() if e.client_id in self._owner]
        return awareness_frame(encode_awareness(entries)) if entries else None

    def sent(self, frame: bytes | None) -> bytes:
        """Remember an awareness frame we send, to know its echoes (rule 6)."""
        return self.echoes.remember(frame)
