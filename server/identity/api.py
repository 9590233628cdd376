"""Identity over HTTP: rejoin codes, a student's own email and password, rosters, renaming,
merging, the join policy; and the ``/rejoin/{code}`` page a phone opens from the QR code."""

from __future__ import annotations

import html
import secrets
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import StringConstraints
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.api.base import Ctx, components_of, endpoint
from server.api.schemas import Name, Strict
from server.auth import COOKIE_NAME
from server.classrooms.access import classroom_access
from server.exceptions import ApiError, BadRequest, Conflict, NotFound
from server.identity import codes, roster
from server.identity.component import Identity
from server.ids import Id
from server.models import AccountMerge, Classroom, Membership, Role, RosterEntry, User, UserKind
from server.security.bodies import declared_over

MAX_ROSTER_BYTES = 1 << 20
STAFF = (Role.INSTRUCTOR, Role.ASSISTANT)


class RejoinBody(Strict):
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class CredentialsBody(Strict):
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]
    password: Annotated[str, StringConstraints(min_length=8, max_length=1024)]


class RenameBody(Strict):
    name: Name


class MergeBody(Strict):
    from_user_id: Id
    into_user_id: Id


class PolicyBody(Strict):
    roster_required: bool


def _identity(ctx: Ctx | Request) -> Identity:
    return (ctx.components if isinstance(ctx, Ctx) else components_of(ctx)).identity


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def rejoin_link(request: Request, public_url: str | None, code: str) -> str:
    base = (public_url or str(request.base_url)).rstrip("/")
    # The code rides in the fragment: a browser never sends it, so no access log keeps it.
    return f"{base}/rejoin#{code}"


def _code_out(request: Request, public_url: str | None, code: str) -> dict[str, str]:
    link = rejoin_link(request, public_url, code)
    return {"code": code, "url": link, "qr_svg": codes.qr_svg(link)}


async def _sign_in_with(request: Request, typed: str) -> tuple[User, list[dict[str, Any]]]:
    state = components_of(request)
    async with state.store.session() as session:
        user = await _identity(request).redeemer.user_for(session, _address(request), typed)
        rows = await session.exec(
            select(Classroom.id, Classroom.title)
            .join(Membership, col(Membership.classroom_id) == Classroom.id)
            .where(Membership.user_id == user.id)
            .order_by(col(Classroom.id))
        )
        classrooms = [{"id": cid, "title": title} for cid, title in rows.all()]
    return user, classrooms


@endpoint("POST", "/api/rejoin", body=RejoinBody, auth=False, tag="identity")
async def rejoin(ctx: Ctx) -> dict[str, Any]:
    """Sign back in as oneself with a personal code (rate-limited per address)."""
    user, classrooms = await _sign_in_with(ctx.request, ctx.body(RejoinBody).code)
    assert user.id is not None
    token = await ctx.components.security.sessions.sign(user.id, UserKind(user.kind))
    return {
        "token": token,
        "user": {"id": user.id, "name": user.name, "role": user.kind},
        "classrooms": classrooms,
    }


@endpoint("POST", "/api/me/rejoin-code", status=201, tag="identity")
async def my_code(ctx: Ctx) -> dict[str, str]:
    """A new personal code for the caller (the old one stops working), with its QR code."""
    async with ctx.session() as session:
        code = await codes.issue(session, ctx.caller.user_id)
    return _code_out(ctx.request, ctx.components.settings.public_url, code)


@endpoint("PUT", "/api/me/credentials", body=CredentialsBody, tag="identity")
async def set_credentials(ctx: Ctx) -> dict[str, Any]:
    """Set the caller's email and password, to sign in with ``/api/auth/login`` too."""
    body = ctx.body(CredentialsBody)
    email = body.email.lower()
    if "@" not in email or any(c.isspace() for c in email):
        raise BadRequest(f"{body.email!r} is not an email address", code="bad_email")
    # Each hash costs argon2's 64 MiB and tens of ms of a core: on the bounded sign-in pool,
    # a few a minute. On the default executor, 20 at a time from one student took both cores
    # and 385 MiB, and another student's ping went from 0.5 to 13 ms (p99 75 ms).
    security = ctx.components.security
    await security.limiter.check_budget(
        "credentials-user", str(ctx.caller.user_id), "password changes"
    )
    password_hash = await security.passwords.hash(body.password)
    async with ctx.session() as session:
        taken = (await session.exec(select(User.id).where(User.email == email))).first()
        if taken is not None and taken != ctx.caller.user_id:
            raise Conflict("another account has this email", code="email_taken")
        user = await session.get(User, ctx.caller.user_id)
        if user is None:
            raise NotFound("the token's user no longer exists")
        user.email, user.password_hash = email, password_hash
        session.add(user)
    return {"id": ctx.caller.user_id, "email": email}


@endpoint("POST", "/api/classrooms/{classroom_id:id}/roster", tag="identity")
async def import_roster(ctx: Ctx) -> dict[str, Any]:
    """Import a roster CSV (name, email, student_id); new students get personal codes."""
    classroom_id = ctx.path_int("classroom_id")
    if declared_over(ctx.request, MAX_ROSTER_BYTES):
        raise BadRequest(
            f"the roster is larger than {MAX_ROSTER_BYTES} bytes", code="body_too_large"
        )
    raw = await ctx.request.body()
    if len(raw) > MAX_ROSTER_BYTES:
        raise BadRequest(
            f"the roster is larger than {MAX_ROSTER_BYTES} bytes", code="body_too_large"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the roster must be UTF-8 text", code="bad_roster") from None
    async with ctx.session() as session:
        await classroom_access(session, classroom_id, ctx.caller.user_id, roles=(Role.INSTRUCTOR,))
        students = await roster.import_roster(session, classroom_id, text)
    for student in students:
        if student["code"] is not None:
            link = rejoin_link(ctx.request, ctx.components.settings.public_url, student["code"])
            student["url"] = link
    return {"students": students}


@endpoint("GET", "/api/classrooms/{classroom_id:id}/roster", tag="identity")
async def list_roster(ctx: Ctx) -> dict[str, Any]:
    """The roster (staff), and whether joining requires being on it."""
    classroom_id = ctx.path_int("classroom_id")
    async with ctx.session() as session:
        await classroom_access(session, classroom_id, ctx.caller.user_id, roles=STAFF)
        entries = (
            await session.exec(
                select(RosterEntry)
                .where(RosterEntry.classroom_id == classroom_id)
                .order_by(col(RosterEntry.name))
            )
        ).all()
        required = await roster.roster_required(session, classroom_id)
    return {
        "roster_required": required,
        "students": [
            {"user_id": e.user_id, "name": e.name, "email": e.email, "student_id": e.student_id}
            for e in entries
        ],
    }


@endpoint("PUT", "/api/classrooms/{classroom_id:id}/join-policy", body=PolicyBody, tag="identity")
async def set_join_policy(ctx: Ctx) -> dict[str, Any]:
    """Require roster membership to join (instructors)."""
    classroom_id = ctx.path_int("classroom_id")
    required = ctx.body(PolicyBody).roster_required
    async with ctx.session() as session:
        await classroom_access(session, classroom_id, ctx.caller.user_id, roles=(Role.INSTRUCTOR,))
        await roster.set_policy(session, classroom_id, required)
    return {"classroom_id": classroom_id, "roster_required": required}


async def _student_of(ctx: Ctx, classroom_id: int, user_id: int) -> None:
    async with ctx.session() as session:
        await classroom_access(session, classroom_id, ctx.caller.user_id, roles=(Role.INSTRUCTOR,))
        role = (
            await session.exec(
                select(Membership.role).where(
                    Membership.classroom_id == classroom_id, Membership.user_id == user_id
                )
            )
        ).first()
    if role != Role.STUDENT.value:
        raise NotFound(f"user {user_id} is not a student of this classroom", code="not_a_student")


@endpoint(
    "POST",
    "/api/classrooms/{classroom_id:id}/students/{user_id:id}/rejoin-code",
    status=201,
    tag="identity",
)
async def student_code(ctx: Ctx) -> dict[str, str]:
    """A new personal code for a student of the classroom (instructors), with its QR code."""
    user_id = ctx.path_int("user_id")
    await _student_of(ctx, ctx.path_int("classroom_id"), user_id)
    async with ctx.session() as session:
        code = await codes.issue(session, user_id)
    return _code_out(ctx.request, ctx.components.settings.public_url, code)


@endpoint(
    "POST",
    "/api/classrooms/{classroom_id:id}/students/{user_id:id}/rename",
    body=RenameBody,
    tag="identity",
)
async def rename(ctx: Ctx) -> dict[str, Any]:
    """Rename a student of the classroom (instructors)."""
    user_id, name = ctx.path_int("user_id"), ctx.body(RenameBody).name
    await _student_of(ctx, ctx.path_int("classroom_id"), user_id)
    async with ctx.session() as session:
        user = await session.get(User, user_id)
        assert user is not None
        user.name = name
        session.add(user)
    return {"id": user_id, "name": name}


@endpoint("POST", "/api/classrooms/{classroom_id:id}/merge", body=MergeBody, tag="identity")
async def merge(ctx: Ctx) -> dict[str, Any]:
    """Merge two accounts of one student (instructors): everything of ``from`` goes to ``into``."""
    classroom_id, body = ctx.path_int("classroom_id"), ctx.body(MergeBody)
    async with ctx.session() as session:
        await classroom_access(session, classroom_id, ctx.caller.user_id, roles=(Role.INSTRUCTOR,))
    record = await _identity(ctx).merger.merge(
        classroom_id, body.from_user_id, body.into_user_id, ctx.caller.user_id
    )
    return _merge_out(record)


@endpoint("DELETE", "/api/classrooms/{classroom_id:id}/members/{user_id:id}", tag="identity")
async def remove_member(ctx: Ctx) -> dict[str, Any]:
    """Take a member out of the classroom (instructors; not oneself, nor the owner): their
    sockets close, their hands are lowered, the boards are rebuilt without them. What they
    made is kept."""
    classroom_id = ctx.path_int("classroom_id")
    async with ctx.session() as session:
        await classroom_access(session, classroom_id, ctx.caller.user_id, roles=(Role.INSTRUCTOR,))
    return await _identity(ctx).removal.remove(
        classroom_id, ctx.path_int("user_id"), ctx.caller.user_id
    )


@endpoint("GET", "/api/classrooms/{classroom_id:id}/merges", tag="identity")
async def list_merges(ctx: Ctx) -> dict[str, Any]:
    """The merge audit records of the classroom (staff)."""
    classroom_id = ctx.path_int("classroom_id")
    async with ctx.session() as session:
        await classroom_access(session, classroom_id, ctx.caller.user_id, roles=STAFF)
        rows = (
            await session.exec(
                select(AccountMerge)
                .where(AccountMerge.classroom_id == classroom_id)
                .order_by(col(AccountMerge.id))
            )
        ).all()
    return {"merges": [_merge_out(r) for r in rows]}


def _merge_out(record: AccountMerge) -> dict[str, Any]:
    return {
        "id": record.id,
        "from_user_id": record.source_user_id,
        "into_user_id": record.target_user_id,
        "from_name": record.source_name,
        "by_user_id": record.by_user_id,
        "moved": record.moved,
        "at": record.created_at.isoformat(),
    }


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign back in</title>
</head><body><main><h1>Sign back in</h1><p>{message}</p>{form}</main>{script}</body></html>"""
_FORM = """<form method="post" action="/rejoin"><label for="code">Personal code</label>
<input id="code" name="code" required maxlength="40" autocomplete="off" autocapitalize="characters">
<button type="submit">Continue</button></form>"""
# Moves the code from the link's fragment into the field, and out of the address bar.
_FILL = """<script nonce="{nonce}">const code = decodeURIComponent(location.hash.slice(1));
if (code) {{ document.getElementById("code").value = code;
history.replaceState(null, "", location.pathname); }}</script>"""


def _headers(nonce: str = "") -> dict[str, str]:
    script = f"script-src 'nonce-{nonce}'; " if nonce else ""
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; {script}form-action 'self'; frame-ancestors 'none'"
        ),
        "Cache-Control": "no-store",
        # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on
        # the form's POST, and the origin check could not tell us from another site.
        "Referrer-Policy": "same-origin",
    }


def _page(message: str, status: int = 200, *, form: bool = False) -> HTMLResponse:
    nonce = secrets.token_urlsafe(12) if form else ""
    script = _FILL.format(nonce=nonce) if form else ""
    body = _PAGE.format(message=html.escape(message), form=_FORM if form else "", script=script)
    return HTMLResponse(body, status, headers=_headers(nonce))


async def rejoin_page(request: Request) -> Response:
    """What a phone opens from the QR code (``/rejoin#CODE``): the code in a form and one
    button, so a link preview signs no one in and no other site can sign a visitor in as
    someone else (the POST must come from this origin)."""
    return _page("Continue to your classroom as yourself.", form=True)


async def rejoin_form(request: Request) -> Response:
    origin = request.headers.get("origin")
    # The host alone, as for /api/session: behind a TLS proxy the scheme we see may differ.
    if origin is not None and urlsplit(origin).netloc != request.url.netloc:
        return _page("Open the link again.", 403)
    form = await request.form()
    typed = form.get("code")
    try:
        user, _ = await _sign_in_with(request, typed if isinstance(typed, str) else "")
    except ApiError as exc:
        return _page(exc.message, exc.status_code, form=True)
    assert user.id is not None
    state = components_of(request)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        await state.security.sessions.sign(user.id, UserKind(user.kind)),
        max_age=state.signer.ttl_seconds,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


routes: list[BaseRoute] = [
    rejoin,
    my_code,
    set_credentials,
    import_roster,
    list_roster,
    set_join_policy,
    student_code,
    rename,
    merge,
    remove_member,
    list_merges,
    Route("/rejoin", rejoin_page, methods=["GET"]),
    Route("/rejoin", rejoin_form, methods=["POST"]),
]
