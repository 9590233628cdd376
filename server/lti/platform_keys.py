"""The platforms' public keys: fetched from their JWKS URL, cached, refetched on rotation.

A launch signed with a ``kid`` we hold is checked at once. An unknown ``kid`` means the platform
rotated its keys: the set is fetched again; but a set that was itself fetched for an unknown kid
is not fetched again for ``REFETCH_SECONDS``, so forged tokens with random kids cannot make us
hammer the platform. Cached sets expire after
``TTL_SECONDS`` (or the ``max-age`` the platform sends, if shorter).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from server.lti.exceptions import LaunchRefused, PlatformError
from server.lti.http import PlatformHttp, answer_json

if TYPE_CHECKING:
    import jwt

log = logging.getLogger("classroom.lti")

TTL_SECONDS = 3600.0
REFETCH_SECONDS = 10.0


@dataclass
class _KeySet:
    keys: dict[str, jwt.PyJWK]
    fetched_at: float
    ttl: float
    after_miss: bool
    without_kid: list[jwt.PyJWK] = field(default_factory=list)


class PlatformKeys:
    def __init__(self, http: PlatformHttp, clock: Callable[[], float] = time.monotonic) -> None:
        self.http = http
        self.clock = clock
        self._sets: dict[str, _KeySet] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetches = 0

    async def key_for(self, jwks_url: str, kid: str | None) -> jwt.PyJWK:
        """The platform key ``kid``; raises :class:`LaunchRefused` (``bad_signature``) when the
        platform does not publish it."""
        now = self.clock()
        cached = self._sets.get(jwks_url)
        if cached is not None and now - cached.fetched_at < cached.ttl:
            found = self._pick(cached, kid)
            if found is not None:
                return found
        lock = self._locks.setdefault(jwks_url, asyncio.Lock())
        async with lock:
            cached = self._sets.get(jwks_url)
            if self._should_fetch(cached, kid):
                try:
                    cached = await self._fetch(jwks_url, after_miss=cached is not None)
                except PlatformError as exc:
                    log.warning("JWKS %s: %s", jwks_url, exc)
                    if cached is None:
                        raise LaunchRefused(
                            f"the platform's keys cannot be read: {exc}", code="bad_signature"
                        ) from None
                else:
                    self._sets[jwks_url] = cached
            found = self._pick(cached, kid) if cached is not None else None
        if found is None:
            raise LaunchRefused(f"the platform publishes no key {kid!r}", code="bad_signature")
        return found

    def _should_fetch(self, cached: _KeySet | None, kid: str | None) -> bool:
        if cached is None:
            return True
        age = self.clock() - cached.fetched_at
        if age >= cached.ttl:
            return True
        if self._pick(cached, kid) is not None:
            return False  # another launch fetched it while this one waited
        # A kid we do not know: the platform rotated its keys, or the token is forged. Fetch,
        # unless the set we hold was itself fetched for a miss less than REFETCH_SECONDS ago.
        return not cached.after_miss or age >= REFETCH_SECONDS

    @staticmethod
    def _pick(keys: _KeySet, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            return keys.without_kid[0] if len(keys.without_kid) == 1 else None
        return keys.keys.get(kid)

    async def _fetch(self, url: str, *, after_miss: bool) -> _KeySet:
        import httpx
        import jwt

        self.fetches += 1
        try:
            response = await self.http.client.get(url, timeout=10.0)
        except httpx.HTTPError as exc:
            raise PlatformError(f"GET {url} failed: {exc}") from None
        if response.status_code != 200:
            raise PlatformError(f"GET {url} answered {response.status_code}")
        try:
            data = answer_json(response)
            entries = data["keys"]
            if not isinstance(entries, list):
                raise TypeError("keys is not a list")
        except (ValueError, KeyError, TypeError) as exc:
            raise PlatformError(f"GET {url} is not a JWKS: {exc}") from None
        keys: dict[str, jwt.PyJWK] = {}
        without: list[jwt.PyJWK] = []
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK(entry, algorithm=entry.get("alg", "RS256"))
            except (jwt.PyJWKError, jwt.InvalidKeyError):
                continue
            if isinstance(entry.get("kid"), str):
                keys[entry["kid"]] = key
            else:
                without.append(key)
        ttl = TTL_SECONDS
        match = re.search(r"max-age=(\d+)", response.headers.get("cache-control", ""))
        if match:
            ttl = min(ttl, float(match.group(1)))
        return _KeySet(keys, self.clock(), ttl, after_miss, without)
