"""``bench/docs_bench.py --probe``: the probe (bench/live_probe/sitecustomize.py) loaded by a
real ``python -m server``, timing the updates a real socket sends, and its report."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pycrdt
from websockets.asyncio.client import connect

from rooms.frames import MessageType, update_frame
from tests.server.processes import ServerProcess, prepare_lesson, server_env

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from docs_probe import probe_env, probe_report

DATABASES = ("sqlite",)


async def test_the_probe_times_each_update_of_a_real_server(
    tmp_path: Path, database_url: str
) -> None:
    rows_at = tmp_path / "probe.json"
    server = ServerProcess({**server_env(tmp_path, database_url), **probe_env(rows_at)})
    await server.start()
    try:
        lesson = await prepare_lesson(database_url, server.url)
        url = f"{server.ws_url}/yjs/{lesson.room_id}/demo?token={lesson.teacher.token}"
        async with connect(url) as writer, connect(url) as one, connect(url) as two:
            for ws in (writer, one, two):
                await asyncio.wait_for(ws.recv(), 10)  # the server's step1
            doc: pycrdt.Doc[object] = pycrdt.Doc()
            updates: list[bytes] = []
            doc.observe(lambda event: updates.append(event.update))
            text = doc.get("text", type=pycrdt.Text)
            for i in range(500):
                text.insert(i, "x")
            for update in updates:
                await writer.send(update_frame(update))
            seen = 0
            while seen < len(updates):  # the last reached the others: every row is written
                frame = await asyncio.wait_for(two.recv(), 10)
                assert isinstance(frame, bytes)
                seen += frame[:2] == bytes([MessageType.SYNC, 2])
    finally:
        await server.stop()

    rows = json.loads(rows_at.read_text())
    assert len(rows) == 500
    for whole, first, applied, committed, sends, count in rows:
        assert count == 2 and sends > 0  # one send to each other socket
        assert applied > 0 and committed > 0 and applied + committed < first <= whole
        assert sends < whole
    report = probe_report(rows_at, "ours/test")
    assert "500 updates from local sockets, 2 sends each" in report
    assert "committed (DocStore.append)" in report
