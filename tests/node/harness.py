"""Drive real y-websocket clients (tests/node/harness.mjs) from async Python tests.

``async with YjsHarness() as yjs: await yjs.call("open", client="a", url=..., doc=..., token=...)``
Each call sends one JSON command and waits (bounded) for its reply; the Node process runs
commands concurrently, so ``asyncio.gather`` of calls really runs clients at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from pathlib import Path
from types import TracebackType
from typing import Any

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "harness.mjs"


class HarnessError(Exception):
    pass


class YjsHarness:
    def __init__(self, *, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._process: asyncio.subprocess.Process | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self._stderr: asyncio.Task[bytes] | None = None

    async def __aenter__(self) -> YjsHarness:
        self._process = await asyncio.create_subprocess_exec(
            "node",
            str(SCRIPT),
            cwd=HERE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=1 << 24,
        )
        self._reader = asyncio.create_task(self._read())
        assert self._process.stderr is not None
        self._stderr = asyncio.create_task(self._process.stderr.read())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process = self._process
        assert process is not None and process.stdin is not None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.call("exit"), 5)
        with contextlib.suppress(OSError):
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
        if self._reader is not None:
            await self._reader
        if self._stderr is not None:
            await self._stderr

    async def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        async for line in self._process.stdout:
            message = json.loads(line)
            future = self._pending.pop(message.get("id"), None)
            if future is not None and not future.done():
                future.set_result(message)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(HarnessError("the Node harness exited"))

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        """Run one command; raise HarnessError with Node's message if it failed."""
        assert self._process is not None and self._process.stdin is not None
        call_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        self._process.stdin.write(json.dumps({"id": call_id, "op": op, **args}).encode() + b"\n")
        await self._process.stdin.drain()
        reply = await asyncio.wait_for(future, self.timeout)
        if not reply.get("ok"):
            raise HarnessError(f"{op}: {reply.get('error')}")
        return reply

    async def stderr(self) -> str:
        if self._stderr is None or not self._stderr.done():
            return ""
        return (await self._stderr).decode(errors="replace")
