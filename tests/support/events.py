"""A real WebSocket client of the room events socket, for tests."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

DEFAULT_TIMEOUT = 10.0


class EventClient:
    """Reads events in order; :meth:`expect` waits (bounded) for the next event of a type."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, ws_url: str, room_id: int, token: str) -> EventClient:
        # No bound on what waits unread (``max_queue=None``): a test reads only the events it
        # waits for, and at the bound the client stops reading its socket, so its close
        # would never see the server's closing frame and would wait out ``close_timeout``
        # (10 s) with what is left unread (measured: 10.0 s against 0.5 ms).
        url = f"{ws_url}/ws/rooms/{room_id}?token={token}"
        ws = await connect(url, max_size=4 << 20, max_queue=None)
        return cls(ws)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def next(self, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:  # noqa: ASYNC109
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        event: dict[str, Any] = json.loads(raw)
        self.seen.append(event)
        return event

    async def expect(
        self,
        kind: str,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
        **match: Any,
    ) -> dict[str, Any]:
        """The next event of type ``kind`` (whose fields equal ``match``), skipping others."""

        async def find() -> dict[str, Any]:
            while True:
                event = await self.next(timeout)
                if event.get("type") == kind and all(event.get(k) == v for k, v in match.items()):
                    return event

        return await asyncio.wait_for(find(), timeout)

    async def request(
        self,
        message: dict[str, Any],
        reply: str,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        await self.send(message)
        return await self.expect(reply, timeout)

    async def quiet_for(self, kind: str, seconds: float) -> list[dict[str, Any]]:
        """Events of type ``kind`` received within ``seconds`` (to show something did NOT arrive,
        the test first makes a later event happen and waits for it instead, where it can)."""
        found: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            try:
                event = await self.next(left)
            except TimeoutError:
                break
            if event.get("type") == kind:
                found.append(event)
        return found

    async def close(self) -> None:
        await self.ws.close()

    async def __aenter__(self) -> EventClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def opened(server_ws: str, room: int, token: str) -> tuple[EventClient, dict[str, Any]]:
    """A room events socket of ``token``'s user and the ``room.snapshot`` it was greeted with."""
    client = await EventClient.open(server_ws, room, token)
    return client, await client.expect("room.snapshot")


async def close_all(*clients: EventClient) -> None:
    await asyncio.gather(*(c.close() for c in clients))
