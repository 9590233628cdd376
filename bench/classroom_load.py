"""One load generator process of the classroom simulation (``bench/classroom.py`` starts them).

    classroom_load.py PLAN.json --part I --parts N --out RESULT.json

It takes the rooms ``I, I + N, …`` of the plan, opens their sockets (per room: the
instructor's events socket and one live-view socket per student file; per student: an events
socket and their file; with several servers, each socket on the server the plan's
``placement`` gives, :func:`server_for`), starts the room's demo, prints ``ready`` and waits
for ``go T0`` on stdin (T0 on the machine's monotonic clock, the same for every generator).
Then, until
T0 + warmup + duration, on schedules whose phases come from a seeded random:

* each student types ``type_hz`` characters a second into their file (one Yjs update each);
* the instructor moves each room's demo every ``demo_every`` seconds (``demo.goto``);
* each student runs their file every ``run_every`` seconds (``run.start``) and submits it
  every ``submit_every`` seconds (``POST …/submissions`` with ``doc``).

Actions sent in the window [T0 + warmup, end) are measured; after the end it waits up to
``drain`` seconds for their deliveries, then writes the recorder's JSON and prints ``done``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import string
import sys
import time
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from classroom_clients import DocWatcher, DocWriter, EventsSocket, open_socket
from classroom_metrics import Pending, Recorder, Window

LETTERS = string.ascii_lowercase + "    "


def server_for(plan: dict[str, Any], path: str, default: dict[str, Any]) -> dict[str, Any]:
    """The server a socket on ``path`` is opened on. ``hashed``: as the load balancer of
    ``deploy/`` places it, by a hash of the path, so one document's sockets (and one room's
    events sockets) meet on one server. ``spread``: the instructor's sockets on the first
    server, each student's on the server they joined on (a room's students alternate), so a
    document's writer and its live view are on different servers for half the students."""
    if plan.get("placement", "spread") != "hashed":
        return default
    servers: list[dict[str, Any]] = plan["servers"]
    return servers[zlib.crc32(path.encode()) % len(servers)]


class Room:
    """One room: its instructor's sockets, its demo and its students."""

    def __init__(self, plan: dict[str, Any], room: dict[str, Any], rec: Recorder) -> None:
        self.plan = plan
        self.id: int = room["id"]
        self.rec = rec
        self.teacher = EventsSocket(rec, self._teacher_event)
        self.watchers = [DocWatcher(rec) for _ in room["students"]]
        self.students = [Student(self, s, rec) for s in room["students"]]
        # demo moves by step index: a late demo.step still finds its command until the demo
        # comes back to that step (steps x demo_every seconds later)
        self.commands: dict[int, tuple[Pending, set[int]]] = {}
        self.started = asyncio.Event()
        self.moves = 0

    def _teacher_event(self, event: dict[str, Any], at: float) -> None:
        if event.get("type") == "demo.step":
            self.started.set()

    async def open(self, http: httpx.AsyncClient, gate: asyncio.Semaphore) -> None:
        """Open every socket of the room, at most ``gate`` at a time; start the demo."""
        first = self.plan["servers"][0]
        token = self.plan["teacher"]
        async with gate:
            path = f"/ws/rooms/{self.id}"
            server = server_for(self.plan, path, first)
            await self.teacher.open(await open_socket(http, server, token, path))

        async def watch(watcher: DocWatcher, student: Student) -> None:
            async with gate:
                path = f"/yjs/{self.id}/{student.doc}"
                server = server_for(self.plan, path, first)
                await watcher.open(await open_socket(http, server, token, path))

        async def join(student: Student) -> None:
            async with gate:
                await student.open(http)

        await asyncio.gather(
            *(watch(w, s) for w, s in zip(self.watchers, self.students, strict=True)),
            *(join(s) for s in self.students),
        )
        await self.teacher.command({"type": "demo.start", "demo_id": self.plan["demo"]})
        await asyncio.wait_for(self.started.wait(), 60)

    async def move_demo(self) -> None:
        self.moves += 1
        index = self.moves % self.plan["steps"]
        self.settle(index)
        now = time.monotonic()
        self.commands[index] = (Pending(now, now in self.rec.window), set())
        await self.teacher.command({"type": "demo.goto", "step": index})

    def demo_step(self, student: int, index: int, at: float) -> None:
        command = self.commands.get(index)
        if command is None:
            return
        pending, seen = command
        if student not in seen:
            seen.add(student)
            self.rec.sample("event", pending, at)

    def settle(self, index: int) -> None:
        """Count the students the move to step ``index`` did not reach."""
        command = self.commands.pop(index, None)
        if command is None:
            return
        pending, seen = command
        if pending.counted:
            self.rec.counts["demo moves"] += 1
            missing = len(self.students) - len(seen)
            if missing:
                self.rec.errors["missing demo.step deliveries"] += missing

    def demo_outstanding(self) -> int:
        return sum(
            len(self.students) - len(seen)
            for pending, seen in self.commands.values()
            if pending.counted
        )

    async def close(self) -> None:
        sockets = [self.teacher, *self.watchers]
        for student in self.students:
            sockets += [student.events, student.writer]
        await asyncio.gather(*(s.close() for s in sockets))


class Student:
    def __init__(self, room: Room, student: dict[str, Any], rec: Recorder) -> None:
        self.room = room
        self.id: int = student["id"]
        self.token: str = student["token"]
        self.server = room.plan["servers"][student["server"]]
        self.doc = f"students/{self.id}/main.py"
        self.rec = rec
        self.writer = DocWriter(rec)
        self.events = EventsSocket(rec, self._event)
        self.runs = 0
        self.pending_runs: dict[str, Pending] = {}
        self.run_ids: dict[str, Pending] = {}
        self.typed = 0

    async def open(self, http: httpx.AsyncClient) -> None:
        plan = self.room.plan
        path = f"/yjs/{self.room.id}/{self.doc}"
        server = server_for(plan, path, self.server)
        await self.writer.open(await open_socket(http, server, self.token, path))
        if not str(self.writer.text):
            await self.writer.type(plan["program"])
        path = f"/ws/rooms/{self.room.id}"
        server = server_for(plan, path, self.server)
        await self.events.open(await open_socket(http, server, self.token, path))

    def _event(self, event: dict[str, Any], at: float) -> None:
        kind = event.get("type")
        if kind == "demo.step":
            self.room.demo_step(self.id, event["index"], at)
        elif kind == "run.started":
            pending = self.pending_runs.pop(event.get("ref") or "", None)
            if pending is not None:
                self.run_ids[event["run_id"]] = pending
        elif kind == "run.output":
            pending = self.run_ids.get(event["run_id"])
            if pending is not None:
                self.rec.run_output(pending, at)
        elif kind == "run.finished":
            pending = self.run_ids.pop(event["run_id"], None)
            if pending is not None:
                self.rec.run_finished(pending, event.get("status", "?"), at)
        elif kind == "error" and event.get("ref") in self.pending_runs:
            self.pending_runs.pop(event["ref"]).refuse(at)
        elif kind == "grade.result" and event["submission"]["user_id"] == self.id:
            self.rec.graded(self.id, at)

    async def keystroke(self, rng: random.Random) -> None:
        self.typed += 1
        await self.writer.type("\n# " if self.typed % 60 == 0 else rng.choice(LETTERS))

    async def run(self) -> None:
        self.runs += 1
        ref = f"{self.id}-{self.runs}"
        self.pending_runs[ref] = self.rec.run_sent(ref, time.monotonic())
        command = {"type": "run.start", "ref": ref, "doc": self.doc, "language": "python"}
        await self.events.command({**command, "stdin": "Ada\n"})

    async def submit(self, http: httpx.AsyncClient) -> None:
        url = f"{self.server['http']}/api/rooms/{self.room.id}/exercises/"
        url += f"{self.room.plan['exercise']}/submissions"
        pending = self.rec.submit_sent(self.id, time.monotonic())
        try:
            response = await http.post(
                url, json={"doc": self.doc}, headers={"authorization": f"Bearer {self.token}"}
            )
        except httpx.HTTPError as exc:
            pending.refuse(time.monotonic())
            if pending.counted:
                self.rec.error(f"submit failed: {type(exc).__name__}")
            return
        if response.status_code != 201:
            pending.refuse(time.monotonic())
            if pending.counted:
                code = response.text.partition('"code":"')[2].partition('"')[0]
                self.rec.error(f"submit answered {response.status_code} {code}")


async def every(
    period: float,
    first: float,
    end: float,
    action: Callable[[], Awaitable[None]],
    *,
    lag: list[float] | None = None,
    background: set[asyncio.Task[None]] | None = None,
) -> None:
    """Call ``action`` at ``first``, ``first + period``, … until ``end`` (monotonic times);
    ``background``: run each call as its own task (an HTTP request must not delay the next)."""
    due = first
    while due < end:
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if lag is not None:
            lag.append((time.monotonic() - due) * 1000)
        if background is None:
            await action()
        else:
            task = asyncio.create_task(action())  # type: ignore[arg-type]
            background.add(task)
            task.add_done_callback(background.discard)
        due += period


async def generate(plan: dict[str, Any], part: int, parts: int) -> dict[str, Any]:
    load = plan["load"]
    rec = Recorder(Window(0, 0))
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        rooms = [Room(plan, r, rec) for r in plan["rooms"][part::parts]]
        gate = asyncio.Semaphore(16)
        await asyncio.gather(*(r.open(http, gate) for r in rooms))
        print("ready", flush=True)
        line = await asyncio.to_thread(sys.stdin.readline)
        t0 = float(line.split()[1])
        rec.window = Window(t0 + load["warmup"], t0 + load["warmup"] + load["duration"])
        end = rec.window.end
        rng = random.Random(f"{plan['seed']}-{part}")
        background: set[asyncio.Task[None]] = set()
        tasks = []
        for room in rooms:
            tasks.append(every(load["demo_every"], t0 + rng.uniform(0, load["demo_every"]),
                               end, room.move_demo))  # fmt: skip
            for student in room.students:
                keys = random.Random(rng.random())
                type_period = 1 / load["type_hz"]

                async def keystroke(s: Student = student, r: random.Random = keys) -> None:
                    await s.keystroke(r)

                async def submit(s: Student = student) -> None:
                    await s.submit(http)

                tasks += [
                    every(type_period, t0 + rng.uniform(0, type_period), end, keystroke,
                          lag=rec.lag),
                    every(load["run_every"], t0 + rng.uniform(0, load["run_every"]), end,
                          student.run),
                    every(load["submit_every"], t0 + rng.uniform(0, load["submit_every"]), end,
                          submit, background=background),
                ]  # fmt: skip
        await asyncio.gather(*tasks)
        drain_end = time.monotonic() + load["drain"]
        while time.monotonic() < drain_end:
            if rec.outstanding() + sum(r.demo_outstanding() for r in rooms) == 0:
                break
            await asyncio.sleep(0.1)
        for room in rooms:
            for index in list(room.commands):
                room.settle(index)
        rec.close()
        if background:
            await asyncio.wait(background, timeout=load["drain"])
        await asyncio.gather(*(r.close() for r in rooms))
    return rec.to_json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", type=Path)
    parser.add_argument("--part", type=int, default=0)
    parser.add_argument("--parts", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    plan = json.loads(args.plan.read_text())
    result = asyncio.run(generate(plan, args.part, args.parts))
    args.out.write_text(json.dumps(result))
    print("done", flush=True)


if __name__ == "__main__":
    main()
