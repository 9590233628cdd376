"""An update that makes yrs panic halfway through a change left the server's copy of the
document half-changed: later edits failed or went missing from what newcomers were sent.
Now that copy is dropped (registry.py rule 6): the sender is closed with 1002, everyone
else on the document with 1012, and stock providers reconnect to a copy reloaded from the
store. A real server process, stock Yjs clients (Node) and a hostile raw socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rooms.frames import update_frame
from tests.node.harness import YjsHarness
from tests.server.processes import ServerProcess, prepare_lesson, server_env
from tests.services import require
from tests.support.docs import fetch_text
from tests.support.updates import PANIC_CLOCK, text_insert

DATABASES = ("sqlite",)
pytestmark = pytest.mark.node


@pytest.fixture
async def yjs() -> AsyncIterator[YjsHarness]:
    require("node")
    async with YjsHarness() as harness:
        yield harness


async def test_a_document_damaged_by_an_update_is_reloaded_and_nobody_loses_a_keystroke(
    tmp_path: Path, database_url: str, yjs: YjsHarness
) -> None:
    server = ServerProcess(server_env(tmp_path, database_url))
    await server.start()
    try:
        lesson = await prepare_lesson(database_url, server.url)
        own = f"students/{lesson.alice.id}/main.py"
        where = {"url": f"{server.ws_url}/yjs", "doc": f"{lesson.room_id}/{own}"}
        alice = await yjs.call("open", client="alice", token=lesson.alice.token, **where)
        teacher = await yjs.call("open", client="teacher", token=lesson.teacher.token, **where)
        assert alice["synced"] and teacher["synced"]
        await yjs.call("insert", client="alice", field="text", text="hello world")
        await yjs.call("wait_text", client="teacher", field="text", equals="hello world")

        # Her own client id, a clock yrs cannot hold: it panics inside the change.
        url = f"{server.ws_url}/yjs/{lesson.room_id}/{own}?token={lesson.alice.token}"
        async with connect(url) as hostile:
            await asyncio.wait_for(hostile.recv(), 10)  # the server's step1
            await hostile.send(update_frame(text_insert(alice["clientId"], PANIC_CLOCK, "x")))
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(hostile.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1002

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
        assert server.saw("damaged (update broke the CRDT library")
    finally:
        await server.stop()
