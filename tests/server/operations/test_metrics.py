"""The server's operator metrics: event-loop lag, dependency probes, grading and leaderboard
update times, on a real server with a real submission."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.parser import text_string_to_metric_families

from server.operations.loop_lag import LoopLag
from tests.conftest import Lesson, LiveServer
from tests.server.grading.test_submissions import RIGHT, course  # noqa: F401  (fixture)
from tests.support.events import EventClient

DATABASES = ("sqlite",)


async def test_loop_lag_sees_a_blocked_loop() -> None:
    registry = CollectorRegistry()
    histogram = Histogram("lag", "lag", registry=registry, buckets=(0.01, 0.1, 1.0))
    lag = LoopLag(histogram, interval=0.02)
    await lag.start()
    try:
        assert await asyncio.wait_for(lag.next_sample(), 5) < 0.1  # an idle loop is on time
        sample = asyncio.ensure_future(lag.next_sample())
        await asyncio.sleep(0)  # the waiter is registered before the loop blocks
        time.sleep(0.3)  # noqa: ASYNC251  (this blocking call is what is measured)
        assert await asyncio.wait_for(sample, 5) >= 0.25
        assert registry.get_sample_value("lag_bucket", {"le": "0.1"}) < (
            registry.get_sample_value("lag_count") or 0
        )
    finally:
        await lag.close()


def values(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.bwrap
async def test_grading_and_leaderboard_times_and_probes(
    server: LiveServer,
    live_lesson: Lesson,
    course: Path,  # noqa: F811
) -> None:
    room = live_lesson.room_id
    alice = await EventClient.open(server.ws_url, room, live_lesson.alice.token)
    try:
        await alice.expect("room.snapshot")
        await alice.send({"type": "submit", "exercise_id": "double", "files": {"main.py": RIGHT}})
        assert (await alice.expect("grade.result", timeout=60))["submission"]["score"] == 4
        await alice.expect("leaderboard.update", timeout=30)
    finally:
        await alice.close()
    async with httpx.AsyncClient(base_url=server.url) as http:
        got = values((await http.get("/metrics")).text)
    assert got[("classroom_grading_seconds_count", frozenset({("outcome", "graded")}))] == 1
    assert got[("classroom_grading_seconds_sum", frozenset({("outcome", "graded")}))] > 0
    assert got[("classroom_leaderboard_update_seconds_count", frozenset())] == 1
    assert got[("classroom_dependency_up", frozenset({("dependency", "database")}))] == 1
    assert ("classroom_dependency_up", frozenset({("dependency", "redis")})) not in got
    assert ("classroom_event_loop_lag_seconds_count", frozenset()) in got
