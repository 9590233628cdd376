"""The room events socket over real WebSockets on a served app."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed

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
