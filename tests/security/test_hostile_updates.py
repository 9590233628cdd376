"""Yjs updates no stock client writes, against stock Yjs clients (Node) on a real server.

From a student's socket they are refused before yrs decodes them (rooms/update_check.py): a
shared type yrs takes and every browser throws on (once stored, nobody could open the file
again), a clock that made yrs panic halfway through a change, a run of items that yrs would
merge in time and memory growing with the square of its length. Where one still reaches yrs
(here: the bus, whose frames another server process checked) and breaks it mid-change, the
server's copy of the document is dropped (registry.py rule 6): every socket on it is closed
with 1012, stock providers reconnect to a copy reloaded from the store, nothing is lost."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
import redis.asyncio as redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rooms.frames import update_frame
from rooms.varint import write_var_uint
from tests.conftest import Lesson
from tests.node.harness import YjsHarness
from tests.server.processes import ServerProcess, prepare_lesson, server_env
from tests.services import REDIS_URL, delete_redis_keys, require
from tests.support.docs import fetch_text
from tests.support.updates import (
    PANIC_CLOCK,
    merging_run,
    null_values,
    one_client,
    text_insert,
)

DATABASES = ("sqlite",)
pytestmark = pytest.mark.node


async def open_pair(yjs: YjsHarness, server: ServerProcess, lesson: Lesson) -> int:
    """Alice and her teacher on her file, which reads "hello world"; Alice's client id."""
    where = {
        "url": f"{server.ws_url}/yjs",
        "doc": f"{lesson.room_id}/students/{lesson.alice.id}/main.py",
    }
    alice = await yjs.call("open", client="alice", token=lesson.alice.token, **where)
    teacher = await yjs.call("open", client="teacher", token=lesson.teacher.token, **where)
    assert alice["synced"] and teacher["synced"]
    await yjs.call("insert", client="alice", field="text", text="hello world")
    await yjs.call("wait_text", client="teacher", field="text", equals="hello world")
    client_id: int = alice["clientId"]
    return client_id


async def test_updates_yjs_would_not_write_are_refused_and_nobody_else_notices(
    tmp_path: Path, database_url: str, yjs: YjsHarness
) -> None:
    server = ServerProcess(server_env(tmp_path, database_url))
    await server.start()
    try:
        lesson = await prepare_lesson(database_url, server.url)
        alice_id = await open_pair(yjs, server, lesson)
        own = f"students/{lesson.alice.id}/main.py"
        hostile_updates = [
            one_client(b"\x07\x01\x01m" + write_var_uint(9)),  # a type only yrs takes
            text_insert(alice_id, PANIC_CLOCK, "x"),  # her own id, a clock yrs cannot hold
            # 3,000 values each after the last: 18 KB that yrs (and every browser) would merge
            # in time and memory growing with the square of the run (rule 3)
            merging_run(4242, [null_values()] * 3_000),
        ]
        for update in hostile_updates:
            url = f"{server.ws_url}/yjs/{lesson.room_id}/{own}?token={lesson.alice.token}"
            async with connect(url) as hostile:
                await asyncio.wait_for(hostile.recv(), 10)  # the server's step1
                await hostile.send(update_frame(update))
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        await asyncio.wait_for(hostile.recv(), 10)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1002

        # Nobody else was disturbed, and a stock client can still open the file.
        for name in ("alice", "teacher"):
            assert (await yjs.call("info", client=name))["closes"] == []
        newcomer = await yjs.call(
            "open",
            client="newcomer",
            token=lesson.teacher.token,
            url=f"{server.ws_url}/yjs",
            doc=f"{lesson.room_id}/{own}",
        )
        assert newcomer["synced"], newcomer
        await yjs.call("wait_text", client="newcomer", field="text", equals="hello world")
        assert not server.saw("damaged")
    finally:
        await server.stop()


async def test_a_document_an_update_damaged_is_reloaded_and_nobody_loses_a_keystroke(
    tmp_path: Path, database_url: str, yjs: YjsHarness
) -> None:
    require("redis")
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    env = server_env(tmp_path, database_url, redis_url=REDIS_URL, redis_prefix=prefix)
    server = ServerProcess(env)
    await server.start()
    bus = redis.from_url(REDIS_URL)
    try:
        lesson = await prepare_lesson(database_url, server.url)
        alice_id = await open_pair(yjs, server, lesson)
        own = f"students/{lesson.alice.id}/main.py"

        # A peer's frame (16 bytes of origin, then the frame) is not read before yrs takes
        # it: this one makes yrs panic inside the change.
        breaking = update_frame(text_insert(alice_id, PANIC_CLOCK, "x"))
        channel = f"{prefix}doc:{lesson.room_id}:{own}"
        assert await bus.publish(channel, uuid.uuid4().bytes + breaking) == 1

        # Both stock providers were sent away with 1012 and came back by themselves.
        for name in ("teacher", "alice"):
            back = await yjs.call("wait_synced", client=name, closes=1)
            assert [c["code"] for c in back["closes"]] == [1012], back
        await yjs.call("insert", client="teacher", field="text", text="! ")
        await yjs.call("insert", client="alice", field="text", index=0, text=">> ")
        for name in ("teacher", "alice"):
            await yjs.call("wait_text", client=name, field="text", equals=">> hello world! ")
        # The server's copy says the same to a newcomer.
        text = await fetch_text(server.ws_url, lesson.room_id, own, lesson.teacher.token)
        assert text == ">> hello world! "

        async with httpx.AsyncClient(base_url=server.url) as http:
            metrics = (await http.get("/metrics")).text
        assert "classroom_doc_reloads_total 1.0" in metrics
        assert server.saw("damaged (a frame on the bus: update broke the CRDT library")
    finally:
        await bus.aclose()
        await server.stop()
        await delete_redis_keys(prefix)
