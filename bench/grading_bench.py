"""Grading under a class-sized burst: N students submit at the same moment.

Starts ``python -m server`` on a free port with a fresh data directory (SQLite, in-process
bus, the sandbox it selects: Docker when the images are there, else local), imports one
Python exercise with three I/O tests (or three value tests: ``--tests value``), joins N
students, opens N room sockets plus one
watcher, then every student submits at once. Prints submit→grade.result latency (p50, p99,
max), the time from the last submission sent to the last ``leaderboard.update`` the watcher
receives, and the server's peak RSS.

    .venv/bin/python bench/grading_bench.py [--students 30] [--sandbox auto|docker|local]
        [--concurrency N] [--pool-size N] [--tests io|value]

All tests of one submission are one run (one container), each test its own process in it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
EXERCISE = """
id = "double"
title = "Double it"
language = "python"
prompt = "Read an integer, print twice its value."
rate_limit = { count = 100, window = 60 }
[[tests]]
name = "two"
stdin = "2\\n"
expected = "4"
[[tests]]
name = "ten"
stdin = "10\\n"
expected = "20"
[[tests]]
name = "zero"
stdin = "0\\n"
expected = "0"
"""
SOLUTION = "print(2 * int(input()))\n"
VALUE_EXERCISE = """
id = "double"
title = "Double it"
language = "python"
prompt = "Write double(n): twice n."
rate_limit = { count = 100, window = 60 }
starter = { "double.py" = "" }
[[tests]]
kind = "value"
name = "two"
function = "double"
args = [2]
expected = 4
[[tests]]
kind = "value"
name = "ten"
function = "double"
args = [10]
expected = 20
[[tests]]
kind = "value"
name = "zero"
function = "double"
args = [0]
expected = 0
"""
VALUE_SOLUTION = "def double(n):\n    return 2 * n\n"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> tuple[int, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(
    students: int, sandbox: str, concurrency: int | None, pool: int | None, kind: str
) -> None:
    exercise, files = (EXERCISE, {"main.py": SOLUTION})
    if kind == "value":
        exercise, files = (VALUE_EXERCISE, {"double.py": VALUE_SOLUTION})
    data = Path(tempfile.mkdtemp(prefix="grading-bench-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
    env.update(
        CLASSROOM_DATA_DIR=str(data),
        CLASSROOM_SANDBOX=sandbox,
        CLASSROOM_LOG_LEVEL="warning",
        CLASSROOM_RUN_QUEUE_SIZE="1000",
    )
    if concurrency is not None:
        env["CLASSROOM_RUN_CONCURRENCY"] = str(concurrency)
    if pool is not None:
        env["CLASSROOM_POOL_SIZE"] = str(pool)
    created = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server",
        "create-instructor",
        "bench@example.org",
        "--name",
        "Bench",
        "--password-stdin",
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    await created.communicate(b"bench password\n")
    course = data / "course" / "exercises"
    course.mkdir(parents=True)
    (course / "double.toml").write_text(exercise)
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server",
        "--port",
        str(port),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            for _ in range(300):
                try:
                    if (await http.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            login = (
                await http.post(
                    "/api/auth/login",
                    json={"email": "bench@example.org", "password": "bench password"},
                )
            ).json()
            teacher = {"Authorization": f"Bearer {login['token']}"}
            classroom = (
                await http.post("/api/classrooms", json={"title": "Bench"}, headers=teacher)
            ).json()
            room = (
                await http.post(
                    f"/api/classrooms/{classroom['id']}/rooms",
                    json={"title": "Burst", "kind": "lesson"},
                    headers=teacher,
                )
            ).json()
            import io
            import zipfile

            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.write(course / "double.toml", "exercises/double.toml")
            imported = await http.post(
                f"/api/classrooms/{classroom['id']}/course",
                content=buffer.getvalue(),
                headers=teacher,
            )
            assert imported.status_code == 200, imported.text
            tokens = []
            for i in range(students):
                joined = (
                    await http.post(
                        "/api/join",
                        json={"join_code": classroom["join_code"], "name": f"Student {i:02d}"},
                    )
                ).json()
                tokens.append(joined["token"])
        ws_base = f"ws://127.0.0.1:{port}/ws/rooms/{room['id']}?token="
        watcher = await connect(ws_base + login["token"], max_size=8 << 20)
        sockets = [await connect(ws_base + t, max_size=8 << 20) for t in tokens]
        for ws in [watcher, *sockets]:
            while json.loads(await ws.recv())["type"] != "room.snapshot":
                pass
        sent: list[float] = []
        graded: list[float] = []
        last_update = 0.0
        updates = 0

        async def submit_and_wait(ws: object) -> None:
            sent.append(time.perf_counter())
            start = sent[-1]
            await ws.send(json.dumps({"type": "submit", "exercise_id": "double", "files": files}))  # type: ignore[attr-defined]
            while True:
                event = json.loads(await ws.recv())  # type: ignore[attr-defined]
                if event["type"] == "grade.result":
                    assert event["submission"]["results"]["score"] == 3, event
                    graded.append(time.perf_counter() - start)
                    return
                if event["type"] == "error":
                    raise RuntimeError(event)

        async def watch() -> None:
            nonlocal last_update, updates
            while updates < students:
                event = json.loads(await watcher.recv())
                if event["type"] == "leaderboard.update" and event.get("board") == "room":
                    updates += 1
                    last_update = time.perf_counter()

        watching = asyncio.create_task(watch())
        started = time.perf_counter()
        await asyncio.gather(*(submit_and_wait(ws) for ws in sockets))
        await asyncio.wait_for(watching, 120)
        total = time.perf_counter() - started
        rss, peak = rss_kib(server.pid)
        print(
            f"grading burst: {students} students submit at once ({sandbox} sandbox, 3 {kind}"
            f" tests each, run concurrency {concurrency or 'default'},"
            f" pool {pool if pool is not None else 'default'})"
        )
        print(f"{'submit→grade.result p50':34} {statistics.median(graded) * 1000:9.0f} ms")
        print(f"{'submit→grade.result p99':34} {pct(graded, 0.99) * 1000:9.0f} ms")
        print(f"{'submit→grade.result max':34} {max(graded) * 1000:9.0f} ms")
        print(
            f"{'last submit→last leaderboard.update':34} {(last_update - max(sent)) * 1000:9.0f} ms"
        )
        print(f"{'whole burst':34} {total * 1000:9.0f} ms ({students * 3 / total:.1f} tests/s)")
        print(f"{'server RSS now / peak':34} {rss / 1024:6.0f} / {peak / 1024:.0f} MiB")
        for ws in [watcher, *sockets]:
            await ws.close()
    except BaseException:
        print(f"the server's data is kept in {data}", file=sys.stderr)
        raise
    finally:
        server.terminate()
        await server.wait()
    shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--sandbox", default="auto", choices=["auto", "docker", "local"])
    parser.add_argument("--concurrency", type=int, help="CLASSROOM_RUN_CONCURRENCY")
    parser.add_argument("--pool-size", type=int, help="CLASSROOM_POOL_SIZE (warm containers)")
    parser.add_argument("--tests", default="io", choices=["io", "value"])
    options = parser.parse_args()
    asyncio.run(
        main(
            options.students,
            options.sandbox,
            options.concurrency,
            options.pool_size,
            options.tests,
        )
    )
