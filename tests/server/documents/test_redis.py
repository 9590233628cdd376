"""Several server processes on one room through Redis; Redis going away and coming back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Lesson
from tests.node.harness import YjsHarness
from tests.server.processes import PrivateRedis, ServerProcess, prepare_lesson, server_env

DATABASES = ("sqlite", "postgres")
pytestmark = [pytest.mark.node, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
async def pair(
    tmp_path: Path, database_url: str, private_redis: PrivateRedis
) -> AsyncIterator[tuple[ServerProcess, ServerProcess]]:
    env = server_env(tmp_path, database_url, redis_url=private_redis.url)
    one, two = ServerProcess(env), ServerProcess(env)
    await one.start()
    await two.start()
    try:
        yield one, two
    finally:
        await asyncio.gather(one.stop(), two.stop())


async def open_on(
    yjs: YjsHarness, server: ServerProcess, lesson: Lesson, client: str, token: str
) -> None:
    doc = f"{lesson.room_id}/students/{lesson.alice.id}/main.py"
    reply = await yjs.call("open", client=client, url=f"{server.ws_url}/yjs", doc=doc, token=token)
    assert reply["synced"], reply


async def ready_status(server: ServerProcess) -> int:
    async with httpx.AsyncClient(base_url=server.url) as http:
        return (await http.get("/ready")).status_code


async def test_two_processes_serve_one_room_and_converge(
    database_url: str, pair: tuple[ServerProcess, ServerProcess], yjs: YjsHarness
) -> None:
    one, two = pair
    lesson = await prepare_lesson(database_url, one.url)
    await open_on(yjs, one, lesson, "teacher", lesson.teacher.token)
    await yjs.call("insert", client="teacher", text="from one\n")
    # The second process loads the document late, from the store.
    await open_on(yjs, two, lesson, "alice", lesson.alice.token)
    await yjs.call("wait_text", client="alice", contains=["from one\n"])

    await yjs.call("insert", client="alice", text="from two\n")
    await yjs.call("wait_text", client="teacher", contains=["from one\n", "from two\n"])
    await asyncio.gather(
        yjs.call("type", client="teacher", text="abcdefghij" * 3),
        yjs.call("type", client="alice", text="0123456789" * 3),
    )
    final = len("from one\nfrom two\n") + 60
    texts = await asyncio.gather(
        yjs.call("wait_text", client="teacher", length=final),
        yjs.call("wait_text", client="alice", length=final),
    )
    assert texts[0]["text"] == texts[1]["text"]

    await yjs.call("set_awareness", client="alice", state={"user": {"name": "Alice"}})
    seen = await yjs.call("wait_awareness", client="teacher", count=1)
    assert list(seen["states"].values()) == [{"user": {"name": "Alice"}}]
    await yjs.call("kill_socket", client="alice")
    await yjs.call("wait_awareness", client="teacher", count=0, timeout_ms=5000)


async def test_redis_away_degrades_to_local_then_resyncs(
    database_url: str,
    pair: tuple[ServerProcess, ServerProcess],
    private_redis: PrivateRedis,
    yjs: YjsHarness,
) -> None:
    one, two = pair
    lesson = await prepare_lesson(database_url, one.url)
    await open_on(yjs, one, lesson, "teacher", lesson.teacher.token)
    await open_on(yjs, one, lesson, "helper", lesson.teacher.token)
    await open_on(yjs, two, lesson, "alice", lesson.alice.token)
    assert await ready_status(one) == 200

    marks = len(one.log), len(two.log)
    private_redis.kill()
    await one.wait_log("unreachable", marks[0], within=20)
    await two.wait_log("unreachable", marks[1], within=20)
    assert await ready_status(one) == 503
    assert await ready_status(two) == 503

    # Local-only: clients of the same process still see each other.
    await yjs.call("insert", client="teacher", text="during outage\n")
    await yjs.call("wait_text", client="helper", contains=["during outage\n"])
    await yjs.call("insert", client="alice", text="alice alone\n")
    await yjs.call("set_awareness", client="alice", state={"user": {"name": "Alice"}})

    marks = len(one.log), len(two.log)
    private_redis.start()
    await one.wait_log("resynced", marks[0], within=30)
    await two.wait_log("resynced", marks[1], within=30)
    both = ["during outage\n", "alice alone\n"]
    await yjs.call("wait_text", client="alice", contains=both)
    await yjs.call("wait_text", client="teacher", contains=both)
    await yjs.call("wait_text", client="helper", contains=both)
    # Re-announced on resync, well before the clients' own 15 s renewal.
    await yjs.call(
        "wait_awareness", client="teacher", includes={"user": {"name": "Alice"}}, timeout_ms=5000
    )
    assert await ready_status(one) == 200
    assert await ready_status(two) == 200
