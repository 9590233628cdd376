"""Fixtures shared by the server's tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.server.processes import PrivateRedis
from tests.services import require, required


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A redis-server of the test's own, which it may stop and start again."""
    require("redis")
    if shutil.which("redis-server") is None:
        if "redis" in required():
            pytest.fail("redis is required but the redis-server binary is not on PATH")
        pytest.skip("redis-server binary not on PATH")
    redis = PrivateRedis()
    redis.start()
    yield redis
    redis.kill()
