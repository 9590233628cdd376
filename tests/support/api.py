"""Helpers of the HTTP API tests: the error shape, row counts."""

from __future__ import annotations

import httpx
from sqlalchemy import func
from sqlmodel import select

from tests.conftest import state_of


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"]
    code: str = body["error"]["code"]
    return code


async def count(client: httpx.AsyncClient, model: type) -> int:
    app = client._transport.app  # type: ignore[attr-defined]
    async with state_of(app).store.session() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())
