"""One user's API requests a second on a process (server/security/floods.py RequestBudgets).
Before, a script's requests were answered as fast as it sent them, however much each cost:
the most expensive a student may ask for (their progress page) took 7.1 ms, so about 140 a
second filled a core, and only the balancer in deploy/ held a session back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from server.security.floods import REQUEST_BURST_SECONDS, RequestBudgets
from tests.conftest import Lesson
from tests.server.processes import ServerProcess, prepare_lesson, server_env

DATABASES = ("sqlite",)
# Below the default (50): a flood is refused only when the server answers faster than the
# budget refills, and a slow machine answered a progress page about 85 times a second.
RATE = 10


@pytest.fixture
async def limited(tmp_path: Path, database_url: str) -> AsyncIterator[ServerProcess]:
    """A real ``python -m server`` whose users may make :data:`RATE` requests a second."""
    env = server_env(tmp_path, database_url, max_requests_per_second=str(RATE))
    server = ServerProcess(env)
    await server.start()
    yield server
    await server.stop()


def test_a_budget_refills_at_its_rate_and_zero_is_no_limit() -> None:
    now = [100.0]
    budgets = RequestBudgets(2, clock=lambda: now[0])
    assert all(budgets.take(7) is None for _ in range(2 * REQUEST_BURST_SECONDS))
    assert budgets.take(7) == 0.5  # one more in half a second
    assert budgets.take(8) is None  # another user's own budget
    now[0] += 0.5
    assert budgets.take(7) is None and budgets.take(7) is not None
    assert budgets.refusal() == "too many requests: at most 2 a second"
    off = RequestBudgets(0)
    assert all(off.take(7) is None for _ in range(10_000))


async def test_one_student_flooding_the_api_is_held_and_nobody_else_is(
    limited: ServerProcess, database_url: str
) -> None:
    process = limited
    lesson: Lesson = await prepare_lesson(database_url, process.url)
    progress = f"/api/classrooms/{lesson.classroom['id']}/students/{lesson.alice.id}/progress"
    statuses: list[int] = []
    refusals: list[httpx.Response] = []

    async def hammer(http: httpx.AsyncClient, count: int) -> None:
        for _ in range(count):
            response = await http.get(progress, headers=lesson.alice.headers)
            statuses.append(response.status_code)
            if response.status_code == 429:
                refusals.append(response)

    async with httpx.AsyncClient(base_url=process.url, timeout=30) as http:
        started = time.monotonic()
        await asyncio.gather(*(hammer(http, 60) for _ in range(20)))
        elapsed = time.monotonic() - started
        assert set(statuses) == {200, 429}, set(statuses)
        allowed = (
            RATE * REQUEST_BURST_SECONDS + RATE * elapsed + RATE
        )  # the burst, the refill, slack
        assert statuses.count(200) <= allowed, (statuses.count(200), elapsed)
        body = refusals[0].json()["error"]
        assert body["code"] == "rate_limited"
        assert body["message"].startswith(f"too many requests: at most {RATE} a second")
        assert int(refusals[0].headers["retry-after"]) >= 1
        # Bob, the teacher, and a request without a session are answered as ever.
        bob = f"/api/classrooms/{lesson.classroom['id']}/students/{lesson.bob.id}/progress"
        assert (await http.get(bob, headers=lesson.bob.headers)).status_code == 200
        assert (await http.get(progress, headers=lesson.teacher.headers)).status_code == 200
        assert (await http.get("/health")).status_code == 200
        # Her pages count as well (a page load costs as an API call does): right after the
        # flood, more page loads at once than her budget refills meanwhile.
        cookie = {"Cookie": f"classroom_token={lesson.alice.token}"}
        pages = await asyncio.gather(
            *(http.get(f"/rooms/{lesson.room_id}", headers=cookie) for _ in range(2 * RATE))
        )
        refused = [p for p in pages if p.status_code == 429]
        assert refused and refused[0].json()["error"]["code"] == "rate_limited"
        bobs = await http.get(
            f"/rooms/{lesson.room_id}", headers={"Cookie": f"classroom_token={lesson.bob.token}"}
        )
        assert bobs.status_code == 200 and "<html" in bobs.text
