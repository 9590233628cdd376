"""Runs from the room socket: streamed to the runner and the staff only, stdin, cancel, gaps.

The app runs code on the sandbox it selects (the local backend in these tests' settings, so
they run on any machine; the Docker backend has its own tests)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Lesson, LiveServer, new_room
from tests.node.harness import YjsHarness
from tests.security.test_storage_quota import text_update, write_stored
from tests.support.events import EventClient

pytestmark = pytest.mark.bwrap

DATABASES = ("sqlite",)

TICKING = "import time\nprint('one', flush=True)\ntime.sleep(1)\nprint('two', flush=True)\n"


async def clients(
    server: LiveServer, lesson: Lesson
) -> tuple[EventClient, EventClient, EventClient]:
    room = lesson.room_id
    teacher = await EventClient.open(server.ws_url, room, lesson.teacher.token)
    alice = await EventClient.open(server.ws_url, room, lesson.alice.token)
    bob = await EventClient.open(server.ws_url, room, lesson.bob.token)
    for client in (teacher, alice, bob):
        await client.expect("room.snapshot")
    return teacher, alice, bob


async def output_of(
    client: EventClient, run_id: str
) -> tuple[list[dict[str, object]], dict[str, object]]:
    chunks = []
    while True:
        event = await client.next(15)
        if event.get("run_id") != run_id:
            continue
        if event["type"] == "run.output":
            chunks.append(event)
        elif event["type"] == "run.finished":
            return chunks, event


async def test_run_streams_to_runner_and_staff_only(
    server: LiveServer, live_lesson: Lesson
) -> None:
    teacher, alice, bob = await clients(server, live_lesson)
    try:
        await alice.send(
            {"type": "run.start", "language": "python", "files": {"main.py": TICKING}, "ref": "r1"}
        )
        started = await alice.expect("run.started")
        run_id = started["run_id"]
        assert started["user"]["name"] == "Alice" and started["ref"] == "r1"
        chunks, finished = await output_of(alice, run_id)
        assert "".join(str(c["data"]) for c in chunks) == "one\ntwo\n", (chunks, finished)
        assert [c["seq"] for c in chunks] == sorted(c["seq"] for c in chunks)
        assert finished["status"] == "ok" and finished["exit_code"] == 0
        assert float(finished["time_ms"]) >= 900

        staff_chunks, staff_finished = await output_of(teacher, run_id)
        assert [c["data"] for c in staff_chunks] == [c["data"] for c in chunks]
        assert staff_finished["status"] == "ok"

        # Bob sees none of it: a ping he sends after the run ends comes back before anything else.
        await bob.send({"type": "ping"})
        await bob.expect("pong")
        assert not [e for e in bob.seen if str(e.get("type", "")).startswith("run.")]

        # A later connection's snapshot lists the run: the runner's own, and all for staff.
        again = await EventClient.open(server.ws_url, live_lesson.room_id, live_lesson.alice.token)
        recent = (await again.expect("room.snapshot"))["runs"]
        await again.close()
        assert recent[0]["id"] == run_id and recent[0]["status"] == "ok"
        nosy = await EventClient.open(server.ws_url, live_lesson.room_id, live_lesson.bob.token)
        assert (await nosy.expect("room.snapshot"))["runs"] == []
        await nosy.close()

        await bob.send({"type": "run.fetch", "run_id": run_id})
        assert (await bob.expect("error"))["code"] == "not_yours"
        await alice.send({"type": "run.fetch", "run_id": run_id, "after": chunks[0]["seq"]})
        replay = await alice.expect("run.chunks")
        assert [c["data"] for c in replay["chunks"]] == [c["data"] for c in chunks[1:]]
    finally:
        for client in (teacher, alice, bob):
            await client.close()


async def test_stdin_cancel_and_errors(server: LiveServer, live_lesson: Lesson) -> None:
    teacher, alice, bob = await clients(server, live_lesson)
    try:
        echo = "while True:\n    line = input()\n    print('got', line, flush=True)\n"
        await alice.send({"type": "run.start", "language": "python", "files": {"main.py": echo}})
        run_id = (await alice.expect("run.started"))["run_id"]
        await bob.send({"type": "run.stdin", "run_id": run_id, "data": "x\n"})
        assert (await bob.expect("error"))["code"] in {"not_yours", "unknown_run"}
        await alice.send({"type": "run.stdin", "run_id": run_id, "data": "hello\n"})
        # Output may arrive in several chunks: read until the line is complete.
        text = ""
        while not text.endswith("\n"):
            text += (await alice.expect("run.output", run_id=run_id))["data"]
        assert text == "got hello\n"
        await alice.send({"type": "run.stdin", "run_id": run_id, "eof": True})
        _, finished = await output_of(alice, run_id)
        assert finished["status"] == "runtime_error"  # EOFError from input()

        await alice.send(
            {
                "type": "run.start",
                "language": "python",
                "files": {"main.py": "import time\ntime.sleep(30)\n"},
            }
        )
        run_id = (await alice.expect("run.started"))["run_id"]
        await teacher.send({"type": "run.cancel", "run_id": run_id})
        _, finished = await output_of(alice, run_id)
        assert finished["status"] == "cancelled"

        await alice.send({"type": "run.start", "language": "cobol", "files": {"main.cob": "x"}})
        assert (await alice.expect("error"))["code"] == "unknown_language"
        await alice.send(
            {
                "type": "run.start",
                "language": "python",
                "doc": f"students/{live_lesson.bob.id}/main.py",
            }
        )
        assert (await alice.expect("error"))["code"] == "document_forbidden"
        await alice.send(
            {"type": "run.start", "language": "python", "doc": "demo", "files": {"a.py": ""}}
        )
        assert (await alice.expect("error"))["code"] == "doc_or_files"
        await alice.send(
            {"type": "run.start", "language": "python", "files": {"../x.py": "print(1)"}}
        )
        assert (await alice.expect("error"))["code"] == "invalid_files"
    finally:
        for client in (teacher, alice, bob):
            await client.close()


async def test_run_the_document_as_typed(
    server: LiveServer, live_lesson: Lesson, yjs: YjsHarness
) -> None:
    doc = f"students/{live_lesson.alice.id}/main.py"
    await yjs.call(
        "open",
        client="alice",
        url=f"{server.ws_url}/yjs",
        doc=f"{live_lesson.room_id}/{doc}",
        token=live_lesson.alice.token,
    )
    await yjs.call("insert", client="alice", text="print(6 * 7)\n")
    # The server has applied the edit once another client of the document receives it.
    await yjs.call(
        "open",
        client="watcher",
        url=f"{server.ws_url}/yjs",
        doc=f"{live_lesson.room_id}/{doc}",
        token=live_lesson.teacher.token,
    )
    await yjs.call("wait_text", client="watcher", equals="print(6 * 7)\n")
    teacher, alice, bob = await clients(server, live_lesson)
    try:
        await alice.send({"type": "run.start", "language": "python", "doc": doc})
        run_id = (await alice.expect("run.started"))["run_id"]
        chunks, finished = await output_of(alice, run_id)
        assert finished["status"] == "ok"
        assert "".join(str(c["data"]) for c in chunks) == "42\n"
        # The instructor may run a student's document too.
        await teacher.send({"type": "run.start", "language": "python", "doc": doc})
        run_id = (await teacher.expect("run.started"))["run_id"]
        chunks, _ = await output_of(teacher, run_id)
        assert "".join(str(c["data"]) for c in chunks) == "42\n"
    finally:
        for client in (teacher, alice, bob):
            await client.close()


async def test_a_pairs_file_runs_for_its_pair_only_and_ones_own_asks_no_groups(
    server: LiveServer, live_lesson: Lesson
) -> None:
    lesson = live_lesson
    async with httpx.AsyncClient(base_url=server.url) as http:
        room = (await new_room(http, lesson.teacher, lesson.classroom["id"], kind="pair"))["id"]
        response = await http.put(
            f"/api/rooms/{room}/pairs/red",
            json={"user_ids": [lesson.alice.id]},
            headers=lesson.teacher.headers,
        )
        assert response.status_code == 200, response.text
    for name, who in (
        ("pairs/red/main.py", lesson.alice),
        (f"students/{lesson.bob.id}/main.py", lesson.bob),
    ):
        await write_stored(
            server,
            room,
            name,
            token=who.token,
            watcher=lesson.teacher.token,
            update=text_update(f"print('{name}')", client_id=70),
        )
    sources = server.state.runs.sources
    asked: list[tuple[int, int]] = []
    pair_groups = sources.pair_groups

    async def counted(room_id: int, user_id: int) -> set[str]:
        asked.append((room_id, user_id))
        return await pair_groups(room_id, user_id)

    sources.pair_groups = counted  # type: ignore[method-assign]
    alice = await EventClient.open(server.ws_url, room, lesson.alice.token)
    bob = await EventClient.open(server.ws_url, room, lesson.bob.token)
    try:
        for client in (alice, bob):
            await client.expect("room.snapshot")
        await alice.send({"type": "run.start", "language": "python", "doc": "pairs/red/main.py"})
        run_id = (await alice.expect("run.started"))["run_id"]
        chunks, finished = await output_of(alice, run_id)
        assert "".join(str(c["data"]) for c in chunks) == "pairs/red/main.py\n", finished
        assert asked == [(room, lesson.alice.id)]

        # Bob is in no pair: the red pair's file is not his to run.
        await bob.send({"type": "run.start", "language": "python", "doc": "pairs/red/main.py"})
        assert (await bob.expect("error"))["code"] == "document_forbidden"
        assert asked[1:] == [(room, lesson.bob.id)]

        # His own file is his whatever his groups: the store is not asked for them.
        own = f"students/{lesson.bob.id}/main.py"
        await bob.send({"type": "run.start", "language": "python", "doc": own})
        run_id = (await bob.expect("run.started"))["run_id"]
        chunks, _ = await output_of(bob, run_id)
        assert "".join(str(c["data"]) for c in chunks) == f"{own}\n"
        assert len(asked) == 2
    finally:
        del sources.pair_groups
        for client in (alice, bob):
            await client.close()
