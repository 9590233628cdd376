"""The HTTP client for LMS platforms, made on first use, and the reader of their answers.

httpx and the TLS context of a client cost a process about 7 MiB that a classroom without an
LMS never needs; every LTI call goes through ``PlatformHttp.client``, which makes it then.

An answer's JSON is read by :func:`answer_json` as a client's is (:mod:`rooms.client_json`):
nesting past Python's decoder raised RecursionError where the callers catch ValueError, and
a member's name holding NUL would reach the store (server/security/text.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rooms import client_json

if TYPE_CHECKING:
    import httpx


def answer_json(response: httpx.Response) -> Any:
    """The JSON of an LMS's answer; ValueError (:class:`rooms.client_json.NotJson`) if it is
    not JSON a browser would read, or holds a string that is not text."""
    return client_json.loads(response.content)


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
