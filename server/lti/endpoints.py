"""The LTI endpoints the platform talks to: ``/lti/login`` (OIDC login initiation, GET and
POST), ``/lti/launch`` (the id_token form post), ``/lti/deep-link`` (the picker's answer),
``/lti/jwks``, ``/lti/config`` and ``/lti/register`` (Dynamic Registration)."""

from __future__ import annotations

import html
import logging
import secrets

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from rooms.lti import DEEP_LINKING
from server.api.base import components_of
from server.auth import COOKIE_NAME
from server.exceptions import BadRequest, ServiceUnavailable
from server.lti import registration
from server.lti.config import tool_configuration
from server.lti.deep_linking import DeepLinks
from server.lti.exceptions import PlatformError
from server.lti.launch import check_launch, start_login
from server.lti.provision import provision
from server.lti.tool import LtiTool
from server.security.text import holds_nul

log = logging.getLogger("classroom.lti")


def _tool(request: Request) -> LtiTool:
    found: LtiTool = components_of(request).lti
    return found


def _deep_links(request: Request) -> DeepLinks:
    state = components_of(request)
    return DeepLinks(state.store, _tool(request).key, state.settings.secret_key)


async def _params(request: Request) -> dict[str, str]:
    if request.method == "POST":
        form = await request.form()
        params = {k: v for k, v in form.items() if isinstance(v, str)}
    else:
        params = dict(request.query_params)
    if holds_nul(*params.values()):  # security/text.py rule 3
        raise BadRequest("a form field holds a NUL byte", code="invalid_form")
    return params


async def login(request: Request) -> Response:
    tool = _tool(request)
    tool.admit_login(request)
    url, _ = await start_login(
        tool.store, await _params(request), f"{tool.base_url(request)}/lti/launch"
    )
    return RedirectResponse(url, status_code=302)


async def launch(request: Request) -> Response:
    tool = _tool(request)
    state = components_of(request)
    form = await _params(request)
    platform, checked, _ = await check_launch(
        tool.store, tool.platform_keys, form.get("id_token", ""), form.get("state", "")
    )
    landing = await provision(tool.store, platform, checked)
    if landing.role_changed:  # the LMS says otherwise now: open sockets reopen with the new role
        await state.security.sessions.announce(landing.user_id, "role")
    log.info(
        "LTI launch: platform %s user %s as %s in classroom %s",
        platform.id,
        landing.user_id,
        landing.role.value,
        landing.classroom_id,
    )
    if checked.message_type == DEEP_LINKING:
        response: Response = HTMLResponse(
            await _deep_links(request).picker(platform, checked, landing), headers=_NO_STORE
        )
    else:
        target = f"/rooms/{landing.room_id}" if landing.room_id is not None else "/"
        response = RedirectResponse(target, status_code=303)
    https = request.url.scheme == "https" or (tool.settings.public_url or "").startswith("https:")
    response.set_cookie(
        COOKIE_NAME,
        await state.security.sessions.sign(landing.user_id, landing.kind),
        max_age=state.signer.ttl_seconds,
        path="/",
        httponly=True,
        # Inside the LMS's iframe the page is a third party: only SameSite=None (which needs
        # Secure) reaches it. Over plain http the tool opens in a new window instead.
        samesite="none" if https else "lax",
        secure=https,
    )
    return response


async def deep_link(request: Request) -> Response:
    form = await _params(request)
    tool = _tool(request)
    return_url, token = await _deep_links(request).respond(
        form.get("dl", ""), form.get("item", ""), f"{tool.base_url(request)}/lti/launch"
    )
    nonce = secrets.token_urlsafe(12)
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Back to the LMS</title>'
        f'</head><body><form id="back" method="post" action="{html.escape(return_url)}">'
        f'<input type="hidden" name="JWT" value="{html.escape(token)}">'
        '<button type="submit">Back to the course</button></form>'
        f'<script nonce="{nonce}">document.getElementById("back").submit()</script></body></html>'
    )
    headers = {
        **_NO_STORE,
        "Content-Security-Policy": f"default-src 'none'; script-src 'nonce-{nonce}'",
    }
    return HTMLResponse(page, headers=headers)


async def jwks(request: Request) -> Response:
    return JSONResponse(_tool(request).key.jwks(), headers={"Cache-Control": "max-age=3600"})


async def config(request: Request) -> Response:
    return JSONResponse(tool_configuration(_tool(request).base_url(request)))


async def register(request: Request) -> Response:
    tool = _tool(request)
    params = dict(request.query_params)
    registration.Invites(components_of(request).settings.secret_key).check(params.get("invite", ""))
    try:
        platform = await registration.register(
            tool.store,
            tool.http,
            tool.base_url(request),
            params.get("openid_configuration", ""),
            params.get("registration_token"),
        )
    except PlatformError as exc:
        raise ServiceUnavailable(
            f"the platform refused the registration: {exc}", code="platform_error"
        ) from None
    log.info("LTI platform %s (%s) registered dynamically", platform.issuer, platform.client_id)
    nonce = secrets.token_urlsafe(12)
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Registered</title>'
        "</head><body><p>OpenCode Classroom is registered. You may close this window.</p>"
        f'<script nonce="{nonce}">(window.opener || window.parent).postMessage('
        "{subject: 'org.imsglobal.lti.close'}, '*')</script></body></html>"
    )
    headers = {
        **_NO_STORE,
        "Content-Security-Policy": f"default-src 'none'; script-src 'nonce-{nonce}'",
    }
    return HTMLResponse(page, headers=headers)


_NO_STORE = {"Cache-Control": "no-store"}

routes: list[BaseRoute] = [
    Route("/lti/login", login, methods=["GET", "POST"]),
    Route("/lti/launch", launch, methods=["POST"]),
    Route("/lti/deep-link", deep_link, methods=["POST"]),
    Route("/lti/jwks", jwks, methods=["GET"]),
    Route("/lti/config", config, methods=["GET"]),
    Route("/lti/register", register, methods=["GET"]),
]
