"""The HTTP client for LMS platforms, made on first use.

httpx and the TLS context of a client cost a process about 7 MiB that a classroom without an
LMS never needs; every LTI call goes through ``PlatformHttp.client``, which makes it then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx


class PlatformHttp:
    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(follow_redirects=False)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
