"""The servers the document benchmark measures, and the load it puts on them.

A :class:`Scenario` is the load (rooms, clients, writers, rate). ``reference_server`` starts
the Node reference y-websocket server; ``our_server`` starts ours from a checkout, creates an
instructor, a classroom and the rooms, and hands out the instructor's token for every client
(only instructors write the ``demo`` document), which is why it raises
CLASSROOM_MAX_CONNECTIONS_PER_USER and CLASSROOM_MAX_CONNECTIONS_PER_ROOM, and turns off the
user's share of the loop (CLASSROOM_MAX_DOC_WORK_MS_PER_SECOND: the whole load is one user's).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processes import free_port, running, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "bench" / "docs"
PYTHON = ROOT / ".venv" / "bin" / "python"
INSTRUCTOR = ("--name", "Bench", "--password-stdin")


@dataclass(frozen=True)
class Scenario:
    key: str
    rooms: int
    clients_per_room: int
    writers_per_room: int
    hz: float

    @property
    def clients(self) -> int:
        return self.rooms * self.clients_per_room


SCENARIOS = {
    "big": Scenario("big", rooms=1, clients_per_room=100, writers_per_room=10, hz=20),
    "many": Scenario("many", rooms=50, clients_per_room=20, writers_per_room=2, hz=5),
    # The many-rooms class with (almost) nobody typing: what 1,000 open sockets cost alone
    # (awareness renewals, pings). Not in the default set.
    "idle": Scenario("idle", rooms=50, clients_per_room=20, writers_per_room=1, hz=0.01),
    # many's rooms, fewer and slower: a load our server keeps up with under callgrind
    # (--callgrind, docs_counted.py). Not in the default set.
    "light": Scenario("light", rooms=10, clients_per_room=20, writers_per_room=2, hz=1),
    # big's room, its writers slower: the same, for callgrind. Not in the default set.
    "light-big": Scenario("light-big", rooms=1, clients_per_room=100, writers_per_room=10, hz=1),
}
DEFAULT_SCENARIOS = ("big", "many")
SERVERS = ("reference", "ours", "ours-tmpfs", "ours-unstored", "baseline")
# ours-unstored: the folder whose sitecustomize takes the commit out (bench/unstored).
UNSTORED_DIR = Path(__file__).resolve().parent / "unstored"
TMPFS = Path("/dev/shm")


def unstored_env() -> dict[str, str]:
    """The environment that has our server store no document update (ours-unstored)."""
    return {"PYTHONPATH": str(UNSTORED_DIR), "CLASSROOM_BENCH_UNSTORED": "1"}


@dataclass
class Target:
    pid: int
    server_url: str
    rooms: list[dict[str, Any]]
    metrics_url: str | None = None  # ours: its Prometheus metrics (the hand-off histogram)


@contextmanager
def reference_server(scenario: Scenario, workdir: Path, nice: int) -> Iterator[Target]:
    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port)}
    cmd = ["node", "node_modules/y-websocket/bin/server.js"]
    log = Path(tempfile.mkstemp(prefix=f"reference-{scenario.key}-", suffix=".log", dir=workdir)[1])
    with running(cmd, env, NODE_DIR, log, nice) as proc:
        wait_for_port(port, proc)
        rooms = [{"name": f"{scenario.key}-{i}", "tokens": None} for i in range(scenario.rooms)]
        yield Target(proc.pid, f"ws://127.0.0.1:{port}", rooms)


def python_of(source: Path) -> Path:
    """The interpreter to run checkout ``source`` with: its own virtualenv's, else ours."""
    own = source / ".venv" / "bin" / "python"
    return own if own.exists() else PYTHON


@contextmanager
def our_server(
    scenario: Scenario,
    workdir: Path,
    nice: int,
    source: Path,
    data_root: Path | None = None,
    *,
    extra_env: dict[str, str] | None = None,
    wrap: list[str] | None = None,
) -> Iterator[Target]:
    """Our server, run from the checkout ``source`` (``python -m`` imports from its cwd), with
    that checkout's own ``.venv`` where it has one: a baseline may differ in its interpreter or
    its packages, not only in its code. ``extra_env`` is added to its environment; ``wrap``, if
    given, is the command it runs under (callgrind: docs_counted.py)."""
    python = python_of(source)
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix=f"ours-{scenario.key}-", dir=data_root or workdir))
    env = {
        **os.environ,
        "CLASSROOM_DATA_DIR": str(data_dir),
        "CLASSROOM_MAX_CONNECTIONS_PER_USER": "100000",
        "CLASSROOM_MAX_CONNECTIONS_PER_ROOM": "100000",
        "CLASSROOM_MAX_DOC_WORK_MS_PER_SECOND": "0",
        "CLASSROOM_SANDBOX": "local",
        "CLASSROOM_LOG_LEVEL": "warning",
        **(extra_env or {}),
    }
    cmd = [*(wrap or ()), str(python), "-m", "server", "--port", str(port)]
    with running(cmd, env, source, data_dir / "server.log", nice) as proc:
        wait_for_port(port, proc)
        base = f"http://127.0.0.1:{port}"
        password = "bench-password"
        subprocess.run(
            [str(python), "-m", "server", "create-instructor", "bench@example.org", *INSTRUCTOR],
            input=password + "\n",
            text=True,
            env=env,
            cwd=source,
            check=True,
            capture_output=True,
        )
        login = {"email": "bench@example.org", "password": password}
        token = http_json(base, "POST", "/api/auth/login", login)["token"]
        classroom = http_json(base, "POST", "/api/classrooms", {"title": "Bench"}, token)
        rooms = []
        for i in range(scenario.rooms):
            body = {"title": f"{scenario.key} {i}", "kind": "lesson"}
            room = http_json(base, "POST", f"/api/classrooms/{classroom['id']}/rooms", body, token)
            rooms.append({"name": f"{room['id']}/demo", "tokens": [token]})
        yield Target(proc.pid, f"ws://127.0.0.1:{port}/yjs", rooms, f"{base}/metrics")


def http_json(
    base: str, method: str, path: str, body: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), headers=headers, method=method
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        data: dict[str, Any] = json.loads(response.read())
        return data
