"""A demoted assistant loses staff powers on sockets already open, on every process: the
change closes their events and document sockets (1012, reconnect), and what they reopen has the
new role. Two real servers sharing the database and Redis; the demotion is made on the other."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import LiveServer, make_lesson
from tests.security.helpers import served
from tests.support.events import EventClient

DATABASES = ("sqlite",)


@pytest.fixture
def servers(tmp_path: Path, database_url: str) -> Iterator[list[LiveServer]]:
    with served(tmp_path, database_url) as pair:
        yield pair


async def set_role(server: LiveServer, lesson: object, user_id: int, role: str) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.put(
            f"/api/classrooms/{lesson.classroom['id']}/members",  # type: ignore[attr-defined]
            json={"user_id": user_id, "role": role},
            headers=lesson.teacher.headers,  # type: ignore[attr-defined]
        )
        assert response.status_code == 200, response.text


async def test_a_demoted_assistant_loses_staff_powers_on_open_sockets(
    servers: list[LiveServer],
) -> None:
    a, b = servers
    lesson = await make_lesson(a.url, a.settings, a.state)
    await set_role(a, lesson, lesson.bob.id, "assistant")
    room = lesson.room_id
    # Bob (assistant) on process B: the events socket and Alice's file, which staff may write.
    bob_events = await EventClient.open(b.ws_url, room, lesson.bob.token)
    assert (await bob_events.expect("room.snapshot"))["you"]["role"] == "assistant"
    alices_file = (
        f"{b.ws_url}/yjs/{room}/students/{lesson.alice.id}/main.py?token={lesson.bob.token}"
    )
    bob_doc = await connect(alices_file)
    await bob_doc.recv()  # step1: it is open
    alice = await EventClient.open(a.ws_url, room, lesson.alice.token)
    await alice.expect("room.snapshot")
    await alice.send({"type": "hand.raise", "message": "help"})
    hand = (await alice.expect("hand.raised"))["hand"]

    await set_role(a, lesson, lesson.bob.id, "student")  # on process A

    for ws in (bob_events.ws, bob_doc):
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1012
    # What he reopens has the new role: no staff commands, no other student's file.
    again = await EventClient.open(b.ws_url, room, lesson.bob.token)
    assert (await again.expect("room.snapshot"))["you"]["role"] == "student"
    await again.send({"type": "hand.take", "hand_id": hand["id"], "ref": "t"})
    refused = await again.expect("error")
    assert refused["code"] == "forbidden" and "student" in refused["message"]
    reopened = await connect(alices_file)
    with pytest.raises(ConnectionClosed) as info:
        await asyncio.wait_for(reopened.recv(), 10)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008
    # Alice's hand is untouched and the teacher can still take it.
    teacher = await EventClient.open(a.ws_url, room, lesson.teacher.token)
    assert [h["state"] for h in (await teacher.expect("room.snapshot"))["hands"]] == ["pending"]
    await teacher.send({"type": "hand.take", "hand_id": hand["id"]})
    assert (await teacher.expect("hand.taken"))["hand"]["id"] == hand["id"]
    for client in (again, alice, teacher):
        await client.ws.close()
