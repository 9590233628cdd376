"""``ws /yjs/{room}/{doc}?token=…``: the y-websocket protocol, unchanged, one socket per document.

The endpoint only moves bytes: it checks who may open what, then hands each frame to the
:class:`~server.documents.loaded.LoadedDocument` (under uvicorn straight from its data
callback, server/documents/direct.py rule 4) and drains this socket's outbox. An update the
document hands back in pieces (rooms/pieces.py) is handed over a piece a turn of the loop,
and the socket's next frames wait for the last piece. Close codes:
1008 for a refused token, room, document or limit (before any content is sent), or for a
client sending faster than ``CLASSROOM_MAX_DOC_FRAMES_PER_SECOND`` or whose frames took more
of the server than ``CLASSROOM_MAX_DOC_WORK_MS_PER_SECOND``; 1002 for a
frame that breaks the protocol; 1003 for a text frame; 1009 for a frame over
``max_frame_bytes``; 1013 for a client too slow to keep up (it reconnects and resyncs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from rooms.documents import STAFF_ROLES, Access, DocumentName, access, parse_document_name
from rooms.exceptions import InvalidDocumentName, ProtocolError
from rooms.frames import update_frame
from rooms.pieces import FIRST_PIECE, Pieces, next_piece
from server.api.base import components_of
from server.documents.access import OpenSocket
from server.documents.direct import RAW_SEND, DirectWriter, read_directly
from server.documents.outbox import SocketOutbox
from server.documents.registry import LimitReached
from server.exceptions import ApiError
from server.ids import parse_id
from server.security.quotas import QuotaExceeded
from server.security.socket_auth import socket_caller
from server.security.sockets import CLOSE_RECONNECT, close_reason

if TYPE_CHECKING:
    from server.components import Components

log = logging.getLogger("classroom.yjs")


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
        await websocket.close(code, close_reason(reason))


class Refused(Exception):
    pass


@dataclass(frozen=True)
class Target:
    room_id: int
    user_id: int
    name: DocumentName
    access: Access
    staff: bool = False
    role: str = "student"
    groups: frozenset[str] = frozenset()
    label: str | None = None  # the user's name, on their cursors


async def _authorize(components: Components, websocket: WebSocket) -> Target:
    """Who opens which document with what access, or Refused with the reason to close with."""
    try:
        caller = await socket_caller(components.security, websocket)
        left = components.security.floods.waiting(caller.user_id)
        if left is not None:
            raise Refused(components.security.floods.refusal(left))
        raw_room = websocket.path_params["room"]
        room_id = parse_id(raw_room)
        if room_id is None:
            raise Refused(f"unknown room {raw_room[:40]!r}")
        name = parse_document_name(websocket.path_params["doc"])
        role, groups = await components.doc_roles.lookup(room_id, caller)
        label = components.doc_roles.name_of(caller.user_id)
        lock = await components.doc_roles.lock(room_id)
        allowed = access(name, role=role, user_id=caller.user_id, pair_groups=groups, lock=lock)
    except ApiError as exc:
        raise Refused(exc.message) from None
    except InvalidDocumentName as exc:
        raise Refused(str(exc)) from None
    if allowed is Access.NONE:
        raise Refused(f"you may not open {name}")
    return Target(
        room_id,
        caller.user_id,
        name,
        allowed,
        staff=role in STAFF_ROLES,
        role=role,
        groups=groups,
        label=label,
    )


async def yjs_socket(websocket: WebSocket) -> None:
    components = components_of(websocket)
    registry = components.docs
    sockets = components.security.sockets
    mark = sockets.mark()  # before the client can see the socket open
    await websocket.accept()
    try:
        target = await _authorize(components, websocket)
        await registry.check_quota(target.room_id, target.name)
        conn_id = registry.admit(target.room_id, target.user_id, staff=target.staff)
    except (Refused, LimitReached, QuotaExceeded) as exc:
        await _close(websocket, 1008, str(exc))
        return
    except Exception:
        # Connection boundary: the database is unreachable, or a bug. The client retries.
        log.error("opening %s failed", websocket.url.path, exc_info=True)
        await _close(websocket, 1011, "the server could not open this document")
        return

    async def close(code: int, reason: str) -> None:
        await _close(websocket, code, reason)

    try:
        if sockets.changed_since(target.user_id, mark):
            # Their trust changed while this socket opened; the change found nothing to close.
            await close(CLOSE_RECONNECT, "your access changed; reconnect")
            return
        with sockets.opened(target.user_id, "docs", close):
            await _serve(components, websocket, conn_id, target)
    except Exception:
        log.error("document socket %s failed", conn_id, exc_info=True)
        await _close(websocket, 1011, "the server failed; reconnect to resync")
    finally:
        registry.dismiss(target.room_id, target.user_id)


async def _serve(
    components: Components, websocket: WebSocket, conn_id: int, target: Target
) -> None:
    registry, max_frame = components.docs, components.settings.max_frame_bytes
    room_id, name = target.room_id, str(target.name)
    floods = components.security.floods
    budget = floods.budget("docs")
    work = components.security.work
    doc = await registry.acquire(room_id, name)

    async def overflow() -> None:
        await _close(websocket, 1013, "too far behind: reconnect to resync")

    closing: list[asyncio.Task[None]] = []
    # The task handing the document an update's pieces (rooms/pieces.py rule 2), if any.
    feeding: asyncio.Task[None] | None = None

    def take(data: bytes) -> tuple[int, str] | None:
        """Hand one binary message to the document; the close code and reason if refused."""
        nonlocal feeding
        if len(data) > max_frame:
            return 1009, f"frame larger than {max_frame} bytes"
        if not budget.take():
            log.info("room %s doc %s conn %s: closed, a flood", room_id, name, conn_id)
            components.metrics.socket_floods.labels("docs").inc()
            floods.flooded(target.user_id)
            return 1008, budget.refusal("frames")
        refusal, later = hand(data)
        if later is not None:
            feeding = asyncio.ensure_future(feed(later))
        return refusal

    def hand(data: bytes, cut: bool = True) -> tuple[tuple[int, str] | None, Pieces | None]:
        """The document's part of ``take`` (an update's piece's too, ``cut=False``): the close
        code and reason if refused, else the pieces to hand it next (rooms/pieces.py)."""
        started = time.perf_counter()
        try:
            later = doc.receive(conn_id, data, cut=cut)
        except ProtocolError as exc:
            log.info("room %s doc %s conn %s: protocol error: %s", room_id, name, conn_id, exc)
            return (1002, str(exc)), None
        except QuotaExceeded as exc:
            return (1008, str(exc)), None
        finally:
            within = work.charge(target.user_id, time.perf_counter() - started)
        if not within:
            log.info("room %s doc %s conn %s: closed, too much work", room_id, name, conn_id)
            components.metrics.socket_floods.labels("docs").inc()
            floods.flooded(target.user_id, work.debt(target.user_id))
            return (1008, work.refusal()), None
        return None, later

    async def feed(pieces: Pieces) -> None:
        """pieces.py rule 2: one piece a turn of the loop, each handed over like a frame of
        this socket, as large as the last one's time allows."""
        units = FIRST_PIECE
        while pieces:
            await asyncio.sleep(0)  # every other socket's frames go first
            if closing:
                return
            started = time.perf_counter()
            try:
                refusal, _ = hand(update_frame(pieces.take(units)), cut=False)
            except Exception:
                log.error("document socket %s failed", conn_id, exc_info=True)
                refusal = 1011, "the server failed; reconnect to resync"
            if refusal is not None:
                closing.append(asyncio.ensure_future(_close(websocket, *refusal)))
                return
            units = next_piece(units, time.perf_counter() - started)

    def accepting() -> bool:
        """Whether a frame may be taken now: not while an update's pieces are handed over."""
        return feeding is None or feeding.done()

    def take_directly(data: bytes) -> None:
        """direct.py rule 4: called by uvicorn's data callback, so nothing may escape."""
        if closing:
            return  # refused already: the close is on its way
        try:
            refusal = take(data)
        except Exception:
            log.error("document socket %s failed", conn_id, exc_info=True)
            refusal = 1011, "the server failed; reconnect to resync"
        if refusal is not None:
            closing.append(asyncio.ensure_future(_close(websocket, *refusal)))

    raw_send = websocket.scope.get(RAW_SEND)
    direct = DirectWriter.of(raw_send)
    outbox = SocketOutbox(conn_id, registry.metrics, websocket.send_bytes, overflow, direct)
    components.keepalive.add(outbox)
    unwatch: Callable[[], None] | None = None
    stop_reading: Callable[[], None] | None = None

    def reloaded(code: int, reason: str) -> None:
        """registry.py rule 6: the document was damaged; this socket's client reconnects."""
        if not closing:
            outbox.close()
            closing.append(asyncio.ensure_future(_close(websocket, code, reason)))

    try:
        doc.join(
            outbox,
            writable=target.access is Access.WRITE,
            author=target.user_id,
            label=target.label,
            close=reloaded,
        )
        # A freeze or a driver swap reaches this socket while it is open (RoomRoles.set_lock).
        unwatch = components.doc_roles.watch(
            OpenSocket(
                room_id,
                target.user_id,
                target.role,
                target.groups,
                target.name,
                lambda writable: doc.sync.set_writable(conn_id, writable),
            )
        )
        stop_reading = read_directly(
            raw_send, take_directly, accepting, registry.metrics.frames_parsed
        )
        if stop_reading is not None:
            registry.metrics.direct_readers.inc()
        # What arrives here: frames queued before reading directly (and any behind them), text
        # frames, the disconnect; everything when the ASGI server is not uvicorn's sansio one.
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("bytes")
            if data is None:
                await _close(websocket, 1003, "the y-websocket protocol uses binary frames")
                break
            if feeding is not None:
                await feeding  # the pieces of the update before it go first
            if closing:
                break
            refusal = take(data)
            if refusal is not None:
                await _close(websocket, *refusal)
                break
    finally:
        if feeding is not None:
            feeding.cancel()
        if stop_reading is not None:
            stop_reading()
            registry.metrics.direct_readers.dec()
        if unwatch is not None:
            unwatch()
        outbox.close()
        components.keepalive.discard(outbox)
        doc.leave(conn_id)
        registry.release(doc)
        if closing:
            await asyncio.gather(*closing, return_exceptions=True)


routes: list[BaseRoute] = [WebSocketRoute("/yjs/{room}/{doc:path}", yjs_socket)]
