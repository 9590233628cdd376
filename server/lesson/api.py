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

from pydantic import BaseModel, ConfigDict
from starlette.routing import BaseRoute

from rooms.events import EventError, parse_command
from server.api.base import Ctx, endpoint
from server.classrooms.access import room_access
from server.exceptions import BadRequest, Forbidden
from server.lesson.component import Actor


class CommandFields(BaseModel):
    """The command's own fields (checked by :func:`rooms.events.parse_command`)."""

    model_config = ConfigDict(extra="allow")


async def _run(ctx: Ctx, kind: str) -> dict[str, Any]:
    room_id = ctx.path_int("room_id")
    async with ctx.session() as session:
        access = await room_access(session, room_id, ctx.caller.user_id)
    body = ctx.body(CommandFields).model_dump()
    try:
        command = parse_command(json.dumps({**body, "type": kind}), access.role.value)
        reply: dict[str, Any] = await ctx.components.lesson.run(
            room_id, Actor(ctx.caller.user_id, access.role.value), command
        )
    except EventError as exc:
        error = Forbidden if exc.code == "forbidden" else BadRequest
        raise error(exc.message, code=exc.code) from None
    return reply


@endpoint("POST", "/api/rooms/{room_id:id}/lesson/{action:str}", body=CommandFields, tag="lesson")
async def lesson_action(ctx: Ctx) -> dict[str, Any]:
    """``lesson.{action}`` (spotlight, push, freeze, unfreeze, announce, countdown)."""
    return await _run(ctx, f"lesson.{ctx.request.path_params['action']}")


@endpoint("POST", "/api/rooms/{room_id:id}/pairs/{action:str}", body=CommandFields, tag="lesson")
async def pairs_action(ctx: Ctx) -> dict[str, Any]:
    """``pairs.{action}`` (make, rotate, repair)."""
    return await _run(ctx, f"pairs.{ctx.request.path_params['action']}")


routes: list[BaseRoute] = [lesson_action, pairs_action]
