"""Shared pieces of the hostile-student suite: several app processes on one database and one
Redis (as a deployment runs them), and HTTP clients on them."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
from starlette.applications import Starlette

from server.app import create_app
from tests.conftest import LiveServer, make_settings, serve_in_thread
from tests.services import REDIS_URL, delete_redis_keys, delete_redis_keys_now, require


@contextlib.asynccontextmanager
async def processes(
    tmp_path: Path, database_url: str, count: int = 2, **overrides: str
) -> AsyncIterator[list[Starlette]]:
    """``count`` apps sharing the database and a Redis (with a prefix of their own)."""
    require("redis")
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    apps = [
        create_app(
            make_settings(
                tmp_path, database_url, redis_url=REDIS_URL, redis_prefix=prefix, **overrides
            )
        )
        for _ in range(count)
    ]
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(delete_redis_keys, prefix)  # last, once every app stopped
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
        yield apps


@contextlib.asynccontextmanager
async def clients(apps: list[Starlette]) -> AsyncIterator[list[httpx.AsyncClient]]:
    async with contextlib.AsyncExitStack() as stack:
        out = []
        for app in apps:
            transport = httpx.ASGITransport(app=app)
            http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            out.append(await stack.enter_async_context(http))
        yield out


@contextlib.contextmanager
def served(
    tmp_path: Path, database_url: str, count: int = 2, **overrides: str
) -> Iterator[list[LiveServer]]:
    """``count`` real uvicorn servers on one database and one Redis, as processes would be."""
    require("redis")
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    with contextlib.ExitStack() as stack:
        stack.callback(delete_redis_keys_now, prefix)  # last, once every server stopped
        out = []
        for _ in range(count):
            settings = make_settings(
                tmp_path, database_url, redis_url=REDIS_URL, redis_prefix=prefix, **overrides
            )
            out.append(stack.enter_context(contextlib.contextmanager(serve_in_thread)(settings)))
        yield out
