"""The /yjs endpoint with stock y-websocket clients (Node) against a real uvicorn server."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from server.documents.registry import DocumentRegistry
from tests.conftest import Lesson, LiveServer
from tests.node.harness import YjsHarness

DATABASES = ("sqlite",)
pytestmark = pytest.mark.node


def opener(server: LiveServer, lesson: Lesson):  # type: ignore[no-untyped-def]
    async def open_doc(yjs: YjsHarness, client: str, doc: str, token: str) -> dict[str, object]:
        return await yjs.call(
            "open",
            client=client,
            url=f"{server.ws_url}/yjs",
            doc=f"{lesson.room_id}/{doc}",
            token=token,
        )

    return open_doc


async def test_stock_clients_sync_and_see_each_others_awareness(
    server: LiveServer, live_lesson: Lesson, yjs: YjsHarness
) -> None:
    open_doc = opener(server, live_lesson)
    teacher = await open_doc(yjs, "teacher", "demo", live_lesson.teacher.token)
    alice = await open_doc(yjs, "alice", "demo", live_lesson.alice.token)
    assert teacher["synced"] and alice["synced"]

    await yjs.call("insert", client="teacher", text="print('hello')")
    assert (await yjs.call("wait_text", client="alice", equals="print('hello')"))["text"]

    await yjs.call("set_awareness", client="teacher", state={"user": {"name": "Ada"}})
    seen = await yjs.call("wait_awareness", client="alice", count=1)
    assert list(seen["states"].values()) == [{"user": {"name": "Ada"}}]

    # A late joiner gets the document and the present awareness states.
    bob = await open_doc(yjs, "bob", "demo", live_lesson.bob.token)
    assert bob["synced"]
    assert (await yjs.call("text", client="bob"))["text"] == "print('hello')"
    await yjs.call("wait_awareness", client="bob", count=1)


async def test_a_students_cursor_carries_their_own_name(
    server: LiveServer, live_lesson: Lesson, yjs: YjsHarness
) -> None:
    """Alice's client labels her cursor with her teacher's name; the teacher's editor, and a
    late joiner's, show hers (rooms/sync.py rule 11). Before, any label went through."""
    open_doc = opener(server, live_lesson)
    name = f"students/{live_lesson.alice.id}/main.py"
    assert (await open_doc(yjs, "alice", name, live_lesson.alice.token))["synced"]
    assert (await open_doc(yjs, "teacher", name, live_lesson.teacher.token))["synced"]
    lie = {"user": {"name": "Ada", "id": live_lesson.teacher.id, "color": "#30bced"}}
    await yjs.call("set_awareness", client="alice", state=lie)
    truth = {"user": {"name": "Alice", "id": live_lesson.alice.id, "color": "#30bced"}}
    seen = await yjs.call("wait_awareness", client="teacher", count=1)
    assert list(seen["states"].values()) == [truth]
    await yjs.call("set_awareness", client="teacher", state=None)  # a watcher
    assert (await open_doc(yjs, "late_tab", name, live_lesson.teacher.token))["synced"]
    seen = await yjs.call("wait_awareness", client="late_tab", count=1)
    assert list(seen["states"].values()) == [truth]


async def test_a_client_alone_in_a_document_hears_its_awareness_back(
    server: LiveServer, live_lesson: Lesson, yjs: YjsHarness
) -> None:
    """The stock provider closes a socket that heard nothing for 30 s ("not even your own
    awareness updates"); alone in a document it hears nothing else, so the server sends a
    client's accepted awareness back to it, as the y-websocket server does (rooms/sync.py
    rule 2). Without that, a student alone on their file reconnected every 33 s."""
    open_doc = opener(server, live_lesson)
    assert (
        await open_doc(
            yjs, "alice", f"students/{live_lesson.alice.id}/main.py", live_lesson.alice.token
        )
    )["synced"]
    before = await yjs.call("info", client="alice")
    await yjs.call("set_awareness", client="alice", state={"user": {"name": "Alice"}})
    # Counted, not timed: the provider's liveness clock has millisecond steps.
    await yjs.call("wait_received", client="alice", count=before["received"] + 1, timeout_ms=5000)
    assert (await yjs.call("info", client="alice"))["heard_at"] >= before["heard_at"]
    # Its own state came back at a clock it had: nothing echoed, no other state appeared.
    assert (await yjs.call("awareness", client="alice"))["states"] == {}
    info = await yjs.call("info", client="alice")
    assert info["connected"] and info["closes"] == []


async def test_a_watcher_alone_in_a_document_is_kept_from_reconnecting(
    server: LiveServer, live_lesson: Lesson, yjs: YjsHarness
) -> None:
    """A tab that publishes no presence (the teacher's grid of student files) hears nothing
    on a file whose student is away, and a stock provider reconnects after 30 s of silence;
    the server's keep-alive sweep sends it an empty awareness frame instead
    (server/documents/keepalive.py). The sweeps are run here rather than waited for."""
    open_doc = opener(server, live_lesson)
    name = f"students/{live_lesson.alice.id}/main.py"
    assert (await open_doc(yjs, "teacher", name, live_lesson.teacher.token))["synced"]
    await yjs.call("set_awareness", client="teacher", state=None)  # a watcher

    async def sweep() -> int:
        return server.state.keepalive.sweep()

    async def keepalive() -> None:
        """Sweep until one sends the socket a keep-alive: a sweep notes what was sent since
        the last one (its greeting, its removal echoed back); one that finds nothing new
        sends it."""
        while await server.on_server_loop(sweep()) != 1:
            pass

    await asyncio.wait_for(keepalive(), 10)
    received = (await yjs.call("info", client="teacher"))["received"]
    await asyncio.wait_for(keepalive(), 10)  # one more, sent after `received` was read
    await yjs.call("wait_received", client="teacher", count=received + 1, timeout_ms=5000)
    # The provider took it as a sign of life and nothing more.
    assert (await yjs.call("awareness", client="teacher"))["states"] == {}
    assert (await yjs.call("text", client="teacher"))["text"] == ""
    info = await yjs.call("info", client="teacher")
    assert info["connected"] and info["closes"] == []


async def test_a_vanished_client_is_removed_from_awareness_at_once(
    server: LiveServer, live_lesson: Lesson, yjs: YjsHarness
) -> None:
    open_doc = opener(server, live_lesson)
    await open_doc(yjs, "teacher", "demo", live_lesson.teacher.token)
    await open_doc(yjs, "alice", "demo", live_lesson.alice.token)
    await yjs.call("set_awareness", client="alice", state={"user": {"name": "Alice"}})
    await yjs.call("wait_awareness", client="teacher", count=1)
    await yjs.call("kill_socket", client="alice")
    # Far below the 30 s awareness timeout of the clients: the server removed it.
    gone = await yjs.call("wait_awareness", client="teacher", count=0, timeout_ms=5000)
    assert gone["states"] == {}


async def test_a_student_cannot_write_the_demo(
    server: LiveServer, live_lesson: Lesson, yjs: YjsHarness
) -> None:
    open_doc = opener(server, live_lesson)
    await open_doc(yjs, "teacher", "demo", live_lesson.teacher.token)
    await open_doc(yjs, "alice", "demo", live_lesson.alice.token)
    await yjs.call("insert", client="alice", text="HACKED")
    denied = await yjs.call("wait_denied", client="alice")
    assert denied["denied"][0]["kind"] == 0
    assert "read-only" in denied["denied"][0]["reason"]
    await yjs.call("insert", client="teacher", text="ok")
    await yjs.call("wait_text", client="alice", contains=["ok"])
    assert (await yjs.call("text", client="teacher"))["text"] == "ok"
    await yjs.call("insert", client="alice", text="again")
    await yjs.call("insert", client="teacher", text="!")
    await yjs.call("wait_text", client="alice", contains=["!"])
    info = await yjs.call("info", client="alice")
    assert len(info["denied"]) == 1, "one permission-denied frame per connection"
    assert (await yjs.call("text", client="teacher"))["text"] == "ok!"


async def test_students_files_are_private_and_staff_can_write_them(
    server: LiveServer, live_lesson: Lesson, yjs: YjsHarness
) -> None:
    open_doc = opener(server, live_lesson)
    own = f"students/{live_lesson.alice.id}/main.py"
    refused = await open_doc(yjs, "bob", own, live_lesson.bob.token)
    assert refused["synced"] is False
    assert refused["close"]["code"] == 1008
    assert "may not open" in refused["close"]["reason"]

    await open_doc(yjs, "alice", own, live_lesson.alice.token)
    await open_doc(yjs, "teacher", own, live_lesson.teacher.token)
    await yjs.call("insert", client="alice", text="x = 1\n")
    await yjs.call("wait_text", client="teacher", equals="x = 1\n")
    await yjs.call("insert", client="teacher", text="# good\n", index=0)
    await yjs.call("wait_text", client="alice", equals="# good\nx = 1\n")


@pytest.mark.parametrize(
    "case",
    [
        ("demo", None, "token"),
        ("demo", "forged", "not valid"),
        ("nonsense/x", "alice", "unknown document"),
        ("students/0/x.py", "alice", "positive integer"),
    ],
)
async def test_refusals_close_with_1008_and_a_reason(
    server: LiveServer,
    live_lesson: Lesson,
    yjs: YjsHarness,
    case: tuple[str, str | None, str],
) -> None:
    doc, token_of, reason = case
    token = {"alice": live_lesson.alice.token, "forged": "abc.def", None: ""}[token_of]
    result = await opener(server, live_lesson)(yjs, "c", doc, token)
    assert result["synced"] is False
    assert result["close"]["code"] == 1008
    assert reason in result["close"]["reason"]


async def test_unknown_room_is_refused(
    server: LiveServer, live_lesson: Lesson, yjs: YjsHarness
) -> None:
    result = await yjs.call(
        "open",
        client="c",
        url=f"{server.ws_url}/yjs",
        doc="999999/demo",
        token=live_lesson.teacher.token,
    )
    assert result["close"] == {"code": 1008, "reason": "room 999999 does not exist"}


async def test_twenty_clients_join_a_new_document_at_once_and_converge(
    server: LiveServer, live_lesson: Lesson, yjs: YjsHarness
) -> None:
    doc = f"{live_lesson.room_id}/students/{live_lesson.alice.id}/race.py"
    specs = [
        {
            "client": f"c{i}",
            "url": f"{server.ws_url}/yjs",
            "doc": doc,
            "token": live_lesson.teacher.token,
        }
        for i in range(20)
    ]
    opened = await yjs.call("open_many", clients=specs)
    assert all(r["synced"] for r in opened["results"])
    registry: DocumentRegistry = server.state.docs
    assert (
        registry.loaded().count((live_lesson.room_id, f"students/{live_lesson.alice.id}/race.py"))
        == 1
    )
    await asyncio.gather(*(yjs.call("insert", client=f"c{i}", text=f"<{i}>") for i in range(20)))
    markers = [f"<{i}>" for i in range(20)]
    texts = await asyncio.gather(
        *(yjs.call("wait_text", client=f"c{i}", contains=markers) for i in range(20))
    )
    assert len({t["text"] for t in texts}) == 1


async def test_concurrent_typing_converges(
    server: LiveServer, live_lesson: Lesson, yjs: YjsHarness
) -> None:
    open_doc = opener(server, live_lesson)
    names = ["t0", "t1", "t2", "t3", "t4"]
    for name in names:
        await open_doc(yjs, name, "demo", live_lesson.teacher.token)
    words = {name: f"[{name}:{'abcdefghij' * 3}]" for name in names}
    await asyncio.gather(
        *(yjs.call("type", client=name, text=words[name], every_ms=1) for name in names)
    )
    total = sum(len(w) for w in words.values())
    finals = [(await yjs.call("wait_text", client=name, length=total))["text"] for name in names]
    assert len(set(finals)) == 1
    assert sorted(finals[0]) == sorted("".join(words.values()))


async def test_idle_documents_unload_and_reload_from_the_store(
    server: LiveServer, live_lesson: Lesson, yjs: YjsHarness
) -> None:
    open_doc = opener(server, live_lesson)
    registry: DocumentRegistry = server.state.docs
    key = (live_lesson.room_id, "demo")
    unloaded = threading.Event()
    registry.on_unload(lambda k: unloaded.set() if k == key else None)

    await open_doc(yjs, "teacher", "demo", live_lesson.teacher.token)
    await yjs.call("insert", client="teacher", text="kept")
    await open_doc(yjs, "alice", "demo", live_lesson.alice.token)
    await yjs.call("wait_text", client="alice", equals="kept")
    await yjs.call("destroy", client="teacher")
    await yjs.call("destroy", client="alice")
    assert await asyncio.to_thread(unloaded.wait, 10), "not unloaded after the grace period"
    assert key not in registry.loaded()

    reopened = await open_doc(yjs, "bob", "demo", live_lesson.bob.token)
    assert reopened["synced"]
    assert (await yjs.call("text", client="bob"))["text"] == "kept"


async def test_metrics_count_sockets_documents_updates_and_fan_out(
    server: LiveServer, live_lesson: Lesson, yjs: YjsHarness
) -> None:
    open_doc = opener(server, live_lesson)
    await open_doc(yjs, "teacher", "demo", live_lesson.teacher.token)
    await open_doc(yjs, "alice", "demo", live_lesson.alice.token)
    for i in range(20):
        await yjs.call("insert", client="teacher", text=f"{i};")
    await yjs.call("wait_text", client="alice", contains=["19;"])
    async with httpx.AsyncClient(base_url=server.url) as http:
        text = (await http.get("/metrics")).text
    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith("classroom_doc")
    }
    assert values["classroom_doc_sockets"] == 2
    assert values["classroom_docs_loaded"] == 1
    assert values["classroom_doc_rooms_loaded"] == 1
    assert values["classroom_doc_updates_in_total"] >= 20
    assert values["classroom_doc_updates_out_total"] >= 20
    assert values["classroom_doc_bytes_in_total"] > 0
    assert values["classroom_doc_bytes_out_total"] > 0
    assert values["classroom_doc_fanout_seconds_count"] >= 1
    # Every stored update's wait for its commit (each insert of the teacher's is one or more).
    assert values["classroom_doc_commit_wait_seconds_count"] >= 20


async def test_a_replace_all_from_a_stock_client_reaches_everyone_in_pieces(
    server: LiveServer, live_lesson: Lesson, yjs: YjsHarness
) -> None:
    """rooms/pieces.py: an editor's "replace all" of a few hundred occurrences is one update
    that may split blocks at each of them, so the server applies it in pieces, each sent on:
    the teacher's stock client and a newcomer read exactly what Alice's editor holds."""
    open_doc = opener(server, live_lesson)
    own = f"students/{live_lesson.alice.id}/main.py"
    assert (await open_doc(yjs, "alice", own, live_lesson.alice.token))["synced"]
    assert (await open_doc(yjs, "teacher", own, live_lesson.teacher.token))["synced"]
    lines = "".join(f"x{i} = 1\n" for i in range(400))
    await yjs.call("insert", client="alice", text=lines)
    await yjs.call("wait_text", client="teacher", equals=lines)
    before = (await yjs.call("info", client="teacher"))["received"]

    replaced = await yjs.call("replace_all", client="alice", find="1", replace="one")
    expected = lines.replace("1", "one")
    assert replaced["count"] == lines.count("1") > 400
    await yjs.call("wait_text", client="teacher", equals=expected)
    assert (await yjs.call("text", client="alice"))["text"] == expected
    pieces = (await yjs.call("info", client="teacher"))["received"] - before
    assert pieces >= 4  # one message a piece

    assert (await open_doc(yjs, "newcomer", own, live_lesson.teacher.token))["synced"]
    assert (await yjs.call("text", client="newcomer"))["text"] == expected
