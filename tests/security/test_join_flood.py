"""Joins are rate limited per address and per join code (429 with Retry-After), and an
instructor can rotate or close a join code; nothing else is harmed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from server.app import create_app
from tests.conftest import Account, create_instructor, make_settings, new_classroom, state_of


@pytest.fixture
async def limited(
    tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Account]]:
    settings = make_settings(
        tmp_path, database_url, joins_per_address_per_minute="6", joins_per_code_per_minute="4"
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        state = state_of(app)
        teacher = await create_instructor(state.store, state)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http, teacher


async def join(http: httpx.AsyncClient, code: str, name: str, address: str) -> httpx.Response:
    # The ASGI transport's client address comes from the transport; vary it like NAT'd hosts.
    transport = http._transport  # type: ignore[attr-defined]
    transport.client = (address, 1234)
    return await http.post("/api/join", json={"join_code": code, "name": name})


async def test_joins_are_limited_per_code_and_per_address(
    limited: tuple[httpx.AsyncClient, Account],
) -> None:
    http, teacher = limited
    first = await new_classroom(http, teacher, "A")
    second = await new_classroom(http, teacher, "B")
    for i in range(4):
        assert (await join(http, first["join_code"], f"s{i}", f"10.0.0.{i}")).status_code == 200
    refused = await join(http, first["join_code"], "one more", "10.0.1.1")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # Another classroom's code is not affected ...
    assert (await join(http, second["join_code"], "fine", "10.0.2.1")).status_code == 200
    # ... but one address making accounts is, whichever code it uses.
    for i in range(6):
        await join(http, second["join_code"] if i < 2 else "NOCODE", f"m{i}", "10.9.9.9")
    by_address = await join(http, second["join_code"], "mallory", "10.9.9.9")
    assert by_address.status_code == 429 and "retry-after" in by_address.headers
    members = await http.get(f"/api/classrooms/{first['id']}/members", headers=teacher.headers)
    assert len(members.json()["members"]) == 5  # the teacher and the four who got in


async def test_an_instructor_rotates_and_closes_the_join_code(
    limited: tuple[httpx.AsyncClient, Account],
) -> None:
    http, teacher = limited
    room = await new_classroom(http, teacher)
    student = await join(http, room["join_code"], "Alice", "10.1.0.1")
    assert student.status_code == 200
    alice = {"Authorization": f"Bearer {student.json()['token']}"}
    url = f"/api/classrooms/{room['id']}/join-code"
    assert (await http.post(url, headers=alice)).status_code == 403
    assert (await http.delete(url, headers=alice)).status_code == 403

    rotated = await http.post(url, headers=teacher.headers)
    assert rotated.status_code == 200
    new_code = rotated.json()["join_code"]
    assert new_code != room["join_code"] and rotated.json()["open"] is True
    old = await join(http, room["join_code"], "Late", "10.1.0.2")
    assert old.status_code == 404 and old.json()["error"]["code"] == "unknown_join_code"
    assert (await join(http, new_code, "Bob", "10.1.0.3")).status_code == 200

    assert (await http.delete(url, headers=teacher.headers)).status_code == 204
    closed = await join(http, new_code, "Eve", "10.1.0.4")
    assert closed.status_code == 404 and closed.json()["error"]["code"] == "join_code_closed"
    # Members already in keep working.
    assert (await http.get("/api/me", headers=alice)).status_code == 200
    reopened = await http.post(url, headers=teacher.headers)
    assert (await join(http, reopened.json()["join_code"], "Eve", "10.1.0.5")).status_code == 200
