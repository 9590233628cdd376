"""Hands a user raises a minute (server/hands/queue.py). Before: raising and lowering in a loop,
within the socket's budget, stored 43 hands a second and sent the staff 86 events a second."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import Settings
from tests.conftest import Lesson, LiveServer, make_settings
from tests.support.events import close_all, opened

DATABASES = ("sqlite", "postgres")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, hands_per_minute="3")


async def test_raising_and_lowering_in_a_loop_is_bounded(
    server: LiveServer, live_lesson: Lesson
) -> None:
    room = live_lesson.room_id
    teacher, _ = await opened(server.ws_url, room, live_lesson.teacher.token)
    alice, _ = await opened(server.ws_url, room, live_lesson.alice.token)
    bob, _ = await opened(server.ws_url, room, live_lesson.bob.token)
    try:
        for _ in range(3):
            await alice.send({"type": "hand.raise", "message": "help"})
            await alice.expect("hand.raised")
            await alice.send({"type": "hand.lower"})
            await alice.expect("hand.lowered")
        await alice.send({"type": "hand.raise", "message": "help"})
        refused = await alice.expect("error")
        assert refused["code"] == "rate_limited"
        assert "at most 3 a minute" in refused["message"]
        # Bob's hand goes up as ever, and the teacher saw three of Alice's before it.
        await bob.send({"type": "hand.raise", "message": "me too"})
        seen = []
        while True:
            hand = (await teacher.expect("hand.raised"))["hand"]
            seen.append(hand["user"]["name"])
            if hand["user"]["name"] == "Bob":
                break
        assert seen == ["Alice"] * 3 + ["Bob"]
    finally:
        await close_all(teacher, alice, bob)
