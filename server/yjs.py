"""``ws /yjs/{room}/{doc}?token=…``: the y-websocket protocol, unchanged, one socket per document.

The endpoint only moves bytes: it checks who may open what, then hands each frame to the
:class:`~server.docs_registry.LoadedDocument` and drains this socket's outbox. Close codes:
1008 for a refused token, room, document or limit (before any content is sent); 1002 for a
frame that breaks the protocol; 1003 for a text frame; 1009 for a frame over
``max_frame_bytes``; 1013 for a client too slow to keep up (it reconnects and resyncs).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from rooms.documents import STAFF_ROLES, Access, DocumentName, access, parse_document_name
from rooms.exceptions import InvalidDocumentName, ProtocolError
from server.doc_access import RoomRoles
from server.doc_outbox import SocketOutbox
from server.docs_metrics import DocMetrics
from server.docs_registry import DocumentRegistry, LimitReached
from server.docstore import DocStore
from server.exceptions import ApiError
from server.security.quotas import DocumentQuota, QuotaExceeded
from server.security.socket_auth import socket_caller
from server.state import AppState

log = logging.getLogger("classroom.yjs")


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
        await websocket.close(code, reason[:120])


class Refused(Exception):
    pass


@dataclass(frozen=True)
class Target:
    room_id: int
    user_id: int
    name: DocumentName
    access: Access
    staff: bool = False


async def _authorize(state: AppState, websocket: WebSocket) -> Target:
    """Who opens which document with what access, or Refused with the reason to close with."""
    try:
        caller = await socket_caller(state.get("security"), websocket)
        raw_room = websocket.path_params["room"]
        if not raw_room.isdigit():
            raise Refused(f"unknown room {raw_room[:40]!r}")
        room_id = int(raw_room)
        name = parse_document_name(websocket.path_params["doc"])
        roles: RoomRoles = state.get("doc_roles")
        role, groups = await roles.lookup(room_id, caller)
        allowed = access(name, role=role, user_id=caller.user_id, pair_groups=groups)
    except ApiError as exc:
        raise Refused(exc.message) from None
    except InvalidDocumentName as exc:
        raise Refused(str(exc)) from None
    if allowed is Access.NONE:
        raise Refused(f"you may not open {name}")
    return Target(room_id, caller.user_id, name, allowed, staff=role in STAFF_ROLES)


async def yjs_socket(websocket: WebSocket) -> None:
    state: AppState = websocket.app.state.classroom
    registry: DocumentRegistry = state.get("docs")
    await websocket.accept()
    try:
        target = await _authorize(state, websocket)
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
        with state.get("security").sockets.opened(target.user_id, "docs", close):
            await _serve(state, registry, websocket, conn_id, target)
    except Exception:
        log.error("document socket %s failed", conn_id, exc_info=True)
        await _close(websocket, 1011, "the server failed; reconnect to resync")
    finally:
        registry.dismiss(target.room_id, target.user_id)


async def _serve(
    state: AppState,
    registry: DocumentRegistry,
    websocket: WebSocket,
    conn_id: int,
    target: Target,
) -> None:
    max_frame = state.settings.max_frame_bytes
    room_id, name = target.room_id, str(target.name)
    doc = await registry.acquire(room_id, name)

    async def overflow() -> None:
        await _close(websocket, 1013, "too far behind: reconnect to resync")

    outbox = SocketOutbox(conn_id, registry.metrics, websocket.send_bytes, overflow)
    try:
        doc.join(outbox, writable=target.access is Access.WRITE, user=target.user_id)
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("bytes")
            if data is None:
                await _close(websocket, 1003, "the y-websocket protocol uses binary frames")
                break
            if len(data) > max_frame:
                await _close(websocket, 1009, f"frame larger than {max_frame} bytes")
                break
            try:
                doc.receive(conn_id, data)
            except ProtocolError as exc:
                log.info("room %s doc %s conn %s: protocol error: %s", room_id, name, conn_id, exc)
                await _close(websocket, 1002, str(exc))
                break
            except QuotaExceeded as exc:
                await _close(websocket, 1008, str(exc))
                break
    finally:
        outbox.close()
        doc.leave(conn_id)
        registry.release(doc)


routes: list[BaseRoute] = [WebSocketRoute("/yjs/{room}/{doc:path}", yjs_socket)]


def install(state: AppState) -> None:
    """Create this process's document registry and register it as the ``docs`` component."""
    settings = state.settings
    docstore = DocStore(
        state.store,
        compact_after=settings.compact_after_updates,
        batch_ms=settings.persist_batch_ms,
    )
    registry = DocumentRegistry(
        docstore,
        state.bus,
        DocMetrics(state.metrics.registry),
        unload_grace_seconds=settings.room_unload_grace_seconds,
        max_per_room=settings.max_connections_per_room,
        max_per_user=settings.max_connections_per_user,
        staff_reserved=settings.staff_reserved_connections,
        quota=DocumentQuota(
            settings.max_docs_per_user, settings.max_docs_per_room, settings.max_doc_bytes
        ),
    )
    state.add("docs", registry)
    # Not a lifecycle component: a cache that endpoints reach with state.get("doc_roles").
    state.components["doc_roles"] = RoomRoles(state.store)
