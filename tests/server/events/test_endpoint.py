"""The room events socket over real WebSockets on a served app."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from sqlmodel import delete
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rooms.events import ROOM_AUDIENCE
from server.documents.direct import wire_text_frame
from server.events import hub as hub_module
from server.models import Membership
from server.store import Store
from tests.conftest import Lesson, LiveServer
from tests.support.events import EventClient

DATABASES = ("sqlite",)


async def test_snapshot_and_presence(server: LiveServer, live_lesson: Lesson) -> None:
    async with await EventClient.open(
        server.ws_url, live_lesson.room_id, live_lesson.teacher.token
    ) as teacher:
        snapshot = await teacher.expect("room.snapshot")
        assert snapshot["you"] == {
            "id": live_lesson.teacher.id,
            "name": "Ada",
            "role": "instructor",
        }
        members = {m["name"]: m for m in snapshot["members"]}
        assert members["Ada"]["online"] is True
        assert members["Alice"]["online"] is False

        async with await EventClient.open(
            server.ws_url, live_lesson.room_id, live_lesson.alice.token
        ) as alice:
            first = await alice.next()
            assert first["type"] == "room.snapshot"
            assert {m["name"] for m in first["members"] if m["online"]} == {"Ada", "Alice"}
            joined = await teacher.expect("member.joined")
            assert joined["user"]["name"] == "Alice"
        left = await teacher.expect("member.left")
        assert left["user"]["id"] == live_lesson.alice.id


async def test_bad_messages_get_errors_and_the_socket_stays(
    server: LiveServer, live_lesson: Lesson
) -> None:
    async with await EventClient.open(
        server.ws_url, live_lesson.room_id, live_lesson.alice.token
    ) as alice:
        await alice.expect("room.snapshot")
        cases = [
            ("not json", "invalid_json"),
            (json.dumps([1, 2]), "invalid_message"),
            (json.dumps({"type": "nope"}), "unknown_type"),
            (json.dumps({"type": "demo.next"}), "forbidden"),
            (json.dumps({"type": "hand.take", "hand_id": 1}), "forbidden"),
            (json.dumps({"type": "run.start"}), "invalid_field"),
            (json.dumps({"type": "run.start", "language": 3}), "invalid_field"),
            (json.dumps({"type": "run.cancel", "run_id": "x", "extra": 1}), "invalid_field"),
            (json.dumps({"type": "ping", "pad": "x" * 300_000}), "too_large"),
        ]
        for raw, code in cases:
            await alice.ws.send(raw)
            error = await alice.expect("error")
            assert error["code"] == code, (raw[:40], error)
        reply = await alice.request({"type": "ping", "ref": 7}, "pong")
        assert reply == {"type": "pong"}


@pytest.mark.parametrize("who", ["nobody", "forged", "outsider_room"])
async def test_refused_connections_close_with_policy(
    server: LiveServer, live_lesson: Lesson, who: str
) -> None:
    room, token = live_lesson.room_id, live_lesson.alice.token
    if who == "nobody":
        token = ""
    elif who == "forged":
        token = token[:-3] + "abc"
    else:
        room = 424242
    client = await EventClient.open(server.ws_url, room, token)
    with pytest.raises(ConnectionClosed) as closed:
        await client.next()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_an_event_is_framed_once_and_written_straight_to_every_socket(
    server: LiveServer, live_lesson: Lesson, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event for many sockets is encoded and framed once, and each socket's frame goes
    straight to its transport (server/events/hub.py, endpoint.py). If an upgrade of uvicorn changes
    what that relies on, this fails rather than every event silently taking one ASGI send
    (and one encoding) per recipient."""
    framed: list[str] = []

    def counting(text: str) -> bytes:
        framed.append(text)
        return wire_text_frame(text)

    monkeypatch.setattr(hub_module, "wire_text_frame", counting)
    room, lesson = live_lesson.room_id, live_lesson
    async with await EventClient.open(server.ws_url, room, lesson.teacher.token) as teacher:
        # The snapshot comes once the teacher is among the room's sockets: Alice's arrival
        # cannot be published before that (it would be in the snapshot instead).
        await teacher.expect("room.snapshot")
        async with await EventClient.open(server.ws_url, room, lesson.alice.token) as alice:
            await alice.expect("room.snapshot")
            await teacher.expect("member.joined")
            await _bob_arrives(server, room, lesson, teacher=teacher, alice=alice, framed=framed)


async def _bob_arrives(
    server: LiveServer,
    room: int,
    lesson: Lesson,
    *,
    teacher: EventClient,
    alice: EventClient,
    framed: list[str],
) -> None:
    """Bob's arrival reaches the teacher and Alice, framed once for both."""
    async with await EventClient.open(server.ws_url, room, lesson.bob.token) as bob:
        await bob.expect("room.snapshot")
        seen = [await teacher.expect("member.joined"), await alice.expect("member.joined")]
    assert seen[0] == seen[1] and seen[0]["user"]["name"] == "Bob"
    joined = [json.loads(text) for text in framed if '"member.joined"' in text]
    # Alice's arrival (to the teacher), then Bob's: framed once for both its recipients.
    assert [event["user"]["name"] for event in joined] == ["Alice", "Bob"]
    assert joined[1] == seen[0]


async def test_a_reader_that_stalls_gets_every_event_in_order(
    server: LiveServer, live_lesson: Lesson
) -> None:
    """Alice stops reading until the server's transport to her is paused: what the direct
    write declined goes by the ASGI send while later events queue behind it, and she gets
    every event, in order, once she reads again. Bob, reading, gets them all meanwhile."""
    room, lesson = live_lesson.room_id, live_lesson
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
    url = f"{server.ws_url}/ws/rooms/{room}?token={lesson.alice.token}"
    async with (
        connect(url, sock=sock, max_size=None, max_queue=1, ping_interval=None) as alice_ws,
        await EventClient.open(server.ws_url, room, lesson.bob.token) as bob,
    ):
        alice = EventClient(alice_ws)
        await alice.expect("room.snapshot")
        await bob.expect("room.snapshot")
        pad = "x" * 200_000
        for step in range(40):
            event = {"type": "demo.step", "step": step, "pad": pad}
            await server.on_server_loop(server.state.hub.publish(room, ROOM_AUDIENCE, event))
        async with asyncio.timeout(60):
            steps = [(await bob.expect("demo.step"))["step"] for _ in range(40)]
        assert steps == list(range(40))
        alice_conn = next(c for c in server.state.hub.local(room) if c.user_id == lesson.alice.id)
        assert not alice_conn.outbox.empty() or alice_conn.sending  # she stalled the writer
        async with asyncio.timeout(60):
            steps = [(await alice.expect("demo.step"))["step"] for _ in range(40)]
        assert steps == list(range(40))


async def test_a_member_removed_meanwhile_is_refused_at_the_next_command(
    server: LiveServer, live_lesson: Lesson
) -> None:
    """The socket knows its user's role from when it opened; a command that needs the role
    reads the membership again, so one removed since is refused, and the socket stays."""
    async with await EventClient.open(
        server.ws_url, live_lesson.room_id, live_lesson.alice.token
    ) as alice:
        await alice.expect("room.snapshot")
        store = Store(server.settings.database_url)
        try:
            async with store.session() as session:
                await session.exec(
                    delete(Membership).where(Membership.user_id == live_lesson.alice.id)  # type: ignore[arg-type]
                )
        finally:
            await store.close()
        commands = [
            {"type": "run.start", "language": "python", "files": {"main.py": "print(1)\n"}},
            {"type": "submit", "exercise_id": "double", "files": {"main.py": "print(1)\n"}},
        ]
        for command in commands:
            await alice.send(command)
            error = await alice.expect("error")
            assert error["code"] == "not_a_member", (command["type"], error)
        assert await alice.request({"type": "ping", "ref": 1}, "pong") == {"type": "pong"}
