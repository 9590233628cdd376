"""A process without Redis never loads the Redis client library (about 7 MiB of memory of an
idle server); one with a Redis URL does, and its Redis stores turn an outage into errors
the callers refuse a command with."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from server.demos.presenters import Held, StateUnavailable
from server.demos.presenters_redis import RedisPresenters
from tests.conftest import free_port
from tests.services import REDIS_URL, delete_redis_keys, require

# Starts and stops a whole application (its lifespan: database, bus, every component), then
# prints how many modules of the redis package that process holds.
SCRIPT = """
import asyncio, sys
from server.app import create_app
from server.settings import Settings

async def main() -> None:
    app = create_app(Settings.from_env(dict(__import__("os").environ)))
    async with app.router.lifespan_context(app):
        pass
    print(sum(1 for name in sys.modules if name == "redis" or name.startswith("redis.")))

asyncio.run(main())
"""


def redis_modules_after_a_lifespan(data_dir: Path, **env: str) -> int:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
    environ.update(
        {
            "CLASSROOM_DATA_DIR": str(data_dir),
            "CLASSROOM_SECRET_KEY": "test-secret-key",
            "CLASSROOM_SANDBOX": "local",
            "CLASSROOM_POOL_SIZE": "0",
            **env,
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


def test_a_process_without_redis_never_imports_it(tmp_path: Path) -> None:
    assert redis_modules_after_a_lifespan(tmp_path) == 0


async def test_a_process_with_redis_imports_it(tmp_path: Path) -> None:
    require("redis")
    prefix = f"test:optional:{uuid.uuid4().hex[:8]}:"
    try:
        count = redis_modules_after_a_lifespan(
            tmp_path, CLASSROOM_REDIS_URL=REDIS_URL, CLASSROOM_REDIS_PREFIX=prefix
        )
    finally:
        await delete_redis_keys(prefix)  # the run queue's stream
    assert count > 0


async def test_redis_away_makes_the_demo_state_unavailable() -> None:
    """Nothing listens on the port: every operation fails with StateUnavailable, which the live
    demos refuse the command with ("unavailable"), not with the client library's error."""
    store = RedisPresenters(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(StateUnavailable):
            await store.peek(1)
        with pytest.raises(StateUnavailable):
            await store.save(1, Held.from_json(None, 1))
        with pytest.raises(StateUnavailable):
            async with store.hold(1):
                pass
    finally:
        await store.close()
