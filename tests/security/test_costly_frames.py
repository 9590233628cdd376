"""One student's socket sending few frames that each cost the server much: a real server
process with its default budgets.

Before: the same 500 KB update sent again and again (a few a second, far within the frame
budget) was stored and sent to the room every time, the document's quota never counting it
(the document did not grow), and each copy took the event loop of every room some tens of
milliseconds to read and apply: 40 copies of a 350 KB one made 14 MB of rows in 2.6 s, and
the process answered nothing else meanwhile."""

from __future__ import annotations

import asyncio

from sqlmodel import col, func, select
from websockets.exceptions import ConnectionClosed

from rooms.frames import update_frame
from rooms.varint import write_var_string, write_var_uint
from server.models import DocUpdate
from server.security.floods import Floods, WorkBudgets
from server.store import Store
from tests.security.test_floods import closed_with, synced, the_room_went_on
from tests.server.processes import ServerProcess, prepare_lesson

DATABASES = ("sqlite",)
ITEMS = 70_000  # a 500 KB update: one character, then the others each after it


def many_items(client: int = 987_654) -> bytes:
    first = b"\x04\x01" + write_var_string("text") + write_var_string("a")
    after_first = bytes([0x84]) + write_var_uint(client) + b"\x00" + write_var_string("b")
    head = write_var_uint(1) + write_var_uint(ITEMS) + write_var_uint(client) + b"\x00"
    return head + first + after_first * (ITEMS - 1) + b"\x00"


async def stored_updates(database_url: str, room_id: int, doc: str) -> int:
    store = Store(database_url)
    try:
        async with store.session() as session:
            query = select(func.count()).select_from(DocUpdate)
            query = query.where(col(DocUpdate.room_id) == room_id, col(DocUpdate.doc) == doc)
            return int((await session.exec(query)).one())
    finally:
        await store.close()


async def test_a_costly_update_sent_again_and_again_is_stored_once_and_closed(
    process: ServerProcess, database_url: str
) -> None:
    lesson = await prepare_lesson(database_url, process.url)
    own = f"students/{lesson.alice.id}/main.py"
    bob_file = f"students/{lesson.bob.id}/main.py"
    bob = await synced(process, lesson, bob_file, lesson.bob.token)
    watcher = await synced(process, lesson, bob_file, lesson.teacher.token)
    teacher = await synced(process, lesson, own, lesson.teacher.token)
    hostile = await synced(process, lesson, own, lesson.alice.token)
    frame = update_frame(many_items())
    assert 400_000 < len(frame) < 600_000

    try:
        for _ in range(300):  # at 20 ms a copy, 6 s of the loop: 12 times the burst
            await hostile.send(frame)
    except ConnectionClosed:
        pass
    code, reason = await closed_with(hostile)
    assert (code, reason) == (1008, "too much work: at most 100 ms of the server a second")

    # The teacher, on her file, got the first copy only: the others changed nothing.
    copies = 0
    try:
        while True:
            got = await asyncio.wait_for(teacher.recv(), 2)
            copies += isinstance(got, bytes) and len(got) > 100_000
    except TimeoutError:
        pass
    assert copies == 1
    assert await stored_updates(database_url, lesson.room_id, own) == 1

    await the_room_went_on(process, lesson, own, bob, watcher, teacher)


def test_a_users_share_of_the_loop_refills_at_its_rate() -> None:
    now = [0.0]
    budgets = WorkBudgets(100, clock=lambda: now[0])  # 100 ms a second, 0.5 s at once
    assert budgets.charge(1, 0.4)
    assert budgets.charge(1, 0.099)  # nearly the whole burst
    assert not budgets.charge(1, 0.002)
    assert budgets.charge(2, 0.3)  # another user has their own
    now[0] += 1.0  # a second later: 100 ms more
    assert budgets.charge(1, 0.09)
    assert not budgets.charge(1, 0.02)
    now[0] += 60.0  # never more than the burst
    assert budgets.charge(1, 0.5)
    assert not budgets.charge(1, 0.01)
    # A frame measured after it ran can take more than what is left: the user then waits
    # until the budget has refilled it (here 0.3 s beyond, 3 s at 100 ms a second).
    assert budgets.debt(2) == 0.0 and budgets.debt(1) > 0
    now[0] += 60.0
    assert not budgets.charge(1, 0.8)
    assert abs(budgets.debt(1) - 3.0) < 1e-9
    floods = Floods(1000, 100, clock=lambda: now[0])
    floods.flooded(1, budgets.debt(1))
    floods.flooded(2)
    assert floods.waiting(1) == 10.0 and floods.waiting(2) == 10.0  # the penalty, at least
    floods.flooded(1, 30.0)
    assert floods.waiting(1) == 30.0
    off = WorkBudgets(0, clock=lambda: now[0])
    assert all(off.charge(1, 10.0) for _ in range(5))
    assert budgets.refusal() == "too much work: at most 100 ms of the server a second"


def test_users_whose_share_is_whole_again_are_forgotten_and_debtors_kept() -> None:
    now = [0.0]
    budgets = WorkBudgets(100, clock=lambda: now[0])
    assert not budgets.charge(0, 3.0)  # 2.5 s beyond: 25 s to repay
    for user in range(1, 10_000):
        assert budgets.charge(user, 0.01)
    now[0] += 10.0  # the others are whole again; user 0 still owes 1.5 s
    assert budgets.charge(10_000, 0.01)
    assert len(budgets._left) == 2
    assert abs(budgets.debt(0) - 15.0) < 1e-6
