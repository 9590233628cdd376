"""The LTI component of a process: our key, the HTTP client for the platforms, their cached
keys, service tokens, the gradebook client and the grade passback sender."""

from __future__ import annotations

import time

from starlette.requests import Request

from sandbox.grading.ratelimit import RateLimiter
from server.exceptions import TooManyRequests
from server.lti.access_token import AccessTokens
from server.lti.ags import Gradebook
from server.lti.http import PlatformHttp
from server.lti.keys import load_tool_key
from server.lti.passback import GradePassback
from server.lti.platform_keys import PlatformKeys
from server.settings import Settings
from server.store import Store

LOGINS_PER_MINUTE = 60


class LtiTool:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.key = load_tool_key(settings.data_dir)
        self.http = PlatformHttp()
        self.platform_keys = PlatformKeys(self.http)
        self.tokens = AccessTokens(self.http, self.key)
        self.gradebook = Gradebook(self.http, self.tokens)
        self.passback = GradePassback(store, self.gradebook)
        # Every login stores a state row until it expires: a bound per address keeps a
        # flood from filling the table (per process).
        self.logins = RateLimiter(LOGINS_PER_MINUTE, 60.0)

    async def start(self) -> None:
        await self.passback.start()

    async def close(self) -> None:
        await self.passback.close()
        await self.http.aclose()

    def base_url(self, request: Request) -> str:
        """Where platforms reach us: ``CLASSROOM_PUBLIC_URL``, else the request's own base."""
        return (self.settings.public_url or str(request.base_url)).rstrip("/")

    def registrars(self) -> set[str]:
        raw = self.settings.lti_registrars or ""
        return {part.strip().lower() for part in raw.split(",") if part.strip()}

    def admit_login(self, request: Request) -> None:
        address = request.client.host if request.client else "unknown"
        if not self.logins.acquire(address, time.monotonic()).allowed:
            raise TooManyRequests("too many LTI logins from this address", code="rate_limited")
