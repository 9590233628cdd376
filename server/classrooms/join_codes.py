"""Join codes: an instructor rotates a classroom's code (the old one stops working) or closes
joining until the next rotation."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from starlette.responses import Response
from starlette.routing import BaseRoute

from server.api.base import Ctx, endpoint
from server.classrooms.access import classroom_access
from server.classrooms.api import new_join_code
from server.exceptions import Conflict
from server.models import Classroom, ClosedJoinCode, Role


@endpoint("POST", "/api/classrooms/{classroom_id:id}/join-code", tag="classrooms")
async def rotate_join_code(ctx: Ctx) -> dict[str, Any]:
    """Give the classroom a new join code (and reopen joining); the old code stops working."""
    classroom_id = ctx.path_int("classroom_id")
    async with ctx.session() as session:
        classroom, _ = await classroom_access(
            session, classroom_id, ctx.caller.user_id, roles=(Role.INSTRUCTOR,)
        )
        for _ in range(10):
            code = new_join_code()
            taken = await session.exec(select(Classroom.id).where(Classroom.join_code == code))
            if taken.first() is None:
                break
        else:
            raise Conflict("no free join code was found; try again", code="join_code_taken")
        classroom.join_code = code
        session.add(classroom)
        closed = await session.get(ClosedJoinCode, classroom_id)
        if closed is not None:
            await session.delete(closed)
    return {"id": classroom_id, "join_code": code, "open": True}


@endpoint("DELETE", "/api/classrooms/{classroom_id:id}/join-code", status=204, tag="classrooms")
async def close_join_code(ctx: Ctx) -> Response:
    """Close joining: the code is refused until an instructor rotates it."""
    classroom_id = ctx.path_int("classroom_id")
    async with ctx.session() as session:
        await classroom_access(session, classroom_id, ctx.caller.user_id, roles=(Role.INSTRUCTOR,))
        if await session.get(ClosedJoinCode, classroom_id) is None:
            session.add(ClosedJoinCode(classroom_id=classroom_id))
    return Response(status_code=204)


routes: list[BaseRoute] = [rotate_join_code, close_join_code]
