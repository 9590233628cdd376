"""One student's socket sending few frames that each cost the server much: a real server
process with its default budgets.

Before: the same 500 KB update sent again and again (a few a second, far within the frame
budget) was stored and sent to the room every time, the document's quota never counting it
(the document did not grow), and each copy took the event loop of every room some tens of
milliseconds to read and apply: 40 copies of a 350 KB one made 14 MB of rows in 2.6 s, and
the process answered nothing else meanwhile. And one update splitting every block of a file
held the process for as long as yrs took to apply it whole."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pycrdt
from sqlmodel import col, func, select
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from rooms.frames import MessageType, SyncType, step1_frame, update_frame
from rooms.pieces import pieces
from rooms.varint import Reader, write_var_string, write_var_uint
from server.models import DocUpdate
from server.security.floods import Floods, WorkBudgets
from server.store import Store
from tests.conftest import Lesson
from tests.security.test_floods import closed_with, synced, the_room_went_on, typed_and_seen
from tests.server.processes import ServerProcess, prepare_lesson, server_env
from tests.support.docs import fetch_text
from tests.support.updates import fragmenting, many_clients, splitting_deletes

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


async def on_their_files(
    process: ServerProcess, lesson: Lesson
) -> tuple[str, ClientConnection, ClientConnection, ClientConnection, ClientConnection]:
    """Alice's file, and sockets: Bob and the teacher on Bob's, the teacher and Alice on hers."""
    own = f"students/{lesson.alice.id}/main.py"
    bob_file = f"students/{lesson.bob.id}/main.py"
    bob = await synced(process, lesson, bob_file, lesson.bob.token)
    watcher = await synced(process, lesson, bob_file, lesson.teacher.token)
    teacher = await synced(process, lesson, own, lesson.teacher.token)
    hostile = await synced(process, lesson, own, lesson.alice.token)
    return own, bob, watcher, teacher, hostile


async def test_a_costly_update_sent_again_and_again_is_stored_once_and_closed(
    tmp_path: Path, database_url: str
) -> None:
    # No compaction: it folds the rows counted below into the snapshot (on a machine fast
    # enough to store 500 pieces before the budget runs out, it folded all of them).
    process = ServerProcess(server_env(tmp_path, database_url, compact_after_updates="1000000"))
    await process.start()
    try:
        lesson = await prepare_lesson(database_url, process.url)
        own, bob, watcher, teacher, hostile = await on_their_files(process, lesson)
        frame = update_frame(many_items())
        assert 400_000 < len(frame) < 600_000

        try:
            for _ in range(300):  # at 20 ms a copy, 6 s of the loop: 12 times the burst
                await hostile.send(frame)
        except ConnectionClosed:
            pass
        code, reason = await closed_with(hostile)
        assert (code, reason) == (1008, "too much work: at most 100 ms of the server a second")

        # The teacher, on her file, got the first copy only (in pieces, rooms/pieces.py, up to
        # where the budget ran out): the others changed nothing.
        got_bytes = 0
        try:
            while True:
                got = await asyncio.wait_for(teacher.recv(), 2)
                got_bytes += len(got) if isinstance(got, bytes) and got[:1] == b"\x00" else 0
        except TimeoutError:
            pass
        assert 0 < got_bytes < len(frame) * 1.1
        stored = await stored_updates(database_url, lesson.room_id, own)
        assert 1 <= stored <= len(pieces(many_items()))

        await the_room_went_on(process, lesson, own, bob, watcher, teacher)
    finally:
        await process.stop()


async def test_an_update_of_too_many_client_ids_is_refused(
    process: ServerProcess, database_url: str
) -> None:
    """rooms/sync.py rule 14: 12,000 client ids each writing a character (140 KB) is one
    update yrs takes seconds to integrate at every load of the file, however it was written:
    refused with 1002, nothing stored, and the room goes on."""
    lesson = await prepare_lesson(database_url, process.url)
    own, bob, watcher, teacher, hostile = await on_their_files(process, lesson)
    await hostile.send(update_frame(many_clients(12_000)))
    code, reason = await closed_with(hostile)
    assert (code, reason) == (1002, "update would bring this document past 10000 client ids")
    assert await stored_updates(database_url, lesson.room_id, own) == 0
    await typed_and_seen(bob, watcher, "still here")
    for ws in (bob, watcher, teacher):
        await ws.close()
    assert not process.saw("Traceback"), "\n".join(process.log[-60:])


BLOCKS = 30_000  # two characters each: a 440 KB file


async def next_update(ws: ClientConnection) -> tuple[int, bytes]:
    """The next sync message's kind and update, skipping awareness."""
    while True:
        frame = await asyncio.wait_for(ws.recv(), 30)
        assert isinstance(frame, bytes)
        reader = Reader(frame)
        if reader.var_uint() == MessageType.SYNC:
            kind = reader.var_uint()
            if kind != SyncType.STEP1:
                return kind, reader.var_bytes()


async def fragmented(
    hostile: ClientConnection, observer: ClientConnection, blocks: int
) -> tuple[pycrdt.Doc[object], pycrdt.Doc[object]]:
    """The hostile client fills its file with ``blocks`` two-character blocks (tests/support/
    updates.py ``fragmenting``): what the observer saw of it once it saw it all, and the
    hostile client's own document."""
    seen: pycrdt.Doc[object] = pycrdt.Doc()
    seen_text = seen.get("text", type=pycrdt.Text)
    base, doc = fragmenting(blocks)
    await hostile.send(update_frame(base))
    while len(seen_text) < 2 * blocks:
        seen.apply_update((await next_update(observer))[1])
    return seen, doc


async def test_an_update_splitting_every_block_is_applied_a_piece_a_turn(
    tmp_path: Path, database_url: str
) -> None:
    """rooms/pieces.py: Alice fills her file with 30,000 two-character blocks, then sends one
    update deleting the first character of each: a split of every block, which yrs applied
    in one go (0.6 s for 50,000 such, every room of the process waiting). It is applied a
    piece a turn, each stored and sent: her teacher typing into her file meanwhile is seen
    between two of her pieces, Bob notices nothing, her next frame is answered after all of
    them, and a fresh server on the same database reads what the whole update gave."""
    env = server_env(tmp_path, database_url, max_doc_work_ms_per_second="0")
    server = ServerProcess(env)  # the budget off: every piece goes in
    await server.start()
    try:
        lesson = await prepare_lesson(database_url, server.url)
        own, bob, watcher, observer, hostile = await on_their_files(server, lesson)
        typist = await synced(server, lesson, own, lesson.teacher.token)
        seen, doc = await fragmented(hostile, observer, BLOCKS)
        seen_text = seen.get("text", type=pycrdt.Text)
        attack = splitting_deletes(doc)
        expected = str(doc.get("text", type=pycrdt.Text))
        assert expected == "x" * BLOCKS
        await hostile.send(update_frame(attack))
        await hostile.send(step1_frame(b"\x00"))  # answered once every piece is in
        frames = [(await next_update(observer))[1]]  # the first piece of it
        seen.apply_update(frames[0])

        # The teacher types meanwhile: the observer sees it between two of Alice's pieces.
        teacher_doc: pycrdt.Doc[object] = pycrdt.Doc()
        teacher_doc.get("note", type=pycrdt.Text).insert(0, "keep going")
        await typist.send(update_frame(teacher_doc.get_update()))
        kind, state = await next_update(hostile)
        while kind != SyncType.STEP2:  # the step2 answering her step1, after the teacher's
            kind, state = await next_update(hostile)
        while len(seen_text) != BLOCKS or str(seen.get("note", type=pycrdt.Text)) == "":
            if len(frames) > 10_000:
                raise AssertionError("the observer never saw the whole update")
            frames.append((await next_update(observer))[1])
            seen.apply_update(frames[-1])
        typed = [i for i, frame in enumerate(frames) if b"keep going" in frame]
        assert typed and 0 < typed[0] < len(frames) - 1, (typed, len(frames))
        assert str(seen_text) == expected, len(seen_text)

        hers: pycrdt.Doc[object] = pycrdt.Doc()
        hers.apply_update(state)
        assert str(hers.get("text", type=pycrdt.Text)) == expected, len(state)

        await typed_and_seen(bob, watcher, "nothing happened here")
        for ws in (bob, watcher, observer, typist, hostile):
            await ws.close()
        assert not server.saw("Traceback"), "\n".join(server.log[-60:])
    finally:
        await server.stop()
    again = ServerProcess(env)
    await again.start()
    try:
        text = await fetch_text(again.ws_url, lesson.room_id, own, lesson.teacher.token, 30)
        assert text == expected, (len(text), text[:40])
    finally:
        await again.stop()


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


async def test_a_flood_behind_an_update_in_pieces_waits_for_them_then_is_refused(
    tmp_path: Path, database_url: str
) -> None:
    """rooms/pieces.py rule 2, with a flood behind the update: Alice sends an update splitting
    each of 6,000 blocks, and right behind it 3,000 one-character updates, far past her
    socket's budget (100 frames a second here, 500 at once). The frames behind the update
    wait until its last piece is in (the observer sees every piece before any character),
    then count against her budget as ever: her socket is closed with 1008, what was taken
    before stays, Bob's typing goes on, and nothing in the server failed."""
    blocks, typed = 6_000, 3_000
    env = server_env(
        tmp_path, database_url, max_doc_work_ms_per_second="0", max_doc_frames_per_second="100"
    )
    server = ServerProcess(env)
    await server.start()
    try:
        lesson = await prepare_lesson(database_url, server.url)
        own, bob, watcher, observer, hostile = await on_their_files(server, lesson)
        seen, doc = await fragmented(hostile, observer, blocks)
        seen_text = seen.get("text", type=pycrdt.Text)
        attack = splitting_deletes(doc)
        assert len(pieces(attack)) > 10  # at most 64 units a piece

        typing: pycrdt.Doc[object] = pycrdt.Doc()
        typing.apply_update(doc.get_update())
        chars: list[bytes] = []
        typing.observe(lambda event: chars.append(event.update))
        text = typing.get("text", type=pycrdt.Text)
        for i in range(typed):
            text.insert(len(text), "abcdefghij"[i % 10])
        await hostile.send(update_frame(attack))
        try:  # right behind it, as fast as the socket takes them
            for update in chars:
                await hostile.send(update_frame(update))
        except ConnectionClosed:
            pass  # refused before the last
        code, reason = await closed_with(hostile)
        assert code == 1008 and "too many frames" in reason, (code, reason)

        final = await fetch_text(server.ws_url, lesson.room_id, own, lesson.teacher.token, 30)
        assert final.startswith("x" * blocks), final[:40]
        kept = final[blocks:]
        assert 0 < len(kept) < typed and str(text)[blocks:].startswith(kept), len(kept)

        order: list[bool] = []  # for each update the observer got: does it carry a character?
        while len(seen_text) != len(final):
            update = (await next_update(observer))[1]
            seen.apply_update(update)
            order.append(update[0] != 0)  # its structs' clients: none in a deletion
        assert str(seen_text) == final
        assert order.count(False) > 10 and order.index(True) > max(
            i for i, carries in enumerate(order) if not carries
        ), order[:80]

        await typed_and_seen(bob, watcher, "nothing happened here")
        for ws in (bob, watcher, observer):
            await ws.close()
        assert not server.saw("Traceback"), "\n".join(server.log[-60:])
    finally:
        await server.stop()
