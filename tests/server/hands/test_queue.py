"""The help queue over real sockets: raise, take (exactly one of two staff wins), done."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import Lesson, LiveServer
from tests.support.events import EventClient

DATABASES = ("sqlite", "postgres")


async def test_help_queue(server: LiveServer, live_lesson: Lesson) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.put(
            f"/api/classrooms/{live_lesson.classroom['id']}/members",
            json={"user_id": live_lesson.bob.id, "role": "assistant"},
            headers=live_lesson.teacher.headers,
        )
        assert response.status_code == 200
    room = live_lesson.room_id
    teacher = await EventClient.open(server.ws_url, room, live_lesson.teacher.token)
    bob = await EventClient.open(server.ws_url, room, live_lesson.bob.token)
    alice = await EventClient.open(server.ws_url, room, live_lesson.alice.token)
    try:
        for client in (teacher, bob, alice):
            assert (await client.expect("room.snapshot"))["hands"] == []

        await alice.send(
            {
                "type": "hand.raise",
                "doc": f"students/{live_lesson.alice.id}/main.py",
                "message": "stuck on loop",
            }
        )
        raised = (await alice.expect("hand.raised"))["hand"]
        assert raised["state"] == "pending" and raised["user"]["name"] == "Alice"
        assert (await teacher.expect("hand.raised"))["hand"]["id"] == raised["id"]
        assert (await bob.expect("hand.raised"))["hand"]["message"] == "stuck on loop"

        await alice.send({"type": "hand.raise"})
        assert (await alice.expect("error"))["code"] == "already_raised"

        # Both staff take at the same moment: one hand.taken, one already_taken error.
        await asyncio.gather(
            teacher.send({"type": "hand.take", "hand_id": raised["id"]}),
            bob.send({"type": "hand.take", "hand_id": raised["id"]}),
        )
        taken = await alice.expect("hand.taken")
        winner = taken["hand"]["taken_by"]["id"]
        assert winner in {live_lesson.teacher.id, live_lesson.bob.id}
        loser = bob if winner == live_lesson.teacher.id else teacher
        refusal = await loser.expect("error")
        assert refusal["code"] == "already_taken"
        assert taken["hand"]["taken_by"]["name"] in refusal["message"]

        late = await EventClient.open(server.ws_url, room, live_lesson.teacher.token)
        snapshot = await late.expect("room.snapshot")
        assert [h["state"] for h in snapshot["hands"]] == ["taken"]
        await late.close()

        await alice.send({"type": "hand.take", "hand_id": raised["id"]})
        assert (await alice.expect("error"))["code"] == "forbidden"

        await teacher.send({"type": "hand.done", "hand_id": raised["id"]})
        assert (await alice.expect("hand.done"))["hand"]["state"] == "done"
        await teacher.send({"type": "hand.done", "hand_id": raised["id"]})
        assert (await teacher.expect("error"))["code"] == "hand_closed"

        await alice.send({"type": "hand.raise", "message": "again"})
        second = (await alice.expect("hand.raised"))["hand"]
        await alice.send({"type": "hand.lower"})
        assert (await teacher.expect("hand.lowered"))["hand"]["id"] == second["id"]
        await alice.send({"type": "hand.lower"})
        assert (await alice.expect("error"))["code"] == "no_hand"
    finally:
        for client in (teacher, bob, alice):
            await client.close()
