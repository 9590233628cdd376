"""kill -9 while clients type: after a restart, the server still has every update it broadcast."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.node.harness import YjsHarness
from tests.server.processes import ServerProcess, prepare_lesson, server_env

DATABASES = ("sqlite", "postgres")
pytestmark = [pytest.mark.node, pytest.mark.slow]

WRITERS = 3


async def test_kill_9_loses_nothing_that_was_broadcast(
    tmp_path: Path, database_url: str, yjs: YjsHarness
) -> None:
    # A compaction threshold low enough that snapshots happen during the run.
    env = server_env(tmp_path, database_url, compact_after_updates="40", persist_batch_ms="2")
    first = ServerProcess(env)
    await first.start()
    try:
        lesson = await prepare_lesson(database_url, first.url)
        doc = f"{lesson.room_id}/students/{lesson.alice.id}/main.py"

        async def open_client(name: str, token: str, url: str) -> None:
            reply = await yjs.call("open", client=name, url=f"{url}/yjs", doc=doc, token=token)
            assert reply["synced"], reply

        await open_client("observer", lesson.teacher.token, first.ws_url)
        for i in range(WRITERS):
            await open_client(f"w{i}", lesson.alice.token, first.ws_url)
        typing = [
            asyncio.create_task(
                yjs.call("type", client=f"w{i}", field=f"f{i}", text="x" * 400, every_ms=1)
            )
            for i in range(WRITERS)
        ]
        # Let every writer get well into its text, as the observer sees it.
        for i in range(WRITERS):
            await yjs.call("wait_text", client="observer", field=f"f{i}", min_length=60)
        await first.kill()
        seen = [
            (await yjs.call("text", client="observer", field=f"f{i}"))["text"]
            for i in range(WRITERS)
        ]
        # The clients must not hand their copies to the restarted server.
        for name in ["observer", *(f"w{i}" for i in range(WRITERS))]:
            await yjs.call("destroy", client=name)
        await asyncio.gather(*typing, return_exceptions=True)
    finally:
        await first.stop()

    second = ServerProcess(env, port=first.port)
    await second.start()
    try:
        await open_client("fresh", lesson.teacher.token, second.ws_url)
        for i in range(WRITERS):
            stored = (await yjs.call("text", client="fresh", field=f"f{i}"))["text"]
            assert len(seen[i]) >= 60
            assert stored.startswith(seen[i]), (i, len(stored), len(seen[i]))
        assert first.saw("compacted room"), "the run should have exercised compaction"
    finally:
        await second.stop()
