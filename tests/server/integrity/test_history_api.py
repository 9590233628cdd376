"""The history endpoint on a live server with stock y-websocket clients: a student types,
pastes a block, the teacher edits; the timeline has every update with its author, the
paste marked (the student's only), and replays to the document's text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.courses.importer import import_course
from server.store import Store
from tests.conftest import Lesson, LiveServer, make_lesson, make_settings, serve_in_thread
from tests.node.harness import YjsHarness

DATABASES = ("sqlite", "postgres")
pytestmark = pytest.mark.node


@pytest.fixture
def small_server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    # Compaction after 4 updates: the history crosses several compactions.
    settings = make_settings(
        tmp_path, database_url, compact_after_updates="4", paste_threshold_chars="100"
    )
    yield from serve_in_thread(settings)


STARTER = (
    "import sys\n\n\ndef main():\n    # read the numbers, one per line, and print their median\n"
    * 2
)

EXERCISE = f"""
id = "median"
title = "Median"
language = "python"

[starter]
"main.py" = {json.dumps(STARTER)}

[[tests]]
name = "one"
stdin = "1\\n"
expected = "1"
"""


def replayed(start: str, events: list[dict[str, object]]) -> str:
    text = start
    for event in events:
        at = 0
        for op in event["delta"]:  # type: ignore[attr-defined]
            if "retain" in op:
                at += op["retain"]
            elif "insert" in op:
                text = text[:at] + op["insert"] + text[at:]
                at += len(op["insert"])
            else:
                text = text[:at] + text[at + op["delete"] :]
    return text


async def test_timeline_with_authors_and_paste_marks(
    small_server: LiveServer, yjs: YjsHarness, tmp_path: Path
) -> None:
    lesson: Lesson = await make_lesson(small_server.url, small_server.settings, small_server.state)
    course = tmp_path / "course" / "exercises"
    course.mkdir(parents=True)
    (course / "median.toml").write_text(EXERCISE)
    store = Store(small_server.settings.database_url)
    try:
        await import_course(store, lesson.classroom["id"], course.parent)
    finally:
        await store.close()
    doc = f"students/{lesson.alice.id}/main.py"
    for client, account in (("alice", lesson.alice), ("teacher", lesson.teacher)):
        opened = await yjs.call(
            "open",
            client=client,
            url=f"{small_server.ws_url}/yjs",
            doc=f"{lesson.room_id}/{doc}",
            token=account.token,
        )
        assert opened["synced"]
    block = "def solve(values):\n    return sorted(values)[len(values) // 2]\n" * 3
    # The editor seeds the starter (one big insertion): not a paste.
    await yjs.call("insert", client="alice", text=STARTER)
    await yjs.call("type", client="alice", text="x = 1\n", every_ms=2)
    await yjs.call("insert", client="alice", text=block)
    await yjs.call("wait_text", client="teacher", equals=STARTER + "x = 1\n" + block)
    await yjs.call("insert", client="teacher", text="# " + "long comment " * 10 + "\n")
    final = (await yjs.call("wait_text", client="alice", contains=["long comment \n"]))["text"]
    # Stored before it is broadcast: Alice seeing the teacher's edit means it is stored.

    path = f"/api/rooms/{lesson.room_id}/docs/{doc}/history"
    async with httpx.AsyncClient(base_url=small_server.url) as http:
        response = await http.get(path, headers=lesson.teacher.headers)
        assert response.status_code == 200, response.text
        timeline = response.json()
        assert timeline["owner"] == lesson.alice.id and timeline["paste_threshold"] == 100
        events = timeline["events"]
        assert replayed(timeline["start"]["text"], events) == final
        by_alice = [e for e in events if e["user_id"] == lesson.alice.id]
        by_teacher = [e for e in events if e["user_id"] == lesson.teacher.id]
        assert sum(e["inserted"] for e in by_alice) == len(STARTER + "x = 1\n" + block)
        assert [e["inserted"] for e in by_alice if e["paste"]] == [len(block)]
        assert [e["inserted"] for e in by_alice if e["starter"]] == [len(STARTER)]
        assert by_teacher and not any(e["paste"] for e in by_teacher)  # staff: no signal
        assert by_alice[0]["name"] == "Alice" and by_alice[0]["at"]

        own = await http.get(path, headers=lesson.alice.headers)
        assert own.status_code == 403
        bad = await http.get(
            f"/api/rooms/{lesson.room_id}/docs/nowhere/x/history", headers=lesson.teacher.headers
        )
        assert bad.status_code == 400
        empty = await http.get(
            f"/api/rooms/{lesson.room_id}/docs/students/{lesson.bob.id}/main.py/history",
            headers=lesson.teacher.headers,
        )
        assert empty.status_code == 404
