"""Two server processes with Redis: a freeze and a pairing made on one process reach the
document sockets open on the other, and the lesson state is the same from both."""

from __future__ import annotations

import httpx
import pytest

from tests.node.harness import YjsHarness
from tests.server.processes import ServerProcess, prepare_lesson
from tests.support.events import EventClient

DATABASES = ("sqlite",)
pytestmark = [pytest.mark.node, pytest.mark.redis, pytest.mark.slow]


async def test_a_freeze_on_one_process_drops_updates_on_the_other(
    database_url: str, pair: tuple[ServerProcess, ServerProcess], yjs: YjsHarness
) -> None:
    one, two = pair
    lesson = await prepare_lesson(database_url, one.url)
    doc = f"{lesson.room_id}/students/{lesson.alice.id}/main.py"
    for client, server, token in (
        ("alice", two, lesson.alice.token),
        ("teacher", one, lesson.teacher.token),
    ):
        reply = await yjs.call(
            "open", client=client, url=f"{server.ws_url}/yjs", doc=doc, token=token
        )
        assert reply["synced"], reply
    await yjs.call("insert", client="alice", text="before\n")
    await yjs.call("wait_text", client="teacher", equals="before\n")

    async with await EventClient.open(two.ws_url, lesson.room_id, lesson.alice.token) as events:
        await events.expect("room.snapshot")
        async with httpx.AsyncClient(base_url=one.url) as http:
            frozen = await http.post(
                f"/api/rooms/{lesson.room_id}/lesson/freeze",
                json={"reason": "quiz"},
                headers=lesson.teacher.headers,
            )
        assert frozen.status_code == 200, frozen.text
        assert (await events.expect("lesson.frozen"))["reason"] == "quiz"
    # The lock reached process two's open socket (the bus carries it; allow it the time).
    await yjs.call("insert", client="alice", text="during\n")
    await yjs.call("wait_denied", client="alice")
    # A late joiner on process two sees the freeze in its snapshot (the state is in Redis).
    async with await EventClient.open(two.ws_url, lesson.room_id, lesson.bob.token) as bob:
        snapshot = await bob.expect("room.snapshot")
        assert snapshot["lesson"]["freeze"]["reason"] == "quiz"
    await yjs.call("insert", client="teacher", text="staff\n")
    await yjs.call("wait_text", client="alice", contains=["staff"])
    assert (await yjs.call("text", client="teacher"))["text"] == "before\nstaff\n"
