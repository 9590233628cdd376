"""Two server processes sharing Redis (the fixtures of the documents' Redis tests)."""

from __future__ import annotations

from tests.server.documents.test_redis import pair, redis

__all__ = ["pair", "redis"]
