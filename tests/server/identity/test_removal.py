"""Removing a member from a classroom (``DELETE /api/classrooms/{id}/members/{user_id}``,
server/identity/removal.py): a fake classmate made with the join code, or a student who left.
Before, only an LMS roster sync removed anyone, and it left the student's sockets open, their
hand in the staff's queue and their points on the boards."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import func, select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server.gamification.game import PointsAward
from server.models import XpEvent
from tests.conftest import Account, Lesson, LiveServer, join_as, make_lesson
from tests.security.helpers import served
from tests.support.events import EventClient, close_all, opened

DATABASES = ("sqlite", "postgres")


@pytest.fixture
def servers(tmp_path: Path, database_url: str) -> Iterator[list[LiveServer]]:
    with served(tmp_path, database_url) as pair:
        yield pair


async def award(server: LiveServer, lesson: Lesson, user: Account, amount: int) -> None:
    grant = PointsAward(
        user_id=user.id,
        classroom_id=lesson.classroom["id"],
        room_id=lesson.room_id,
        amount=amount,
        reason="quiz",
        detail="a quiz answer",
        at=datetime.now(UTC),
    )
    await server.on_server_loop(server.state.gamification.award(grant))


async def remove(server: LiveServer, lesson: Lesson, user_id: int, by: Account) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url) as http:
        return await http.delete(
            f"/api/classrooms/{lesson.classroom['id']}/members/{user_id}", headers=by.headers
        )


async def closed_with(ws: Any) -> int:
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    assert info.value.rcvd is not None
    code: int = info.value.rcvd.code
    return code


def names(board: dict[str, Any]) -> list[str]:
    return [entry["name"] for entry in board["entries"]]


async def test_a_removed_student_is_out_of_every_process_at_once(
    servers: list[LiveServer],
) -> None:
    a, b = servers
    lesson = await make_lesson(a.url, a.settings, a.state)
    room = lesson.room_id
    await award(a, lesson, lesson.alice, 50)
    await award(a, lesson, lesson.bob, 20)
    # Alice's events socket on process A, her own file on process B; the teacher on A. (The
    # two servers of this test share one Python process, whose room events each takes for its
    # own: the events the teacher waits for are made on A.)
    alice, _ = await opened(a.ws_url, room, lesson.alice.token)
    her_file = f"{b.ws_url}/yjs/{room}/students/{lesson.alice.id}/main.py?token="
    alice_doc = await connect(her_file + lesson.alice.token)
    await alice_doc.recv()  # step 1: it is open
    teacher, snapshot = await opened(a.ws_url, room, lesson.teacher.token)
    assert names(snapshot["leaderboard"]["room"]) == ["Alice", "Bob"]
    await alice.send({"type": "hand.raise", "message": "help"})
    hand = (await teacher.expect("hand.raised"))["hand"]

    response = await remove(a, lesson, lesson.alice.id, lesson.teacher)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "classroom_id": lesson.classroom["id"],
        "user_id": lesson.alice.id,
        "role": "student",
        "hands_lowered": 1,
    }

    # Her sockets on the other process close (1012, reconnect), and what she reopens is refused.
    assert await closed_with(alice.ws) == 1012
    assert await closed_with(alice_doc) == 1012
    with pytest.raises(ConnectionClosed) as info:
        again = await EventClient.open(a.ws_url, room, lesson.alice.token)
        await again.next()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008
    reopened = await connect(her_file + lesson.alice.token)
    assert await closed_with(reopened) == 1008
    # The staff see her hand lowered and both boards without her.
    lowered = (await teacher.expect("hand.lowered"))["hand"]
    assert lowered["id"] == hand["id"] and lowered["state"] == "lowered"
    boards = {}
    while len(boards) < 2:
        update = await teacher.expect("leaderboard.update")
        boards[update["board"]] = update
    assert names(boards["room"]) == ["Bob"] and boards["room"]["moved"] is None
    assert names(boards["weekly"]) == ["Bob"]
    await close_all(teacher)

    async with httpx.AsyncClient(base_url=b.url) as http:
        cid = lesson.classroom["id"]
        theirs = await http.get("/api/classrooms", headers=lesson.alice.headers)
        assert theirs.json() == {"classrooms": []}
        assert (
            await http.get(f"/api/rooms/{room}", headers=lesson.alice.headers)
        ).status_code == 403
        staff = lesson.teacher.headers
        members = (await http.get(f"/api/classrooms/{cid}/members", headers=staff)).json()
        assert [m["name"] for m in members["members"]] == ["Ada", "Bob"]
        board = (await http.get(f"/api/rooms/{room}/leaderboard", headers=staff)).json()
        assert names(board["room"]) == ["Bob"] and names(board["weekly"]) == ["Bob"]
        grid = (await http.get(f"/api/rooms/{room}/progress", headers=staff)).json()
        assert [s["name"] for s in grid["students"]] == ["Bob"]
        sheet = (await http.get(f"/api/classrooms/{cid}/gradebook", headers=staff)).json()
        assert [s["name"] for s in sheet["students"]] == ["Bob"]
    # What she made is kept: her XP rows are still in the ledger.
    async with a.state.store.session() as session:
        kept = await session.exec(
            select(func.count()).select_from(XpEvent).where(XpEvent.user_id == lesson.alice.id)
        )
        assert kept.one() == 1


async def test_who_may_remove_whom(server: LiveServer, live_lesson: Lesson) -> None:
    lesson = live_lesson
    cid = lesson.classroom["id"]
    async with httpx.AsyncClient(base_url=server.url) as http:
        # A co-instructor and an assistant.
        carl = await join_as(http, lesson.classroom["join_code"], "Carl")
        dora = await join_as(http, lesson.classroom["join_code"], "Dora")
        for user, role in ((carl, "instructor"), (dora, "assistant")):
            made = await http.put(
                f"/api/classrooms/{cid}/members",
                json={"user_id": user.id, "role": role},
                headers=lesson.teacher.headers,
            )
            assert made.status_code == 200, made.text

    async def refused(user_id: int, by: Account, status: int, code: str) -> None:
        response = await remove(server, lesson, user_id, by)
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code

    await refused(lesson.alice.id, lesson.bob, 403, "wrong_role")  # a student
    await refused(lesson.alice.id, dora, 403, "wrong_role")  # an assistant
    await refused(lesson.teacher.id, lesson.teacher, 400, "own_membership")
    await refused(lesson.teacher.id, carl, 409, "classroom_owner")
    await refused(999_999, lesson.teacher, 404, "not_a_member")
    # A co-instructor may remove a student, and an assistant; nobody twice.
    assert (await remove(server, lesson, lesson.alice.id, carl)).status_code == 200
    removed = await remove(server, lesson, dora.id, lesson.teacher)
    assert removed.status_code == 200 and removed.json()["role"] == "assistant"
    await refused(lesson.alice.id, lesson.teacher, 404, "not_a_member")
    # Once out, Dora may not remove anyone; the room goes on for those left.
    await refused(lesson.bob.id, dora, 403, "not_a_member")
    bob, snapshot = await opened(server.ws_url, lesson.room_id, lesson.bob.token)
    assert snapshot["you"]["role"] == "student"
    await close_all(bob)
