"""``ws /ws/rooms/{room}?token=…``: the JSON room events socket. It only moves messages:
checking and handling them is the hub's (:mod:`server.events.hub`) and its handlers'."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlmodel import select
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from server.api.base import components_of
from server.classrooms.access import room_access
from server.documents.direct import RAW_SEND, DirectWriter
from server.events.hub import RoomConnection, RoomHub
from server.exceptions import ApiError
from server.models import Membership, Room, User
from server.security.socket_auth import socket_caller
from server.security.sockets import CLOSE_RECONNECT, close_reason
from server.store import Store

log = logging.getLogger("classroom.events")

CLOSE_POLICY = 1008
CLOSE_TOO_SLOW = 1013


async def room_events(websocket: WebSocket) -> None:
    components = components_of(websocket)
    hub = components.hub
    security = components.security
    mark = security.sockets.mark()  # before the client can see the socket open
    await websocket.accept()
    try:
        caller = await socket_caller(security, websocket)
        left = security.floods.waiting(caller.user_id)
        if left is not None:
            await websocket.close(CLOSE_POLICY, security.floods.refusal(left))
            return
        room_id = int(websocket.path_params["room_id"])
        async with components.store.session() as session:
            access = await room_access(session, room_id, caller.user_id)
            user = await session.get(User, caller.user_id)
    except ApiError as exc:
        log.info("room events: refused %s: %s", websocket.url.path, exc.message)
        await websocket.close(CLOSE_POLICY, close_reason(exc.message))
        return
    assert user is not None
    conn = RoomConnection(room_id=room_id, user_id=caller.user_id, name=user.name, role=access.role)
    gauge = components.metrics.open_sockets.labels("events")

    async def close(code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await websocket.close(code, close_reason(reason))

    if security.sockets.changed_since(caller.user_id, mark):
        # Their trust changed while this socket opened; the change found nothing to close.
        await close(CLOSE_RECONNECT, "your access changed; reconnect")
        return
    try:
        held = security.sockets.opened(caller.user_id, "events", close)
        held.__enter__()
    except ApiError as exc:
        await websocket.close(CLOSE_POLICY, close_reason(exc.message))
        return
    gauge.inc()
    direct = DirectWriter.of(websocket.scope.get(RAW_SEND))
    if direct is not None:
        conn.write_directly = direct.write
    writer = asyncio.create_task(
        _write(websocket, conn, direct), name=f"room-{room_id}-writer-{conn.id}"
    )
    budget = security.floods.budget("events")
    try:
        await hub.join(conn)
        conn.open_with(await hub.snapshot(conn))
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            if not budget.take():
                log.info("room %s conn %s: closed, a flood", room_id, conn.id)
                components.metrics.socket_floods.labels("events").inc()
                security.floods.flooded(caller.user_id)
                await close(CLOSE_POLICY, budget.refusal("messages"))
                break
            raw = message.get("text")
            if raw is None:
                raw = message.get("bytes") or b""
            await hub.dispatch(conn, raw)
            if writer.done():
                break
    except WebSocketDisconnect:
        pass
    finally:
        held.__exit__(None, None, None)
        gauge.dec()
        await hub.leave(conn)
        conn.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await writer
        writer.cancel()


async def _write(websocket: WebSocket, conn: RoomConnection, direct: DirectWriter | None) -> None:
    """Send what the hub queued, in order. Where the socket takes direct writes
    (server/documents/direct.py), an event that found nothing ahead of it was written already
    (``RoomConnection._put``), and one queued behind others is written directly when its turn
    comes; a write that must wait (a slow reader) takes the ASGI send, and nothing else is
    written until it is done, so the order holds."""
    try:
        while True:
            event = await conn.outbox.get()
            if event is None:
                break
            conn.sending = True
            if direct is None or not direct.write(event.frame()):
                await websocket.send_text(event.text)
            conn.sending = False
        code = CLOSE_TOO_SLOW if conn.overflowed else 1000
        await websocket.close(code, "too slow to keep up" if conn.overflowed else "")
    except Exception:
        # The socket is gone; the reader ends the connection.
        return


async def members_part(store: Store, hub: RoomHub, conn: RoomConnection) -> list[dict[str, object]]:
    """Classroom members with their role and whether they are online in this room (the room
    snapshot's ``members`` part)."""
    online = await hub.presence.online(conn.room_id)
    async with store.session() as session:
        room = await session.get(Room, conn.room_id)
        assert room is not None
        rows = await session.exec(
            select(User.id, User.name, Membership.role)
            .join(Membership, Membership.user_id == User.id)  # type: ignore[arg-type]
            .where(Membership.classroom_id == room.classroom_id)
            .order_by(User.id)  # type: ignore[arg-type]
        )
        return [
            {"id": uid, "name": name, "role": role, "online": uid in online}
            for uid, name, role in rows.all()
        ]


routes: list[BaseRoute] = [WebSocketRoute("/ws/rooms/{room_id:id}", room_events)]
