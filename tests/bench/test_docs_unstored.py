"""``bench/docs_bench.py --server ours-unstored``: a real ``python -m server`` with
bench/unstored/sitecustomize.py loaded sends every update on and stores none of them."""

from __future__ import annotations

import asyncio
import importlib.util
import sqlite3
import sys
from pathlib import Path

import pycrdt
import pytest
from websockets.asyncio.client import ClientConnection, connect

from rooms.frames import MessageType, update_frame
from server.documents.store import DocStore
from server.store import Store
from tests.server.processes import ServerProcess, prepare_lesson, server_env

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from docs_bench import parse_args
from docs_servers import unstored_env

DATABASES = ("sqlite",)
UPDATES = 30


def _typed() -> list[bytes]:
    doc: pycrdt.Doc[object] = pycrdt.Doc()
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    text = doc.get("text", type=pycrdt.Text)
    for i in range(UPDATES):
        text.insert(i, "x")
    return updates


async def _updates_seen(ws: ClientConnection, count: int) -> None:
    seen = 0
    while seen < count:
        frame = await asyncio.wait_for(ws.recv(), 10)
        assert isinstance(frame, bytes)
        seen += frame[:2] == bytes([MessageType.SYNC, 2])


async def _serve_and_type(env: dict[str, str], database_url: str) -> None:
    server = ServerProcess(env)
    await server.start()
    try:
        lesson = await prepare_lesson(database_url, server.url)
        url = f"{server.ws_url}/yjs/{lesson.room_id}/demo?token={lesson.teacher.token}"
        async with connect(url) as writer, connect(url) as other:
            for ws in (writer, other):
                await asyncio.wait_for(ws.recv(), 10)  # the server's step1
            for update in _typed():
                await writer.send(update_frame(update))
            await _updates_seen(other, UPDATES)  # every update reached the other socket
    finally:
        await server.stop()


def _stored(database_url: str) -> int:
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
        (count,) = conn.execute("SELECT count(*) FROM doc_updates").fetchone()
    return int(count)


async def test_an_unstored_server_sends_every_update_and_stores_none(
    tmp_path: Path, database_url: str
) -> None:
    await _serve_and_type({**server_env(tmp_path, database_url), **unstored_env()}, database_url)
    assert _stored(database_url) == 0


async def test_the_same_server_without_it_stores_every_update(
    tmp_path: Path, database_url: str
) -> None:
    # The control: what the variant takes out is there without it.
    await _serve_and_type(server_env(tmp_path, database_url), database_url)
    assert _stored(database_url) == UPDATES


def test_the_probe_and_the_unstored_server_are_refused_together() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--server", "ours-unstored", "--probe"])
    assert parse_args(["--server", "ours-unstored"]).server == ["ours-unstored"]


def _variant_module() -> object:
    """bench/unstored/sitecustomize.py loaded by its path (this interpreter has a
    ``sitecustomize`` of its own, if any), its variable unset: nothing is replaced."""
    path = Path(__file__).resolve().parents[2] / "bench" / "unstored" / "sitecustomize.py"
    spec = importlib.util.spec_from_file_location("unstored_variant", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_a_store_not_started_is_answered_with_a_resolved_future_of_its_own(
    tmp_path: Path,
) -> None:
    unstored_append = _variant_module().unstored_append  # type: ignore[attr-defined]
    database = Store(f"sqlite:///{tmp_path / 'unused.db'}")
    store = DocStore(database)  # not started: no shared future
    try:
        first = unstored_append(store, 1, "demo", [b"\x00"])
        second = unstored_append(store, 1, "demo", [b"\x00"])
    finally:
        await database.close()
    assert first.done() and first.result() is None
    assert first is not second  # made for each call, none shared
    assert DocStore.append is not unstored_append  # loaded without its variable: installs nothing
