"""Fixtures of the deploy tests that run server processes on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server.processes import PrivateRedis
from tests.services import require


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    """A redis-server of the test's own, on a free port, killed after."""
    require("redis")
    server = PrivateRedis()
    server.start()
    yield server
    server.kill()
