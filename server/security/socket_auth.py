"""Who opens a socket: the ``Origin`` check, then a single-use ticket (pages), a bearer token
(tools: Node or Python Yjs clients, ``?token=``) or the page cookie."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.websockets import WebSocket

from server.auth import COOKIE_NAME, Caller
from server.exceptions import Forbidden
from server.security.origins import socket_origin_refusal

if TYPE_CHECKING:
    from server.security.component import Security


async def socket_caller(security: Security, websocket: WebSocket) -> Caller:
    """The caller of a socket, or an ApiError whose message is the close reason."""
    refusal = socket_origin_refusal(websocket.headers, security.allowed_origins)
    if refusal is not None:
        raise Forbidden(refusal, code="cross_origin")
    ticket = websocket.query_params.get("ticket")
    if ticket:
        return await security.sessions.redeem(ticket)
    token = websocket.query_params.get("token") or websocket.cookies.get(COOKIE_NAME)
    return await security.sessions.verify(token)
