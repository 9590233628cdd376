"""The HTML pages (Jinja2) and the static bundle of the web client.

The pages carry no data of their own: each renders a skeleton plus a JSON boot block (page
name, user, room id; no token: sockets open with single-use tickets from
``POST /api/socket-tickets``), and ``web/static/app.js`` fetches the rest from the JSON API.
Who is signed in comes from the ``classroom_token`` cookie, which only ``POST /api/session``
sets: HttpOnly (no script reads it) and SameSite=Lax (no other site's form can post with it).
"""

from __future__ import annotations

import hashlib
import logging
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import StringConstraints
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from server.api.base import Ctx, charge, components_of, endpoint, security_of
from server.api.schemas import Strict
from server.auth import COOKIE_NAME, Caller
from server.classrooms.access import classroom_access, room_access
from server.exceptions import ApiError, BadRequest, Forbidden, Unauthorized
from server.models import Role, User
from server.security.origins import check_cookie_call
from server.security.redirects import safe_next

log = logging.getLogger("classroom.pages")

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
STATIC_DIR = WEB_DIR / "static"
templates = Jinja2Templates(directory=WEB_DIR / "templates")

# Scripts only from us; CodeMirror injects its styles at run time, hence 'unsafe-inline' for
# styles alone. The sockets are same-origin ('self' covers ws: and wss: on this host).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # The page names its user: never serve it from a cache.
    "Cache-Control": "no-store",
}


@cache
def asset_version() -> str:
    """A digest of the bundles and stylesheet, so a new build is never served from a cache
    (charts.js is loaded by app.js with the same version query)."""
    digest = hashlib.sha256()
    for name in ("app.js", "charts.js", "app.css"):
        path = STATIC_DIR / name
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()[:12]


class SessionBody(Strict):
    token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


async def _signed_in(request: Request) -> tuple[Caller, User] | None:
    """The caller of the page cookie and their user row, or None when absent or not valid."""
    token = request.cookies.get(COOKIE_NAME)
    if not token:
        return None
    components = components_of(request)
    try:
        caller = await components.security.sessions.verify(token)
    except Unauthorized:
        return None
    charge(components.security, caller)  # a page costs as an API call does
    async with components.store.session() as session:
        user = await session.get(User, caller.user_id)
    return (caller, user) if user is not None else None


def _render(
    request: Request,
    template: str,
    boot: dict[str, Any],
    who: tuple[Caller, User] | None,
    *,
    status: int = 200,
    **extra: Any,
) -> Response:
    context: dict[str, Any] = {"boot": boot, "asset_version": asset_version(), **extra}
    context["user"] = None
    if who is not None:
        caller, user = who
        context["user"] = {"id": user.id, "name": user.name, "kind": caller.kind.value}
        # No token in the page: API calls ride on the cookie (with the Origin check) and each
        # socket gets a single-use ticket from POST /api/socket-tickets.
        boot.update(user={"id": user.id, "name": user.name, "kind": caller.kind.value})
    return templates.TemplateResponse(
        request, template, context, status_code=status, headers=SECURITY_HEADERS
    )


async def landing(request: Request) -> Response:
    return _render(request, "join.html", {"page": "join"}, await _signed_in(request))


async def login_page(request: Request) -> Response:
    boot = {"page": "login", "next": safe_next(request.query_params.get("next"))}
    return _render(request, "login.html", boot, await _signed_in(request))


async def dashboard(request: Request) -> Response:
    who = await _signed_in(request)
    if who is None:
        return RedirectResponse("/login?next=/dashboard", status_code=303)
    if not who[0].is_instructor:
        return RedirectResponse("/", status_code=303)
    return _render(request, "dashboard.html", {"page": "dashboard"}, who)


async def room_page(request: Request) -> Response:
    room_id: int = request.path_params["room_id"]
    who = await _signed_in(request)
    if who is None:
        return RedirectResponse("/", status_code=303)
    try:
        async with components_of(request).store.session() as session:
            access = await room_access(session, room_id, who[0].user_id)
    except ApiError as exc:
        return _render(
            request,
            "error.html",
            {"page": "error"},
            who,
            status=exc.status_code,
            message=exc.message,
        )
    boot: dict[str, Any] = {"page": "room", "room_id": room_id, "role": access.role.value}
    return _render(request, "room.html", boot, who, role=access.role.value, title=access.room.title)


async def gradebook_page(request: Request) -> Response:
    """The gradebook of a classroom (staff): the table comes from /api/.../gradebook."""
    classroom_id: int = request.path_params["classroom_id"]
    who = await _signed_in(request)
    if who is None:
        return RedirectResponse(f"/login?next=/classrooms/{classroom_id}/gradebook", 303)
    try:
        async with components_of(request).store.session() as session:
            classroom, _ = await classroom_access(
                session, classroom_id, who[0].user_id, roles=(Role.INSTRUCTOR, Role.ASSISTANT)
            )
    except ApiError as exc:
        return _render(
            request,
            "error.html",
            {"page": "error"},
            who,
            status=exc.status_code,
            message=exc.message,
        )
    boot: dict[str, Any] = {"page": "gradebook", "classroom_id": classroom_id}
    return _render(request, "gradebook.html", boot, who, title=classroom.title)


def _same_origin_json(request: Request) -> None:
    """Refuse a cross-site attempt to sign a visitor in as someone else (login CSRF): another
    site's form cannot send JSON, and a browser names the page's origin on a POST."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise BadRequest("send the token as application/json", code="json_required")
    origin = request.headers.get("origin")
    # The host alone: behind a TLS-terminating proxy the scheme we see may differ.
    if origin is not None and urlsplit(origin).netloc != request.url.netloc:
        raise Forbidden("a session can only be started from this site", code="cross_origin")


def _same_origin_json_origin(request: Request) -> None:
    """Sign-out with the cookie: a foreign page may not sign the visitor out."""
    check_cookie_call(request.method, request.headers, security_of(request).allowed_origins)


@endpoint("POST", "/api/session", body=SessionBody, auth=False, status=204, tag="pages")
async def start_session(ctx: Ctx) -> Response:
    """Keep a token from login or join in the HttpOnly page cookie."""
    _same_origin_json(ctx.request)
    token = ctx.body(SessionBody).token
    await ctx.components.security.sessions.verify(token)
    response = Response(status_code=204)
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=ctx.components.signer.ttl_seconds,
        path="/",
        httponly=True,
        samesite="lax",
        secure=ctx.request.url.scheme == "https",
    )
    return response


@endpoint("DELETE", "/api/session", auth=False, status=204, tag="pages")
async def end_session(ctx: Ctx) -> Response:
    """Sign out of the pages: drop the cookie and revoke the session it carried."""
    token = ctx.request.cookies.get(COOKIE_NAME)
    if token:
        _same_origin_json_origin(ctx.request)
        try:
            caller = await ctx.components.security.sessions.verify(token)
        except Unauthorized:
            caller = None
        if caller is not None:
            await ctx.components.security.sessions.revoke(caller.user_id)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax")
    return response


routes: list[BaseRoute] = [
    Route("/", landing, methods=["GET"]),
    Route("/login", login_page, methods=["GET"]),
    Route("/dashboard", dashboard, methods=["GET"]),
    Route("/rooms/{room_id:id}", room_page, methods=["GET"]),
    Route("/classrooms/{classroom_id:id}/gradebook", gradebook_page, methods=["GET"]),
    start_session,
    end_session,
    # The bundle is about 1 MB minified and a third of that gzipped.
    Mount("/static", app=GZipMiddleware(StaticFiles(directory=STATIC_DIR)), name="static"),
]

# For the pages of feature packages (server/lesson/pages.py).
render_page = _render
signed_in = _signed_in
