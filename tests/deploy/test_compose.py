"""The compose stack serves a lesson through its load balancer.

deploy/compose.yaml comes up under a project of its own (the images of
deploy/image/build-offline.sh, the load balancer and Prometheus on free loopback ports). An
instructor made with ``docker-compose exec … create-instructor`` signs in through nginx, opens
a classroom and a room and uploads examples/course; two students join. Alice types her answer
into her document with the stock y-websocket client, runs it (the worker runs it in a sandbox
container on the host's engine) and sees its output streamed back, submits it and gets a grade;
both students' events sockets reach one server process through nginx (a consistent hash of
the room's path; nginx names the process in ``X-Classroom-Upstream``, checked against the
containers' addresses). Bob also watches from the other process, connected to it directly, and
sees the leaderboard move there too, across Redis. Prometheus scrapes both servers and the
worker, with the alert rules loaded. The stack is taken down (volumes too) whatever happens;
on failure its logs go to the artifacts.
"""

from __future__ import annotations

import asyncio
import io
import os
import tarfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Account, join_as, new_classroom, new_room
from tests.deploy.compose import Stack
from tests.node.harness import YjsHarness
from tests.services import ROOT, require
from tests.support.docs import fetch_text
from tests.support.events import EventClient

pytestmark = [pytest.mark.deploy, pytest.mark.slow]
PASSWORD = "correct horse battery"
ANSWER = "name = input()\nprint(f\"Hello, {name or 'world'}!\")\n"
HEADER = "X-Classroom-Upstream"


def progress(step: str) -> None:
    """A line per step, in the output pytest shows when the test fails."""
    print(f"{time.strftime('%H:%M:%S')} {step}", flush=True)


@pytest.fixture
async def stack(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    require("compose")
    stack = Stack(tmp_path)
    failures = request.session.testsfailed
    started = time.monotonic()
    try:
        try:
            await stack.up()
            progress(f"stack {stack.project} up in {time.monotonic() - started:.0f} s")
            await stack.wait_ready()
        except BaseException:
            await keep_logs(stack)
            raise
        yield stack
        if request.session.testsfailed > failures:  # the test's report is in by now
            await keep_logs(stack)
    finally:
        await stack.down()
        progress(f"stack down ({time.monotonic() - started:.0f} s after the start)")


async def keep_logs(stack: Stack) -> None:
    """The stack's logs into CLASSROOM_TEST_ARTIFACTS (when set), for a failed run."""
    artifacts = os.environ.get("CLASSROOM_TEST_ARTIFACTS")
    if not artifacts:
        return
    path = Path(artifacts) / f"compose-{stack.project}.log"
    try:
        path.write_text(await stack.logs())
        progress(f"compose logs in {path}")
    except Exception as exc:  # the stack may not even have come up
        progress(f"no compose logs: {exc}")


@pytest.fixture
async def yjs() -> AsyncIterator[YjsHarness]:
    require("node")
    async with YjsHarness(timeout=60) as harness:
        yield harness


def course_archive() -> bytes:
    """examples/course as a tar.gz, what an instructor uploads."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(ROOT / "examples" / "course", arcname=".")
    return buffer.getvalue()


async def run_output(client: EventClient, run_id: str) -> tuple[str, dict[str, Any]]:
    """The run's standard output as streamed (its chunks in order), and its run.finished."""
    chunks: list[str] = []
    async with asyncio.timeout(60):
        while True:
            event = await client.next(timeout=60)
            if event.get("run_id") != run_id:
                continue
            if event["type"] == "run.output" and event["stream"] == "stdout":
                chunks.append(event["data"])
            elif event["type"] == "run.finished":
                return "".join(chunks), event


async def test_a_lesson_through_the_load_balancer(stack: Stack, yjs: YjsHarness) -> None:
    servers = {name: await stack.address_of(name) for name in ("server-1", "server-2")}
    assert len(set(servers.values())) == 2, servers
    progress(f"servers at {servers}")
    reply = await stack.compose(
        "exec", "-T", "server-1", "python", "-m", "server", "create-instructor",
        "teacher@example.org", "--name", "Ada", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert "instructor teacher@example.org" in reply, reply

    async with httpx.AsyncClient(base_url=stack.url, timeout=60) as http:
        login = await http.post(
            "/api/auth/login", json={"email": "teacher@example.org", "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        assert login.headers[HEADER] in {f"{ip}:8000" for ip in servers.values()}
        teacher = Account(login.json()["user"]["id"], "Ada", login.json()["token"])
        classroom = await new_classroom(http, teacher)
        room = (await new_room(http, teacher, classroom["id"]))["id"]
        upload = await http.post(
            f"/api/classrooms/{classroom['id']}/course",
            content=course_archive(),
            headers={**teacher.headers, "Content-Type": "application/gzip"},
        )
        assert upload.status_code == 200, upload.text
        alice = await join_as(http, classroom["join_code"], "Alice")
        bob = await join_as(http, classroom["join_code"], "Bob")
    progress("instructor, classroom, room, course and students ready")

    # Both students' events sockets reach the room's process: nginx hashes the path.
    alice_events = await EventClient.open(stack.ws_url, room, alice.token)
    bob_events = await EventClient.open(stack.ws_url, room, bob.token)
    reached = set()
    for client in (alice_events, bob_events):
        assert client.ws.response is not None
        reached.add(client.ws.response.headers[HEADER])
    assert len(reached) == 1, f"one room's events sockets reached {reached}"
    (alice_server,) = [n for n, ip in servers.items() if reached == {f"{ip}:8000"}]
    (other_server,) = [n for n in servers if n != alice_server]
    # Bob also watches from the other process, as a client that reached it while the room's
    # process restarted would: what happens in the room crosses Redis to him there.
    bob_elsewhere = await EventClient.open(f"ws://{servers[other_server]}:8000", room, bob.token)
    progress(f"the room's events on {alice_server}; Bob also on {other_server}")
    try:
        for client in (alice_events, bob_events, bob_elsewhere):
            await client.expect("room.snapshot")

        # Alice types her answer with the stock Yjs client, through nginx.
        doc = f"students/{alice.id}/main.py"
        opened = await yjs.call(
            "open", client="alice", url=f"{stack.ws_url}/yjs", doc=f"{room}/{doc}",
            token=alice.token,
        )  # fmt: skip
        assert opened["synced"], opened
        await yjs.call("type", client="alice", text=ANSWER, every_ms=5)
        # What she typed reached the process her events socket is on (its own address).
        direct = f"ws://{servers[alice_server]}:8000"
        async with asyncio.timeout(30):
            while True:
                if await fetch_text(direct, room, doc, alice.token) == ANSWER:
                    break
                await asyncio.sleep(0.1)
        progress("typed")

        # She runs it: the worker runs it in a sandbox container, the output streams back.
        await alice_events.send(
            {"type": "run.start", "doc": doc, "language": "python", "stdin": "Ada\n"}
        )
        started = await alice_events.expect("run.started", timeout=30)
        output, finished = await run_output(alice_events, started["run_id"])
        assert output == "Hello, Ada!\n" and finished["status"] == "ok", (output, finished)
        progress("ran")

        # She submits it and gets a grade; Bob sees the board move, on both processes.
        await alice_events.send({"type": "submit", "exercise_id": "greet", "doc": doc})
        await alice_events.expect("submission.accepted", timeout=30)
        graded = await alice_events.expect("grade.result", timeout=120)
        progress(f"graded: {graded['submission']['results'].get('score')}")
        assert graded["submission"]["results"]["score"] > 0, graded
        for client in (bob_events, bob_elsewhere):
            update = await client.expect("leaderboard.update", timeout=30, board="room")
            assert [e["name"] for e in update["entries"]] == ["Alice"], update
        progress("Bob saw the leaderboard on both processes")
    finally:
        await alice_events.close()
        await bob_events.close()
        await bob_elsewhere.close()

    # Prometheus scrapes both servers and the worker, with the alert rules loaded.
    async with httpx.AsyncClient(base_url=stack.prometheus_url, timeout=10) as prometheus:
        wanted = {"server-1:8000", "server-2:8000", "worker:9101"}
        async with asyncio.timeout(60):
            while True:
                targets = (await prometheus.get("/api/v1/targets")).json()["data"]
                up = {t["labels"]["instance"] for t in targets["activeTargets"]
                      if t["health"] == "up"}  # fmt: skip
                if up == wanted:
                    break
                await asyncio.sleep(0.5)
        rules = (await prometheus.get("/api/v1/rules")).json()["data"]["groups"]
        assert sum(len(g["rules"]) for g in rules) >= 10, rules
    progress("Prometheus scrapes every process")
