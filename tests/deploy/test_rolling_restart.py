"""A rolling restart behind the load balancer loses nothing.

Topology (real processes on loopback; the compose stack runs the same programs): nginx with
deploy/nginx/nginx.conf in front of two server processes, one sandbox worker, PostgreSQL and
a private Redis. 40 students type into their documents through nginx with the stock
y-websocket client, and four students run code through the events socket, while each server
process and then the worker get SIGTERM and are started again, one at a time.

Checked: every restarted process closed its sockets with 1012; every client was connected
and synced again within 5 s of the SIGTERM; after everyone stopped typing and both servers
were restarted once more, a fresh reader of every document sees exactly what its student
typed (nothing acknowledged was lost); every run of the room ended with a final status.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import Account, join_as
from tests.deploy.loopback import behind_nginx
from tests.node.harness import YjsHarness
from tests.server.processes import (
    PrivateRedis,
    ServerProcess,
    prepare_lesson,
    server_env,
    start_worker,
    stop_worker,
)
from tests.services import require
from tests.support.events import EventClient

pytestmark = [pytest.mark.deploy, pytest.mark.slow, pytest.mark.bwrap]
DATABASES = ("postgres",)
STUDENTS = 40
RUNNERS = 4
BACK_WITHIN = 5.0
FINAL = {"ok", "runtime_error", "timeout", "memory_limit", "output_limit", "compile_error",
         "cancelled", "internal_error"}  # fmt: skip
RUN = "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.4)\n"


@pytest.fixture
async def yjs() -> AsyncIterator[YjsHarness]:
    require("node")
    async with YjsHarness(timeout=60) as harness:
        yield harness


def progress(step: str) -> None:
    """A line per step, in the output pytest shows when the test fails."""
    print(f"{time.strftime('%H:%M:%S')} {step}", flush=True)


def text_of(i: int) -> str:
    return f"<{i}:" + "abcdefghij" * 8 + ">"


class Runner:
    """A student who runs code again and again through the load balancer, reconnecting
    whenever the socket closes; keeps the close codes and the ids of the runs it started."""

    def __init__(self, ws_url: str, room: int, student: Account) -> None:
        self.ws_url, self.room, self.student = ws_url, room, student
        self.started: list[str] = []
        self.finished: list[str] = []
        self.closes: list[int | None] = []

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                client = await EventClient.open(self.ws_url, self.room, self.student.token)
            except OSError:
                continue  # refused while the balancer had no process for it: try again
            try:
                await client.expect("room.snapshot")
                while not stop.is_set():
                    await client.send(
                        {"type": "run.start", "language": "python", "files": {"main.py": RUN}}
                    )
                    started = await client.expect("run.started", timeout=30)
                    self.started.append(started["run_id"])
                    await client.expect("run.finished", timeout=30, run_id=started["run_id"])
                    self.finished.append(started["run_id"])
            except ConnectionClosed as exc:
                self.closes.append(exc.rcvd.code if exc.rcvd else None)
            finally:
                with contextlib.suppress(Exception):
                    await client.close()


async def restart(
    server: ServerProcess, yjs: YjsHarness, names: list[str]
) -> tuple[ServerProcess, float, list[int]]:
    """SIGTERM ``server`` and start it again. Returns the new process, the seconds from the
    SIGTERM until the last client it closed was synced again (elsewhere), and the close codes
    those clients got."""
    before = [len((await yjs.call("info", client=n))["closes"]) for n in names]
    sigterm_ms = time.time() * 1000
    await server.stop()
    progress(f"port {server.port} stopped: " + " | ".join(server.log[-4:]))
    async with asyncio.timeout(30):
        replies = await asyncio.gather(
            *(yjs.call("wait_synced", client=n, closes=0, timeout_ms=10_000) for n in names)
        )
    progress("clients synced again")
    back, codes = 0.0, []
    for reply, seen in zip(replies, before, strict=True):
        for close in reply["closes"][seen:]:
            codes.append(close["code"])
            synced = min(t for t in reply["syncs"] if t >= close["at"])
            back = max(back, (synced - sigterm_ms) / 1000)
    again = ServerProcess(server.env, port=server.port)
    async with asyncio.timeout(60):
        await again.start()
    return again, back, codes


async def test_rolling_restart_loses_nothing(
    database_url: str, redis_server: PrivateRedis, yjs: YjsHarness, tmp_path: Path
) -> None:
    require("nginx")
    env = server_env(
        tmp_path, database_url, redis_url=redis_server.url, shutdown_grace_seconds="10",
        run_concurrency="4",
    )  # fmt: skip
    first, second, balancer = await behind_nginx(env, tmp_path / "nginx")
    worker = await start_worker(env)
    stop_runs = asyncio.Event()
    runners: list[Runner] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        lesson = await prepare_lesson(database_url, balancer.url)
        progress("stack up")
        room = lesson.room_id
        async with httpx.AsyncClient(base_url=balancer.url) as http:
            students = [
                await join_as(http, lesson.classroom["join_code"], f"Student {i}")
                for i in range(STUDENTS)
            ]
        names = [f"s{i}" for i in range(STUDENTS)]
        docs = [f"{room}/students/{s.id}/main.py" for s in students]
        url = f"{balancer.ws_url}/yjs"
        opened = await yjs.call(
            "open_many",
            clients=[
                {"client": n, "url": url, "doc": d, "token": s.token}
                for n, d, s in zip(names, docs, students, strict=True)
            ],
        )
        assert all(r["synced"] for r in opened["results"]), opened
        progress("40 clients synced")
        typing = [
            asyncio.create_task(yjs.call("type", client=n, text=text_of(i), every_ms=120))
            for i, n in enumerate(names)
        ]
        runners = [Runner(balancer.ws_url, room, s) for s in students[:RUNNERS]]
        tasks = [asyncio.create_task(r.run(stop_runs)) for r in runners]

        # One server process after the other, while everyone types and runs code.
        first, back_first, codes_first = await restart(first, yjs, names)
        progress("first restarted")
        second, back_second, codes_second = await restart(second, yjs, names)
        progress("second restarted")
        progress(f"clients back within {back_first:.2f} s and {back_second:.2f} s")
        assert back_first <= BACK_WITHIN and back_second <= BACK_WITHIN, (back_first, back_second)
        assert codes_first and codes_second  # each process had clients, and they left it
        assert set(codes_first) | set(codes_second) == {1012}
        # Then the worker: it finishes its runs, a new one takes the next.
        await stop_worker(worker)
        assert worker.returncode == 0
        worker = await start_worker(env)
        progress("worker restarted")

        await asyncio.wait_for(asyncio.gather(*typing), 120)
        progress("typing done")
        ran = sum(len(r.finished) for r in runners)
        progress(f"{ran} runs finished on the runners' sockets")
        stop_runs.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        progress("runners done")
        assert ran >= RUNNERS  # every runner got runs through
        assert any(code == 1012 for r in runners for code in r.closes)
        assert all(code == 1012 for r in runners for code in r.closes), [r.closes for r in runners]

        # Nothing acknowledged is lost: every client is synced, then both processes restart
        # (their memory is gone) and fresh readers load every document from the store.
        await asyncio.gather(*(yjs.call("wait_synced", client=n, closes=0) for n in names))
        for i, name in enumerate(names):
            assert (await yjs.call("text", client=name))["text"] == text_of(i)
        readers = [f"r{i}" for i in range(STUDENTS)]
        await check_readers(yjs, readers, url, docs, students, when="before")
        for name in names + readers:
            await yjs.call("destroy", client=name)
        first, _, _ = await restart(first, yjs, [])
        second, _, _ = await restart(second, yjs, [])
        await check_readers(yjs, readers, url, docs, students, when="after")

        # Every run of the room ended, and reported how.
        async with httpx.AsyncClient(base_url=balancer.url) as http:
            listed = await http.get(
                f"/api/rooms/{room}/runs?limit=200", headers=lesson.teacher.headers
            )
        assert listed.status_code == 200, listed.text
        runs = {r["id"]: r["status"] for r in listed.json()["runs"]}
        started = {run_id for r in runners for run_id in r.started}
        assert len(runs) < 200 and started <= set(runs)
        assert {run_id: s for run_id, s in runs.items() if s not in FINAL} == {}
    finally:
        stop_runs.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        progress("cleaning up")
        await stop_worker(worker)  # a worker that ignores SIGTERM fails the test with its log
        progress("worker stopped")
        await balancer.stop()
        await asyncio.gather(first.stop(), second.stop())
        progress("servers stopped")
        for name, server in (("first", first), ("second", second)):  # shown when it fails
            print(f"--- {name}", *server.log[-30:], sep="\n")


async def check_readers(
    yjs: YjsHarness, readers: list[str], url: str, docs: list[str], students: list[Account],
    *, when: str,
) -> None:  # fmt: skip
    opened = await yjs.call(
        "open_many",
        clients=[
            {"client": r, "url": url, "doc": d, "token": s.token}
            for r, d, s in zip(readers, docs, students, strict=True)
        ],
    )
    assert all(r["synced"] for r in opened["results"]), (when, opened)
    for i, reader in enumerate(readers):
        got = await yjs.call("wait_text", client=reader, equals=text_of(i), timeout_ms=10_000)
        assert got["text"] == text_of(i), when
