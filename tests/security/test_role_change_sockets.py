"""A demoted assistant loses staff powers on sockets already open, on every process: the
change closes their events and document sockets (1012, reconnect), and what they reopen has the
new role. Two real servers sharing the database and Redis; the demotion is made on the other."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server.auth import Caller
from tests.conftest import Lesson, LiveServer, make_lesson
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


@pytest.mark.parametrize("kind", ["events", "docs"])
async def test_a_change_while_a_socket_opens_closes_it_once_held(
    server: LiveServer, live_lesson: Lesson, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alice's role changes after her socket was accepted but before the server held it in its
    table (her token still being checked): the change finds nothing to close, so the socket
    itself must see it and close with 1012 rather than go on with the trust it had before."""
    sessions = server.state.security.sessions
    checked: concurrent.futures.Future[None] = concurrent.futures.Future()
    changed = asyncio.Event()  # set on the server's loop, by the change itself
    verify = sessions.verify

    async def held_back(token: str | None) -> Caller:
        caller = await verify(token)
        checked.set_result(None)
        await changed.wait()
        return caller

    monkeypatch.setattr(sessions, "verify", held_back)
    sessions.on_change(lambda _user: changed.set())
    alice, room = live_lesson.alice, live_lesson.room_id
    if kind == "events":
        url = f"{server.ws_url}/ws/rooms/{room}?token={alice.token}"
    else:
        url = f"{server.ws_url}/yjs/{room}/students/{alice.id}/main.py?token={alice.token}"
    socket = await connect(url)  # accepted: the client sees it open
    await asyncio.wait_for(asyncio.wrap_future(checked), 10)
    await server.on_server_loop(sessions.announce(alice.id, "role"))

    try:
        with pytest.raises(ConnectionClosed) as info:
            first = await asyncio.wait_for(socket.recv(), 10)
            pytest.fail(f"the socket went on after the change: {first!r}")
    finally:
        await socket.close()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1012
    assert "access changed" in info.value.rcvd.reason
    # She comes back with the trust she has now.
    monkeypatch.setattr(sessions, "verify", verify)
    again = await connect(url)
    assert await asyncio.wait_for(again.recv(), 10)
    await again.close()
