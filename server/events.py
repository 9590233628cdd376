"""``ws /ws/rooms/{room}?token=…``: the JSON room events socket. It only moves messages:
checking and handling them is the hub's (:mod:`server.hub`) and its handlers'."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from sqlmodel import select
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from server.access import room_access
from server.exceptions import ApiError
from server.hub import RoomConnection, RoomHub
from server.models import Membership, Room, User
from server.presence import LocalPresence
from server.state import AppState

log = logging.getLogger("classroom.events")

CLOSE_POLICY = 1008
CLOSE_TOO_SLOW = 1013


async def room_events(websocket: WebSocket) -> None:
    state: AppState = websocket.app.state.classroom
    hub: RoomHub = state.get("hub")
    await websocket.accept()
    try:
        caller = state.signer.verify(websocket.query_params.get("token"))
        room_id = int(websocket.path_params["room_id"])
        async with state.store.session() as session:
            access = await room_access(session, room_id, caller)
            user = await session.get(User, caller.user_id)
    except ApiError as exc:
        log.info("room events: refused %s: %s", websocket.url.path, exc.message)
        await websocket.close(CLOSE_POLICY, exc.message[:120])
        return
    assert user is not None
    conn = RoomConnection(room_id=room_id, user_id=caller.user_id, name=user.name, role=access.role)
    gauge = state.metrics.open_sockets.labels("events")
    gauge.inc()
    writer = asyncio.create_task(_write(websocket, conn), name=f"room-{room_id}-writer-{conn.id}")
    try:
        await hub.join(conn)
        conn.open_with(await hub.snapshot(conn))
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
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
        gauge.dec()
        await hub.leave(conn)
        conn.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer, timeout=5)
        writer.cancel()


async def _write(websocket: WebSocket, conn: RoomConnection) -> None:
    try:
        while True:
            event = await conn.outbox.get()
            if event is None:
                break
            await websocket.send_text(json.dumps(event, separators=(",", ":")))
        code = CLOSE_TOO_SLOW if conn.overflowed else 1000
        await websocket.close(code, "too slow to keep up" if conn.overflowed else "")
    except Exception:
        # The socket is gone; the reader ends the connection.
        return


async def members_part(state: AppState, conn: RoomConnection) -> list[dict[str, object]]:
    """Classroom members with their role and whether they are online in this room."""
    hub: RoomHub = state.get("hub")
    online = await hub.presence.online(conn.room_id)
    async with state.store.session() as session:
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


def install(state: AppState) -> RoomHub:
    presence = LocalPresence()
    if state.settings.redis_url:
        from server.presence import RedisPresence

        presence = RedisPresence(state.settings.redis_url, state.settings.redis_prefix)
    hub = RoomHub(state.bus, presence, state.metrics)

    async def members(conn: RoomConnection) -> list[dict[str, object]]:
        return await members_part(state, conn)

    async def ping(conn: RoomConnection, _command: object) -> None:
        conn.send({"type": "pong"})

    hub.snapshot_part("members", members)
    hub.handle("ping", ping)
    state.add("hub", hub)
    return hub


routes: list[BaseRoute] = [WebSocketRoute("/ws/rooms/{room_id:int}", room_events)]
