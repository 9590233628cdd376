"""The servers the classroom simulation measures: one ``python -m server`` on SQLite with its
own sandbox, or two on a private PostgreSQL database and a private redis-server with a sandbox
worker (``python -m sandbox.worker``) taking the runs from the Redis stream.

Each process gets a fresh temporary data directory; the PostgreSQL database and the Redis are
created for the run and removed after it. The limits that a single load-generating address
would hit (joins per address, sockets per user: the instructor's live view holds one socket per
student file) are raised; every other setting keeps its default.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from processes import free_port, running, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
SECRET = "classroom-bench-secret"
POSTGRES_ADMIN = os.environ.get(
    "CLASSROOM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# One loopback address joins the whole class; the instructor watches every student file.
RAISED = {
    "CLASSROOM_JOINS_PER_ADDRESS_PER_MINUTE": "100000",
    "CLASSROOM_JOINS_PER_CODE_PER_MINUTE": "100000",
    "CLASSROOM_LOGINS_PER_ADDRESS_PER_MINUTE": "100000",
    "CLASSROOM_MAX_CONNECTIONS_PER_USER": "100000",
    "CLASSROOM_MAX_EVENTS_SOCKETS_PER_USER": "1000",
    "CLASSROOM_MAX_CONNECTIONS_PER_ROOM": "100000",
    # The instructor's one token sets up every room and exercise, as fast as the server answers.
    "CLASSROOM_MAX_REQUESTS_PER_SECOND": "0",
    # The instructor's sockets on every student file answer the sync of each: one user's work.
    "CLASSROOM_MAX_DOC_WORK_MS_PER_SECOND": "0",
}


@dataclass
class Server:
    port: int
    pid: int

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


@dataclass
class Deployment:
    """What a run measures: the servers, and the helper processes (worker, Redis) if any."""

    servers: list[Server]
    helpers: dict[str, int] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    source: Path = ROOT
    database: str = "sqlite"


def base_env(data_dir: Path, sandbox: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
    env.update(RAISED)
    env.update(
        CLASSROOM_DATA_DIR=str(data_dir),
        CLASSROOM_SECRET_KEY=SECRET,
        CLASSROOM_SANDBOX=sandbox,
        CLASSROOM_LOG_LEVEL="warning",
    )
    return env


def cli(source: Path, env: dict[str, str], *args: str, stdin: str = "") -> None:
    """``python -m server ARGS`` from ``source``; raises with its output when it fails."""
    done = subprocess.run(
        [str(PYTHON), "-m", "server", *args],
        input=stdin,
        text=True,
        env=env,
        cwd=source,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"python -m server {' '.join(args)} failed:\n{done.stderr}")


@contextmanager
def private_postgres() -> Iterator[str]:
    import psycopg

    name = f"classroom_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_ADMIN.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_backends(url: str) -> list[int]:
    """The process ids of the PostgreSQL backends connected to ``url``'s database now (this
    query's own connection left out). The server's shared processes (checkpointer, WAL
    writer) serve every database and are not among them."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(pid) for (pid,) in rows]


@contextmanager
def private_redis(workdir: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    cmd += ["--appendonly", "no", "--dir", str(workdir)]
    with running(cmd, dict(os.environ), workdir, workdir / "redis.log", 0) as proc:
        wait_for_port(port, proc)
        yield f"redis://127.0.0.1:{port}/0", proc.pid


@contextmanager
def deployment(
    processes: int,
    sandbox: str,
    source: Path,
    extra: dict[str, str] | None = None,
    keep_logs: bool = False,
) -> Iterator[Deployment]:
    """One server on SQLite, or two on PostgreSQL + Redis + a sandbox worker. The logs and
    data stay in a temporary directory that is removed afterwards, unless ``keep_logs``."""
    workdir = Path(tempfile.mkdtemp(prefix=f"classroom-bench-{processes}p-"))
    try:
        with ExitStack() as stack:
            (workdir / "data-0").mkdir()
            env = {**base_env(workdir / "data-0", sandbox), **(extra or {})}
            database = "sqlite"
            helpers: dict[str, int] = {}
            if processes > 1:
                database = "postgresql"
                env["CLASSROOM_DATABASE_URL"] = stack.enter_context(private_postgres())
                env["CLASSROOM_REDIS_URL"], helpers["redis"] = stack.enter_context(
                    private_redis(workdir)
                )
            cli(source, env, "migrate")
            servers = []
            for index in range(processes):
                data_dir = workdir / f"data-{index}"
                data_dir.mkdir(exist_ok=True)
                port = free_port()
                own = {**env, "CLASSROOM_DATA_DIR": str(data_dir)}
                cmd = [str(PYTHON), "-m", "server", "--port", str(port)]
                proc = stack.enter_context(
                    running(cmd, own, source, workdir / f"server-{index}.log", 0)
                )
                wait_for_port(port, proc)
                servers.append(Server(port, proc.pid))
            if processes > 1:
                cmd = [str(PYTHON), "-m", "sandbox.worker", "--sandbox", sandbox]
                worker = stack.enter_context(running(cmd, env, source, workdir / "worker.log", 0))
                helpers["worker"] = worker.pid
            yield Deployment(servers, helpers, env, source, database)
    except BaseException:
        for log in sorted(workdir.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-25:]
            print(f"--- the last lines of {log.name}:", *tail, sep="\n", file=sys.stderr)
        raise
    finally:
        if keep_logs:
            print(f"  logs and data kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
