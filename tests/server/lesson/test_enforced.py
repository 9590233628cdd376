"""Lesson controls enforced by the server, with real sockets: a frozen editor's updates are
dropped, a navigator cannot write, a student cannot spotlight, push, freeze or pair, and a
push never overwrites typed text when only_empty."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Lesson, LiveServer
from tests.node.harness import YjsHarness
from tests.support.events import EventClient

DATABASES = ("sqlite",)
pytestmark = pytest.mark.node


async def _open(
    yjs: YjsHarness, server: LiveServer, lesson: Lesson, client: str, doc: str, *, token: str
) -> dict[str, object]:
    return await yjs.call(
        "open",
        client=client,
        url=f"{server.ws_url}/yjs",
        doc=f"{lesson.room_id}/{doc}",
        token=token,
    )


async def test_a_frozen_editor_is_dropped_and_unfreezing_lets_it_write_again(
    server: LiveServer, live_lesson: Lesson, yjs: YjsHarness
) -> None:
    doc = f"students/{live_lesson.alice.id}/main.py"
    await _open(yjs, server, live_lesson, "alice", doc, token=live_lesson.alice.token)
    await _open(yjs, server, live_lesson, "teacher", doc, token=live_lesson.teacher.token)
    await yjs.call("insert", client="alice", text="a = 1\n")
    await yjs.call("wait_text", client="teacher", equals="a = 1\n")

    async with (
        await EventClient.open(
            server.ws_url, live_lesson.room_id, live_lesson.teacher.token
        ) as teacher,
        await EventClient.open(
            server.ws_url, live_lesson.room_id, live_lesson.alice.token
        ) as alice_events,
    ):
        snap = await alice_events.expect("room.snapshot")
        assert snap["lesson"]["freeze"] is None
        await teacher.expect("room.snapshot")
        await teacher.send({"type": "lesson.freeze", "reason": "quiz", "ref": 1})
        done = await teacher.expect("lesson.done", ref=1)
        assert done["lesson"]["freeze"]["reason"] == "quiz"
        frozen = await alice_events.expect("lesson.frozen")
        assert frozen["reason"] == "quiz"

        # The already-open socket is now read-only: the update is dropped and denied.
        await yjs.call("insert", client="alice", text="HACK\n")
        denied = await yjs.call("wait_denied", client="alice")
        assert "read-only" in denied["denied"][0]["reason"]
        # Staff still write; the teacher's edit arrives, alice's never did.
        await yjs.call("insert", client="teacher", text="# staff\n", index=0)
        await yjs.call("wait_text", client="alice", contains=["# staff"])
        assert (await yjs.call("text", client="teacher"))["text"] == "# staff\na = 1\n"

        # A socket opened while frozen is read-only too.
        await yjs.call("destroy", client="alice")
        await _open(yjs, server, live_lesson, "alice2", doc, token=live_lesson.alice.token)
        await yjs.call("insert", client="alice2", text="again\n")
        await yjs.call("wait_denied", client="alice2")

        await teacher.send({"type": "lesson.unfreeze", "ref": 2})
        await teacher.expect("lesson.done", ref=2)
        await alice_events.expect("lesson.unfrozen")
        await yjs.call("destroy", client="alice2")
        await _open(yjs, server, live_lesson, "alice3", doc, token=live_lesson.alice.token)
        await yjs.call("insert", client="alice3", text="b = 2\n")
        await yjs.call("wait_text", client="teacher", contains=["b = 2"])
        assert "HACK" not in (await yjs.call("text", client="teacher"))["text"]


async def test_a_navigator_cannot_write_and_rotation_hands_over_the_keyboard(
    server: LiveServer, live_lesson: Lesson, yjs: YjsHarness
) -> None:
    async with (
        await EventClient.open(
            server.ws_url, live_lesson.room_id, live_lesson.teacher.token
        ) as teacher,
        await EventClient.open(
            server.ws_url, live_lesson.room_id, live_lesson.alice.token
        ) as alice,
        await EventClient.open(server.ws_url, live_lesson.room_id, live_lesson.bob.token) as bob,
    ):
        for client in (teacher, alice, bob):
            await client.expect("room.snapshot")
        await teacher.send({"type": "pairs.make", "strategy": "random", "ref": "p"})
        done = await teacher.expect("lesson.done", ref="p")
        (group,) = done["lesson"]["pairs"]["groups"]
        assert sorted(group["members"]) == sorted([live_lesson.alice.id, live_lesson.bob.id])
        mine = await alice.expect("pairs.yours")
        assert mine["group"] == group["group"]
        driver_id = group["driver"]
        accounts = {live_lesson.alice.id: live_lesson.alice, live_lesson.bob.id: live_lesson.bob}
        navigator_id = next(uid for uid in accounts if uid != driver_id)
        doc = f"pairs/{group['group']}/main.py"
        await _open(yjs, server, live_lesson, "driver", doc, token=accounts[driver_id].token)
        await _open(yjs, server, live_lesson, "navigator", doc, token=accounts[navigator_id].token)

        await yjs.call("insert", client="navigator", text="NAV\n")
        await yjs.call("wait_denied", client="navigator")
        await yjs.call("insert", client="driver", text="drive = 1\n")
        await yjs.call("wait_text", client="navigator", contains=["drive = 1"])
        # (The refused text stays only in the navigator's own copy; the page never lets a
        # navigator type, and a fresh copy shows what the server holds.)
        await yjs.call("destroy", client="navigator")
        await _open(yjs, server, live_lesson, "navigator", doc, token=accounts[navigator_id].token)
        assert (await yjs.call("text", client="navigator"))["text"] == "drive = 1\n"

        await teacher.send({"type": "pairs.rotate", "ref": "r"})
        rotated = await teacher.expect("lesson.done", ref="r")
        assert rotated["lesson"]["pairs"]["groups"][0]["driver"] == navigator_id
        await yjs.call("insert", client="navigator", text="now me\n", index=0)
        await yjs.call("wait_text", client="driver", contains=["now me"])
        await yjs.call("insert", client="driver", text="OLD DRIVER\n")
        await yjs.call("wait_denied", client="driver")
        await yjs.call("insert", client="navigator", text="end\n")
        await yjs.call("wait_text", client="driver", contains=["end"])
        text = (await yjs.call("text", client="navigator"))["text"]
        assert text == "now me\ndrive = 1\nend\n"


@pytest.mark.parametrize(
    "command",
    [
        {"type": "lesson.spotlight", "user_id": 1, "doc": "students/1/main.py"},
        {"type": "lesson.push", "files": {"main.py": "x"}},
        {"type": "lesson.freeze"},
        {"type": "lesson.unfreeze"},
        {"type": "lesson.announce", "text": "hi"},
        {"type": "lesson.countdown", "seconds": 5},
        {"type": "pairs.make", "strategy": "random"},
        {"type": "pairs.rotate"},
    ],
)
async def test_a_student_is_refused_every_lesson_control(
    server: LiveServer, live_lesson: Lesson, command: dict[str, object]
) -> None:
    async with await EventClient.open(
        server.ws_url, live_lesson.room_id, live_lesson.alice.token
    ) as alice:
        await alice.expect("room.snapshot")
        await alice.send({**command, "ref": 9})
        error = await alice.expect("error")
        assert error["code"] == "forbidden"
        assert error["message"] == f"a student may not send {command['type']}"
    kind = str(command["type"])
    action = kind.split(".", 1)[1]
    prefix = "lesson" if kind.startswith("lesson.") else "pairs"
    body = {k: v for k, v in command.items() if k != "type"}
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(
            f"/api/rooms/{live_lesson.room_id}/{prefix}/{action}",
            json=body,
            headers=live_lesson.alice.headers,
        )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


async def test_push_fills_empty_files_and_keeps_typed_text(
    server: LiveServer, live_lesson: Lesson, yjs: YjsHarness
) -> None:
    alice_doc = f"students/{live_lesson.alice.id}/main.py"
    bob_doc = f"students/{live_lesson.bob.id}/main.py"
    await _open(yjs, server, live_lesson, "alice", alice_doc, token=live_lesson.alice.token)
    await _open(yjs, server, live_lesson, "bob", bob_doc, token=live_lesson.bob.token)
    await yjs.call("insert", client="alice", text="mine = True\n")
    async with httpx.AsyncClient(base_url=server.url) as http:
        # Over HTTP, the same command as on the socket.
        pushed = await http.post(
            f"/api/rooms/{live_lesson.room_id}/lesson/push",
            json={"files": {"main.py": "def solve():\n    pass\n"}, "only_empty": True},
            headers=live_lesson.teacher.headers,
        )
        assert pushed.status_code == 200, pushed.text
        assert pushed.json() | {"files": None} == {
            "type": "lesson.pushed",
            "files": None,
            "students": 2,
            "written": 1,
            "skipped": 1,
        }
        await yjs.call("wait_text", client="bob", equals="def solve():\n    pass\n")
        assert (await yjs.call("text", client="alice"))["text"] == "mine = True\n"

        # Without only_empty the template replaces the text in one edit; the earlier text is
        # kept in the document's "replaced" array.
        again = await http.post(
            f"/api/rooms/{live_lesson.room_id}/lesson/push",
            json={"files": {"main.py": "v2\n"}},
            headers=live_lesson.teacher.headers,
        )
        assert again.json()["written"] == 2
        await yjs.call("wait_text", client="alice", equals="v2\n")
        loaded = await server.state.docs.acquire(live_lesson.room_id, alice_doc)
        try:
            kept = loaded.sync.doc.get("replaced", type=__import__("pycrdt").Array).to_py()
        finally:
            server.state.docs.release(loaded)
        assert [entry["text"] for entry in kept] == ["mine = True\n"]

        bad = await http.post(
            f"/api/rooms/{live_lesson.room_id}/lesson/push",
            json={"files": {"../x": "x"}},
            headers=live_lesson.teacher.headers,
        )
        assert bad.status_code == 400 and "not a valid name" in bad.json()["error"]["message"]
