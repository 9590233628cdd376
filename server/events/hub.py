"""The room events hub of one process: local room sockets, delivery by audience, dispatch.

Design note. An event is delivered to the local sockets of its audience at once, then
published on the bus channel ``room:{id}`` with this process's id; every other process
delivers it to *its* local sockets and ignores its own messages. So an event reaches
everyone in the room whatever process they are on, and with Redis down a process still
serves its own clients. What other processes published while the bus was away never comes:
when it is back, every local socket gets a fresh ``room.snapshot`` (what a client joining
then would get: the lesson, the demo, the boards, hands, runs), with the events that arrive
while it is being read held behind it, as on a join. Commands are checked by
:func:`rooms.events.parse_command` and handed to the handler registered for their type; a
handler raises ``EventError`` to refuse.

On an in-process bus (one process) there is nobody else to hear an event: the hub neither
publishes nor listens, and so neither encodes an envelope nor reads its own back. On Redis
the events go out through one queue (server/bus/publisher.py), in the order they were
published, those queued by then in one round trip: a round trip per event cost about 100 µs
of CPU, several times what delivering it to a room of 30 costs (bench/hub_bench.py). What is
queued when the process stops goes out before it closes, for a few seconds at most. Its own
messages, read back, are known by their first bytes and dropped without decoding.

An event goes to a socket as JSON text, encoded once however many sockets it goes to
(:class:`Encoded`): a class of 30 gets every board move, grade and run event, and one
encoding per recipient was a sizeable share of a grading burst's CPU. Encoding on delivery
also fixes what every recipient gets: the event as it was when it was published. Where the
socket takes direct writes (server/documents/direct.py, set up by server/events/endpoint.py),
an event with nothing ahead of it is written to the transport there and then, its frame also
built once for all recipients; only an event behind others, or one the transport cannot take
now (a slow reader), waits in the socket's queue for its writer task.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rooms.events import Audience, Command, EventError, Outgoing, parse_command
from server.bus import Bus, Subscription
from server.bus.publisher import Publisher
from server.documents.direct import wire_text_frame
from server.events.presence import PROCESS_ID, LocalPresence
from server.exceptions import ApiError
from server.metrics import Metrics

log = logging.getLogger("classroom.events")

SEND_QUEUE = 2000
# How long a closing hub waits for the room events it queued to go out on the bus.
CLOSE_FLUSH_SECONDS = 3.0

Handler = Callable[["RoomConnection", Command], Awaitable[None]]
SnapshotPart = Callable[["RoomConnection"], Awaitable[Any]]
RemoteHandler = Callable[[int, dict[str, Any]], Awaitable[None]]
Presence = Callable[["RoomConnection"], Awaitable[None]]


class Encoded:
    """One event as the JSON text every recipient gets, and the bytes of its WebSocket frame,
    built by the first socket that writes it directly (:meth:`frame`)."""

    __slots__ = ("_wire", "text")

    def __init__(self, event: dict[str, Any]) -> None:
        self.text = json.dumps(event, separators=(",", ":"))
        self._wire: bytes | None = None

    def frame(self) -> bytes:
        wire = self._wire
        if wire is None:
            wire = self._wire = wire_text_frame(self.text)
        return wire


@dataclass(eq=False)
class RoomConnection:
    """One open room socket. ``send`` never blocks: a client too slow to drain its queue is
    closed rather than allowed to hold memory."""

    room_id: int
    user_id: int
    name: str
    role: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    outbox: asyncio.Queue[Encoded | None] = field(default_factory=lambda: asyncio.Queue(SEND_QUEUE))
    overflowed: bool = False
    # Events that arrive before the snapshot is sent wait here, so the snapshot comes first.
    _held: list[Encoded] | None = field(default_factory=list)
    # Set by the endpoint where the socket takes direct writes (server/documents/direct.py):
    # an event that finds nothing ahead of it is written at once, without waking the writer.
    write_directly: Callable[[bytes], bool] | None = None
    # The writer has taken an event from the outbox and not yet finished sending it.
    sending: bool = False

    def hold(self) -> bool:
        """Hold events from now until :meth:`open_with` sends a new snapshot first; False
        when a snapshot is on its way already (or the socket is closing)."""
        if self._held is not None or self.overflowed:
            return False
        self._held = []
        return True

    @property
    def is_staff(self) -> bool:
        return self.role in ("instructor", "assistant")

    def send(self, event: dict[str, Any]) -> None:
        if not self.overflowed:
            self.send_encoded(Encoded(event))

    def send_encoded(self, event: Encoded) -> None:
        """:meth:`send` of an event already encoded (one encoding for every recipient)."""
        if self.overflowed:
            return
        if self._held is not None:
            self._held.append(event)
            return
        self._put(event)

    def open_with(self, snapshot: dict[str, Any] | None) -> None:
        """Send ``snapshot`` first (None: none after all), then every event held since the
        connection joined or :meth:`hold` was called."""
        held, self._held = self._held or [], None
        if snapshot is not None:
            self._put(Encoded(snapshot))
        for event in held:
            self._put(event)

    def _put(self, event: Encoded) -> None:
        if self.overflowed:
            return
        write = self.write_directly
        # Nothing queued and nothing being sent: no event can be ahead of this one. (A queued
        # event stays in the queue until the woken writer takes it, and the writer sets
        # ``sending`` before it awaits anything.)
        if write is not None and not self.sending and self.outbox.empty() and write(event.frame()):
            return
        try:
            self.outbox.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            log.warning("room %s conn %s: send queue full, closing", self.room_id, self.id)
            self.close()

    def close(self) -> None:
        """Ask the writer to end the socket (after what is queued)."""
        while True:
            try:
                self.outbox.put_nowait(None)
                return
            except asyncio.QueueFull:
                self.outbox.get_nowait()


class RoomHub:
    def __init__(
        self, bus: Bus, presence: LocalPresence, metrics: Metrics, *, origin: str = PROCESS_ID
    ) -> None:
        self.bus = bus
        self.origin = origin  # what this process's messages on the bus are known by
        self.presence = presence
        self.metrics = metrics
        self._rooms: dict[int, set[RoomConnection]] = defaultdict(set)
        self._listeners: dict[int, tuple[Subscription, asyncio.Task[None]]] = {}
        self._handlers: dict[str, Handler] = {}
        self._snapshot: dict[str, SnapshotPart] = {}
        self._remote: dict[str, RemoteHandler] = {}
        self._joined: list[Presence] = []
        self._left: list[Presence] = []
        self._lock = asyncio.Lock()
        self.publisher = Publisher(bus)
        self._publishing: asyncio.Task[None] | None = None

    # -- registration -----------------------------------------------------------------

    def handle(self, command_type: str, handler: Handler) -> None:
        self._handlers[command_type] = handler

    def snapshot_part(self, key: str, provider: SnapshotPart) -> None:
        """``room.snapshot`` gets ``key: await provider(conn)``."""
        self._snapshot[key] = provider

    def on_remote(self, kind: str, handler: RemoteHandler) -> None:
        """Handle bus messages of ``kind`` sent with :meth:`send_remote` by any process."""
        self._remote[kind] = handler

    def on_join(self, callback: Presence) -> None:
        """Call ``callback(conn)`` after each connection joined (before its snapshot)."""
        self._joined.append(callback)

    def on_leave(self, callback: Presence) -> None:
        """Call ``callback(conn)`` after each connection left."""
        self._left.append(callback)

    async def _notify(self, callbacks: list[Presence], conn: RoomConnection) -> None:
        for callback in callbacks:
            try:
                await callback(conn)
            except Exception:
                log.error(
                    "room %s conn %s: presence listener failed",
                    conn.room_id,
                    conn.id,
                    exc_info=True,
                )

    # -- connections ----------------------------------------------------------------

    async def join(self, conn: RoomConnection) -> None:
        async with self._lock:
            if not self._rooms.get(conn.room_id):
                if self.bus.spans_processes:
                    subscription = await self.bus.subscribe(f"room:{conn.room_id}")
                    task = asyncio.create_task(
                        self._listen(conn.room_id, subscription),
                        name=f"room-{conn.room_id}-events",
                    )
                    self._listeners[conn.room_id] = (subscription, task)
                self.metrics.rooms_active.inc()
            self._rooms[conn.room_id].add(conn)
        if await self.presence.arrive(conn.room_id, conn.user_id):
            # The joiner learns it from its snapshot.
            await self.publish(
                conn.room_id,
                Audience(everyone=True),
                {"type": "member.joined", "user": _member(conn)},
                exclude=conn,
            )
        await self._notify(self._joined, conn)

    async def leave(self, conn: RoomConnection) -> None:
        async with self._lock:
            local = self._rooms.get(conn.room_id)
            if local is None or conn not in local:
                return
            local.discard(conn)
            listener = None
            if not local:
                del self._rooms[conn.room_id]
                listener = self._listeners.pop(conn.room_id, None)
                self.metrics.rooms_active.dec()
        if listener is not None:
            subscription, task = listener
            await subscription.close()
            task.cancel()
        if await self.presence.depart(conn.room_id, conn.user_id):
            await self.publish(
                conn.room_id,
                Audience(everyone=True),
                {"type": "member.left", "user": _member(conn)},
            )
        await self._notify(self._left, conn)

    def rooms(self) -> list[int]:
        """The rooms with a connection open on this process."""
        return list(self._rooms)

    def local(self, room_id: int) -> set[RoomConnection]:
        return set(self._rooms.get(room_id, ()))

    # -- events ---------------------------------------------------------------------

    async def publish(
        self,
        room_id: int,
        audience: Audience,
        event: dict[str, Any],
        *,
        exclude: RoomConnection | None = None,
    ) -> None:
        """Deliver ``event`` to ``audience`` in every process."""
        self.deliver(room_id, audience, event, exclude=exclude)
        envelope = {
            "origin": self.origin,
            "kind": "event",
            "to": audience.to_dict(),
            "event": event,
        }
        self._publish(room_id, envelope)

    async def publish_all(self, room_id: int, outgoing: Iterable[Outgoing]) -> None:
        """Deliver each ``(audience, event)`` pair in order, in every process: the one way the
        pure objects' output (:data:`rooms.events.Outgoing`) reaches the room."""
        for audience, event in outgoing:
            await self.publish(room_id, audience, event)

    async def send_remote(self, room_id: int, kind: str, payload: dict[str, Any]) -> None:
        """Send ``payload`` to the :meth:`on_remote` handler of ``kind`` in every process
        (this one included)."""
        handler = self._remote.get(kind)
        if handler is not None:
            await handler(room_id, payload)
        self._publish(room_id, {"origin": self.origin, "kind": kind, "payload": payload})

    def _publish(self, room_id: int, envelope: dict[str, Any]) -> None:
        """Queue ``envelope`` for the other processes (a failure to send is logged by the
        publisher; while the broker is away it is dropped, and the resync makes up for it)."""
        if not self.bus.spans_processes:
            return  # delivered here, and nobody else to tell
        if self._publishing is None:
            self._publishing = asyncio.create_task(self.publisher.run(), name="events-publisher")
        self.publisher.publish(f"room:{room_id}", json.dumps(envelope).encode(), None)

    def deliver(
        self,
        room_id: int,
        audience: Audience,
        event: dict[str, Any],
        *,
        exclude: RoomConnection | None = None,
    ) -> None:
        encoded = None
        for conn in self._rooms.get(room_id, ()):
            if conn is not exclude and audience.includes(conn.user_id, conn.role):
                if encoded is None:
                    encoded = Encoded(event)
                conn.send_encoded(encoded)

    async def _listen(self, room_id: int, subscription: Subscription) -> None:
        # Our own envelopes begin so (json.dumps keeps "origin" first, as _publish builds them):
        # dropped without decoding. One that does not is decoded and checked all the same.
        own = json.dumps({"origin": self.origin})[:-1].encode() + b","
        async for raw in subscription:
            if raw.startswith(own):
                continue
            try:
                envelope = json.loads(raw)
                if envelope.get("origin") == self.origin:
                    continue
                kind = envelope.get("kind")
                if kind == "event":
                    self.deliver(room_id, Audience.from_dict(envelope["to"]), envelope["event"])
                elif kind in self._remote:
                    await self._remote[kind](room_id, envelope["payload"])
            except Exception:
                log.error("room %s: bad bus message dropped", room_id, exc_info=True)

    # -- commands -------------------------------------------------------------------

    async def dispatch(self, conn: RoomConnection, raw: str | bytes) -> None:
        """Check and run one client message; refusals go back to the sender as ``error``."""
        ref = None
        try:
            command = parse_command(raw, conn.role)
            ref = command.ref
            handler = self._handlers.get(command.type)
            if handler is None:
                raise EventError("unavailable", f"{command.type} is not available on this server")
            await handler(conn, command)
        except EventError as exc:
            log.info("room %s conn %s: refused: %s", conn.room_id, conn.id, exc.message)
            conn.send(exc.event(ref))
        except ApiError as exc:  # a shared check (a budget, a quota) refused it: as above
            log.info("room %s conn %s: refused: %s", conn.room_id, conn.id, exc.message)
            conn.send(EventError(exc.code, exc.message).event(ref))
        except Exception:
            log.error("room %s conn %s: command failed", conn.room_id, conn.id, exc_info=True)
            conn.send(EventError("internal_error", "the server failed on this message").event(ref))

    async def snapshot(self, conn: RoomConnection) -> dict[str, Any]:
        event: dict[str, Any] = {"type": "room.snapshot", "room_id": conn.room_id}
        event["you"] = _member(conn)
        for key, provider in self._snapshot.items():
            try:
                event[key] = await provider(conn)
            except Exception:
                log.error("room %s: snapshot part %s failed", conn.room_id, key, exc_info=True)
                event[key] = None
        return event

    async def resync(self) -> None:
        """The bus is back after an outage: a fresh snapshot for every local socket."""
        # A socket still waiting for its first snapshot gets that one, read from the store now.
        conns = [c for local in list(self._rooms.values()) for c in list(local) if c.hold()]
        for i, conn in enumerate(conns):
            try:
                snapshot = await self.snapshot(conn)
            except BaseException:
                for rest in conns[i:]:
                    rest.open_with(None)  # what was held still goes out
                raise
            conn.open_with(snapshot)
        if conns:
            log.info("bus back: %d room sockets sent a fresh snapshot", len(conns))

    async def start(self) -> None:
        self.bus.on_reconnect(self.resync)
        await self.presence.start()

    async def close(self) -> None:
        if self._publishing is not None:
            if not await self.publisher.flush(CLOSE_FLUSH_SECONDS):
                log.warning("closing with %d room events not published", self.publisher.queued)
            self._publishing.cancel()
            self._publishing = None
        for subscription, task in list(self._listeners.values()):
            await subscription.close()
            task.cancel()
        self._listeners.clear()
        for conns in self._rooms.values():
            for conn in conns:
                conn.close()
        await self.presence.close()


def _member(conn: RoomConnection) -> dict[str, Any]:
    return {"id": conn.user_id, "name": conn.name, "role": conn.role}
