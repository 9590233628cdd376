"""The class of the simulation, made through the real API of the servers under test: an
instructor (``python -m server create-instructor``), a classroom, its rooms, a course uploaded
as an archive (one exercise with three I/O tests, one demo of plain and code steps), and the
students joined with the join code, each on the server that will serve their sockets.

The result is the *plan* every load generator reads (JSON): servers, rooms, tokens.
"""

from __future__ import annotations

import asyncio
import io
import sys
import tarfile
from typing import Any

import httpx
from classroom_servers import Deployment, cli

EXERCISE = "echo-name"
STEPS = 8
PASSWORD = "classroom-bench-password"
# The typed file is always a valid program: the student types into a comment at its end.
PROGRAM = "name = input()\nprint(f'Hello, {name}!')\n# "

EXERCISE_TOML = f"""id = "{EXERCISE}"
title = "Greet by name"
language = "python"
prompt = "Read a name, print Hello, <name>!"
time_limit = 5.0
rate_limit = {{ count = 100, window = 60 }}

[[tests]]
name = "Ada"
stdin = "Ada\\n"
expected = "Hello, Ada!"

[[tests]]
name = "Grace"
stdin = "Grace\\n"
expected = "Hello, Grace!"

[[tests]]
name = "Alan"
stdin = "Alan\\n"
expected = "Hello, Alan!"
"""


def demo_toml() -> str:
    """Explanation and code steps in turn (a code step also rewrites the room's demo doc)."""
    lines = ['id = "walkthrough"', 'title = "A walkthrough"', 'difficulty = "beginner"']
    lines += ["estimated_minutes = 10", ""]
    for step in range(STEPS):
        lines += ["[[steps]]", f'id = "s{step}"', f'title = "Step {step}"']
        if step % 2:
            lines += ['type = "code"', "[steps.content]", 'language = "python"']
            lines += ["[[steps.content.files]]", 'path = "main.py"']
            lines += [f'text = "print({step})\\n"', ""]
        else:
            lines += ['type = "explanation"', "[steps.content]", f'text = "Step {step}."', ""]
    return "\n".join(lines)


def course_archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in (
            (f"exercises/{EXERCISE}.toml", EXERCISE_TOML),
            ("demos/walkthrough.toml", demo_toml()),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


async def call(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    headers = dict(headers or {})
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = await http.request(method, url, headers=headers, **kwargs)
    if response.status_code >= 300:
        raise RuntimeError(f"{method} {url}: {response.status_code} {response.text[:300]}")
    data: dict[str, Any] = response.json()
    return data


async def make_class(target: Deployment, rooms: int, students: int) -> dict[str, Any]:
    """Instructor, classroom, rooms, course and students; returns the plan."""
    email = "teacher@example.org"
    cli(target.source, target.env, "create-instructor", email, "--name", "Teacher",
        "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    first = target.servers[0].http
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        login = await call(
            http, "POST", f"{first}/api/auth/login", json={"email": email, "password": PASSWORD}
        )
        teacher = login["token"]
        classroom = await call(
            http, "POST", f"{first}/api/classrooms", teacher, json={"title": "Classroom bench"}
        )
        report = await call(
            http, "POST", f"{first}/api/classrooms/{classroom['id']}/course", teacher,
            content=course_archive(), headers={"content-type": "application/gzip"},
        )  # fmt: skip
        if len(report["exercises"]) != 1 or len(report["demos"]) != 1:
            raise RuntimeError(f"the course did not import: {report}")
        room_ids = []
        for index in range(rooms):
            room = await call(
                http, "POST", f"{first}/api/classrooms/{classroom['id']}/rooms", teacher,
                json={"title": f"Room {index}", "kind": "lesson"},
            )  # fmt: skip
            room_ids.append(room["id"])
        # Room r gets students r, r + rooms, …; within a room they alternate between servers.
        gate = asyncio.Semaphore(4)
        body = {"join_code": classroom["join_code"]}

        async def join(index: int) -> dict[str, Any]:
            server = target.servers[(index // rooms) % len(target.servers)]
            async with gate:
                for _ in range(5):
                    response = await http.post(
                        f"{server.http}/api/join", json={**body, "name": f"Student {index:03d}"}
                    )
                    if response.status_code != 500:
                        break
                    # On SQLite, concurrent joins can fail with "database is locked" (the
                    # server's log says so): the setup is not measured, so it tries again.
                    failures.append(index)
            if response.status_code != 200:
                raise RuntimeError(f"join: {response.status_code} {response.text[:300]}")
            joined = response.json()
            return {"id": joined["user"]["id"], "token": joined["token"],
                    "server": target.servers.index(server)}  # fmt: skip

        failures: list[int] = []

        joined = await asyncio.gather(*(join(i) for i in range(students)))
        if failures:
            print(f"  warning: {len(failures)} joins answered 500 and were retried "
                  "(see the server log: 'database is locked')", file=sys.stderr)  # fmt: skip
    return {
        "servers": [{"http": s.http, "ws": s.ws} for s in target.servers],
        "teacher": teacher,
        "exercise": EXERCISE,
        "demo": "walkthrough",
        "steps": STEPS,
        "program": PROGRAM,
        "rooms": [
            {"id": room_id, "students": joined[index::rooms]}
            for index, room_id in enumerate(room_ids)
        ],
    }
