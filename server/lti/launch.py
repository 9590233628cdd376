"""OIDC login initiation and the launch check (LTI 1.3 Core, 1EdTech Security Framework).

Rule 1: the state we hand out at login lives in the database (``lti_logins``), single use and
short lived, so the launch may land on any process. It is deleted by the launch that presents
it, whatever that launch's fate: a state is never tried twice.
Rule 2: the id_token is checked in this order — signature (the platform's key from its JWKS),
issuer, audience (and ``azp`` when there are several), expiry and issue time, then the nonce:
first stored in ``lti_nonces`` (a unique constraint, so a replay fails on every process), then
compared with the one we sent for this state. Then the LTI claims, deployment included
(rooms/lti.py).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from rooms.exceptions import LaunchClaimError
from rooms.lti import Launch, read_launch
from server.lti import platforms
from server.lti.exceptions import LaunchRefused
from server.lti.platform_keys import PlatformKeys
from server.models import LtiLogin, LtiNonce, LtiPlatform
from server.models.clock import as_utc, utcnow
from server.store import Store

LOGIN_TTL = timedelta(minutes=10)
LEEWAY_SECONDS = 60


async def start_login(store: Store, params: dict[str, str], launch_url: str) -> tuple[str, str]:
    """The platform's authorization URL to redirect to, and the state it carries."""
    issuer, login_hint = params.get("iss"), params.get("login_hint")
    if not issuer or not login_hint:
        raise LaunchRefused("the login needs iss and login_hint", code="invalid_login")
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    async with store.session() as session:
        platform = await platforms.find(session, issuer, params.get("client_id"))
        deployment = params.get("lti_deployment_id")
        if deployment and deployment not in await platforms.deployments(session, platform.id or 0):
            raise LaunchRefused(
                f"deployment {deployment!r} is not registered with this tool",
                code="unknown_deployment",
            )
        await session.exec(delete(LtiLogin).where(col(LtiLogin.expires_at) < now))
        await session.exec(delete(LtiNonce).where(col(LtiNonce.expires_at) < now))
        assert platform.id is not None
        session.add(
            LtiLogin(state=state, nonce=nonce, platform_id=platform.id, expires_at=now + LOGIN_TTL)
        )
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": launch_url,
        "login_hint": login_hint,
        "state": state,
        "nonce": nonce,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    separator = "&" if "?" in platform.auth_url else "?"
    return platform.auth_url + separator + urlencode(query), state


async def check_launch(
    store: Store, keys: PlatformKeys, id_token: str, state: str
) -> tuple[LtiPlatform, Launch, dict[str, Any]]:
    """Check a launch POST; returns the platform, the launch and the raw claims, or raises
    :class:`LaunchRefused` naming the failed check."""
    if not id_token or not state:
        raise LaunchRefused("the launch needs id_token and state", code="invalid_id_token")
    async with store.session() as session:
        login = await session.get(LtiLogin, state[:64])
        gone = await session.exec(delete(LtiLogin).where(col(LtiLogin.state) == state[:64]))
        platform = await session.get(LtiPlatform, login.platform_id) if login else None
        registered = await platforms.deployments(session, platform.id or 0) if platform else set()
    # Refused after the commit: the state is gone whatever happens next.
    if login is None or platform is None or gone.rowcount != 1:
        raise LaunchRefused(
            "the login state is unknown or used: launch again from the LMS", code="bad_state"
        )
    if as_utc(login.expires_at) < utcnow():
        raise LaunchRefused("the login state has expired: launch again", code="bad_state")
    assert platform.id is not None
    claims = await _verify(keys, platform, id_token)
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce or len(nonce) > 255:
        raise LaunchRefused("the id_token has no nonce", code="invalid_id_token")
    # Kept while the token could still be presented (its expiry), and at least a day.
    expires = datetime.fromtimestamp(float(claims["exp"]) + LEEWAY_SECONDS, UTC)
    try:
        async with store.session() as session:
            session.add(
                LtiNonce(
                    platform_id=platform.id,
                    nonce=nonce,
                    expires_at=max(expires, utcnow() + timedelta(days=1)),
                )
            )
    except IntegrityError:
        raise LaunchRefused("this id_token was already used", code="nonce_replayed") from None
    if not secrets.compare_digest(nonce, login.nonce):
        raise LaunchRefused("the nonce is not the one this login sent", code="nonce_mismatch")
    try:
        launch = read_launch(claims, registered)
    except LaunchClaimError as exc:
        raise LaunchRefused(str(exc), code=exc.code) from None
    return platform, launch, claims


async def _verify(keys: PlatformKeys, platform: LtiPlatform, id_token: str) -> dict[str, Any]:
    import jwt

    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.DecodeError:
        raise LaunchRefused("the id_token is not a JWT", code="invalid_id_token") from None
    if header.get("alg") != "RS256":
        raise LaunchRefused("the id_token must be signed with RS256", code="bad_signature")
    kid = header.get("kid")
    key = await keys.key_for(platform.jwks_url, kid if isinstance(kid, str) else None)
    try:
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key,
            algorithms=["RS256"],
            audience=platform.client_id,
            issuer=platform.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.InvalidSignatureError:
        raise LaunchRefused(
            "the id_token's signature does not verify", code="bad_signature"
        ) from None
    except jwt.ExpiredSignatureError:
        raise LaunchRefused("the id_token has expired", code="token_expired") from None
    except jwt.InvalidAudienceError:
        raise LaunchRefused(
            "the id_token is not meant for this tool", code="wrong_audience"
        ) from None
    except jwt.InvalidIssuerError:
        raise LaunchRefused(
            "the id_token's issuer is not the platform", code="wrong_issuer"
        ) from None
    except jwt.PyJWTError as exc:
        raise LaunchRefused(f"the id_token is not valid: {exc}", code="invalid_id_token") from None
    audience = claims.get("aud")
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != platform.client_id:
        raise LaunchRefused("azp must name this tool", code="wrong_audience")
    return claims
