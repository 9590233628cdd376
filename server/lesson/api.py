"""The lesson controls over HTTP: the same commands as on the events socket, checked the same
way (:func:`rooms.events.parse_command` with the caller's role in the room).

``POST /api/rooms/{id}/lesson/{action}`` runs ``lesson.{action}`` and
``POST /api/rooms/{id}/pairs/{action}`` runs ``pairs.{action}``; the JSON body holds the
command's fields; the reply is what the socket would answer (``lesson.done`` or
``lesson.pushed``). A refusal is ``{"error": {code, message}}``: 403 ``forbidden`` for a
student, 400 otherwise.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rooms.events import EventError, parse_command
from server.api.base import bearer_token, components_of, error_response
from server.classrooms.access import room_access
from server.exceptions import ApiError, BadRequest
from server.lesson.component import Actor

MAX_BODY = 256 * 1024


async def _run(request: Request, kind: str) -> Response:
    components = components_of(request)
    try:
        caller = components.signer.verify(bearer_token(request))
        room_id = int(request.path_params["room_id"])
        async with components.store.session() as session:
            access = await room_access(session, room_id, caller.user_id)
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise BadRequest(f"the body is larger than {MAX_BODY} bytes", code="body_too_large")
        try:
            body: Any = json.loads(raw) if raw.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise BadRequest("the body is not valid JSON", code="invalid_json") from None
        if not isinstance(body, dict):
            raise BadRequest("the body is a JSON object", code="invalid_body")
        command = parse_command(json.dumps({**body, "type": kind}), access.role.value)
        reply = await components.lesson.run(
            room_id, Actor(caller.user_id, access.role.value), command
        )
    except ApiError as exc:
        return error_response(exc)
    except EventError as exc:
        status = 403 if exc.code == "forbidden" else 400
        return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status)
    return JSONResponse(reply)


async def lesson_action(request: Request) -> Response:
    return await _run(request, f"lesson.{request.path_params['action']}")


async def pairs_action(request: Request) -> Response:
    return await _run(request, f"pairs.{request.path_params['action']}")


routes: list[BaseRoute] = [
    Route("/api/rooms/{room_id:int}/lesson/{action}", lesson_action, methods=["POST"]),
    Route("/api/rooms/{room_id:int}/pairs/{action}", pairs_action, methods=["POST"]),
]
