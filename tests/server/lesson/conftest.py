"""Two server processes sharing Redis (the fixture of the documents' Redis tests; their
private_redis is tests/server/conftest.py's)."""

from __future__ import annotations

from tests.server.documents.test_redis import pair

__all__ = ["pair"]
