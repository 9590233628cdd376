"""LTI Dynamic Registration 1.0: the platform opens our registration URL with
``openid_configuration`` and ``registration_token``; we read its configuration, post our tool
configuration to its registration endpoint, and store the platform with the client id and
deployment id it answers.

Our registration URL carries a signed invite (one day) that a registrar makes with
``POST /api/lti/registration-invites``: without it anyone could register a platform.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer

from server.exceptions import BadRequest, Forbidden
from server.lti import platforms
from server.lti.config import TOOL_CONFIG, tool_configuration
from server.lti.exceptions import PlatformError
from server.lti.http import PlatformHttp, answer_json
from server.lti.platforms import PlatformSpec
from server.models import LtiPlatform
from server.store import Store

SALT = "classroom.lti.registration.v1"
INVITE_SECONDS = 24 * 3600


class Invites:
    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=SALT)

    def make(self, by_user_id: int) -> str:
        return self._serializer.dumps({"u": by_user_id})

    def check(self, invite: str) -> None:
        try:
            self._serializer.loads(invite, max_age=INVITE_SECONDS)
        except BadSignature:
            raise Forbidden(
                "this registration link is not valid or has expired: ask for a new one",
                code="bad_invite",
            ) from None


async def register(
    store: Store,
    http: PlatformHttp,
    base: str,
    config_url: str,
    registration_token: str | None,
) -> LtiPlatform:
    parts = urlsplit(config_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadRequest("openid_configuration must be an http(s) URL", code="bad_url")
    config = await _json(http, "GET", config_url)
    issuer = str(config.get("issuer", ""))
    # The configuration must come from the issuer's own host (Dynamic Registration §3.5.1).
    if urlsplit(issuer).netloc != parts.netloc:
        raise BadRequest("the configuration's issuer is not on its host", code="bad_issuer")
    endpoint = config.get("registration_endpoint")
    if not isinstance(endpoint, str):
        raise BadRequest("the platform has no registration_endpoint", code="bad_configuration")
    headers = {"Authorization": f"Bearer {registration_token}"} if registration_token else {}
    answer = await _json(http, "POST", endpoint, json=tool_configuration(base), headers=headers)
    found = answer.get(TOOL_CONFIG)
    tool: dict[str, Any] = found if isinstance(found, dict) else {}
    spec = PlatformSpec(
        issuer=issuer,
        client_id=str(answer.get("client_id", "")),
        deployment_id=str(tool.get("deployment_id", "")),
        auth_url=str(config.get("authorization_endpoint", "")),
        token_url=str(config.get("token_endpoint", "")),
        jwks_url=str(config.get("jwks_uri", "")),
    )
    async with store.session() as session:
        platform, _ = await platforms.register(session, spec)
    return platform


async def _json(http: PlatformHttp, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    import httpx

    try:
        response = await http.client.request(method, url, timeout=15.0, **kwargs)
    except httpx.HTTPError as exc:
        raise PlatformError(f"{method} {url} failed: {exc}") from None
    if response.status_code >= 300:
        raise PlatformError(
            f"{method} {url} answered {response.status_code}: {response.text[:200]}"
        )
    try:
        data = answer_json(response)
    except ValueError:
        raise PlatformError(f"{method} {url} did not answer JSON") from None
    if not isinstance(data, dict):
        raise PlatformError(f"{method} {url} did not answer an object")
    return data
