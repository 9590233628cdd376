"""The lesson's pages: the projector view of a room (large type, no chrome) and a student's
own progress page. Like every page they carry no data: ``web/src/projector.js`` and
``web/src/progress.js`` read the events socket and the JSON API."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.api.base import components_of
from server.classrooms.access import room_access
from server.exceptions import ApiError
from server.ids import parse_id
from server.pages import render_page, signed_in


async def projector_page(request: Request) -> Response:
    room_id: int = request.path_params["room_id"]
    who = await signed_in(request)
    if who is None:
        return RedirectResponse(f"/login?next=/rooms/{room_id}/projector", status_code=303)
    try:
        async with components_of(request).store.session() as session:
            access = await room_access(session, room_id, who[0].user_id, staff=True)
    except ApiError as exc:
        return render_page(
            request,
            "error.html",
            {"page": "error"},
            who,
            status=exc.status_code,
            message=exc.message,
        )
    boot: dict[str, Any] = {"page": "projector", "room_id": room_id}
    return render_page(request, "projector.html", boot, who, title=access.room.title)


async def progress_page(request: Request) -> Response:
    who = await signed_in(request)
    if who is None:
        return RedirectResponse("/", status_code=303)
    boot: dict[str, Any] = {"page": "progress"}
    # ?user= names the student (staff see anyone's; the API refuses a student another's).
    for param, key in (("classroom", "classroom"), ("user", "student")):
        value = parse_id(request.query_params.get(param))
        if value is not None:
            boot[key] = value
    return render_page(request, "progress.html", boot, who)


routes: list[BaseRoute] = [
    Route("/rooms/{room_id:id}/projector", projector_page, methods=["GET"]),
    Route("/progress", progress_page, methods=["GET"]),
]
