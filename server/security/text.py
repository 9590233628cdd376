"""Text the store can hold: no NUL (U+0000) from a client or a program reaches a text column.

Design note. PostgreSQL's ``text`` and ``varchar`` cannot hold U+0000 (psycopg: "PostgreSQL
text fields cannot contain NUL (0x00) bytes"); SQLite can. Each way a NUL reached such a
column failed on PostgreSQL alone, with a traceback in the log:

- a name with ``%00`` in an address: a 500 on every route that looks a name up (a run, an
  exercise, a demo, an asset, hints), for anybody signed in, and on ``/lti/login`` and
  ``/lti/launch`` for anybody at all;
- ``\\u0000`` in a comment or a raised hand's message: a 500, an ``internal_error``;
- a program printing a NUL byte (``printf("%c", 0)``, a common C slip): its run was never
  recorded as finished, and stayed "running" in every list.

Rule 1 — an address (path or query string) holding a NUL is refused before any route runs
(:class:`NulAddressMiddleware`): HTTP gets 400 ``invalid_address``, a WebSocket is closed with
1008. None of our names holds a NUL; the HTTP parser already refuses one written raw, so only
``%00`` reaches us.

Rule 2 — JSON from a client (bodies, room socket commands) is refused by
:mod:`rooms.client_json` rule 5.

Rule 3 — a form field holding a NUL is refused by the endpoint that reads the form
(:func:`holds_nul`; the LTI login and launch, from the LMS's page).

Rule 4 — what a program wrote is its own, not a client's: it streams to the room as written
(JSON carries ``\\u0000``), and is stored with each NUL shown as U+FFFD, as an undecodable byte
already is (:func:`sandbox.output.storable`, which does the same for half of a surrogate pair
that a runner's JSON handed on). Both databases store the same text.
"""

from __future__ import annotations

import logging

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("classroom.security")

NUL = "\x00"


def holds_nul(*texts: str) -> bool:
    return any(NUL in text for text in texts)


class NulAddressMiddleware:
    """Rule 1: an address holding a NUL never reaches a route."""

    REASON = "the address holds a NUL byte (%00)"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not _nul_address(scope):
            await self.app(scope, receive, send)
            return
        log.info("refused %s %r: %s", scope["type"], scope.get("path", ""), self.REASON)
        if scope["type"] == "http":
            body = {"error": {"code": "invalid_address", "message": self.REASON}}
            await JSONResponse(body, status_code=400)(scope, receive, send)
            return
        # As the endpoints refuse a socket: accepted, then closed with the reason.
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1008, "reason": self.REASON})


def _nul_address(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return NUL in scope.get("path", "") or b"%00" in query
