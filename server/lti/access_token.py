"""OAuth 2 client credentials for the LTI services (1EdTech Security Framework §4.1): a JWT
assertion signed with our key buys a bearer token for some scopes; tokens are cached until
shortly before they expire."""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable

from server.lti.exceptions import PlatformError
from server.lti.http import PlatformHttp, answer_json
from server.lti.keys import ToolKey
from server.models import LtiPlatform

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MARGIN_SECONDS = 30.0


class AccessTokens:
    def __init__(
        self, http: PlatformHttp, key: ToolKey, clock: Callable[[], float] = time.time
    ) -> None:
        self.http = http
        self.key = key
        self.clock = clock
        self._cache: dict[tuple[int, str], tuple[str, float]] = {}

    async def token(self, platform: LtiPlatform, scopes: list[str]) -> str:
        assert platform.id is not None
        scope = " ".join(sorted(scopes))
        cached = self._cache.get((platform.id, scope))
        now = self.clock()
        if cached is not None and cached[1] > now:
            return cached[0]
        assertion = self.key.sign(
            {
                "iss": platform.client_id,
                "sub": platform.client_id,
                "aud": platform.token_url,
                "iat": int(now),
                "exp": int(now) + 300,
                "jti": secrets.token_urlsafe(16),
            }
        )
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
            "scope": scope,
        }
        import httpx

        try:
            response = await self.http.client.post(platform.token_url, data=form, timeout=15.0)
        except httpx.HTTPError as exc:
            raise PlatformError(f"token request to {platform.token_url} failed: {exc}") from None
        if response.status_code != 200:
            raise PlatformError(
                f"token request answered {response.status_code}: {response.text[:200]}"
            )
        try:
            data = answer_json(response)
            token = str(data["access_token"])
            lifetime = float(data.get("expires_in", 3600))
            if not math.isfinite(lifetime):  # "expires_in": "inf" would be kept for ever
                raise ValueError(lifetime)
        except (ValueError, KeyError, TypeError):
            raise PlatformError(
                "the token answer holds no access_token with a finite expires_in"
            ) from None
        self._cache[(platform.id, scope)] = (token, now + max(0.0, lifetime - MARGIN_SECONDS))
        return token

    def forget(self, platform: LtiPlatform) -> None:
        """Drop cached tokens of ``platform`` (after it refused one with 401)."""
        for key in [k for k in self._cache if k[0] == platform.id]:
            del self._cache[key]
