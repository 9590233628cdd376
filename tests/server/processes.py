"""Real server processes (``python -m server``) and a private redis-server, for the tests that
kill, restart or disconnect them. Each waits on the process's own "ready" log line."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from pathlib import Path

import httpx

from server.auth import TokenSigner
from server.settings import Settings
from server.store import Store, migrate
from tests.conftest import (
    Account,
    Lesson,
    create_instructor,
    free_port,
    join_as,
    new_classroom,
    new_room,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-secret-key"


class PrivateRedis:
    """A redis-server of our own on a free port, so stopping it disturbs nobody else."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--loglevel",
                "notice",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert self.process.stdout is not None
        # The server says when it listens; read its log until then (EOF means it died).
        for line in self.process.stdout:
            if b"Ready to accept connections" in line:
                return
        raise RuntimeError("private redis-server did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None


class ServerProcess:
    """``python -m server --port N`` with the given CLASSROOM_* environment."""

    def __init__(self, env: dict[str, str], port: int | None = None, cwd: Path = ROOT) -> None:
        self.env = env
        self.cwd = cwd  # the checkout whose server runs
        self.port = port or free_port()
        self.process: asyncio.subprocess.Process | None = None
        self.log: list[str] = []
        self._drain: asyncio.Task[None] | None = None
        self._new_line = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
        env.update(self.env)
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "server",
            "--port",
            str(self.port),
            cwd=self.cwd,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self.process.stderr is not None
        ready = asyncio.get_running_loop().create_future()
        self._drain = asyncio.create_task(self._read(self.process.stderr, ready))
        await asyncio.wait_for(ready, 60)

    async def _read(self, stream: asyncio.StreamReader, ready: asyncio.Future[None]) -> None:
        async for raw in stream:
            line = raw.decode(errors="replace").rstrip()
            self.log.append(line)
            self._new_line.set()
            if "Uvicorn running on" in line and not ready.done():
                ready.set_result(None)
        if not ready.done():
            ready.set_exception(RuntimeError("server exited:\n" + "\n".join(self.log[-30:])))

    def saw(self, text: str, since: int = 0) -> bool:
        return any(text in line for line in self.log[since:])

    async def wait_log(self, text: str, since: int = 0, *, within: float) -> None:
        """Return once a log line (from index ``since``) contains ``text``; fail with the
        log (its last 300 lines) if none does ``within`` seconds."""

        async def seen() -> None:
            while not self.saw(text, since):
                self._new_line.clear()
                await self._new_line.wait()

        try:
            await asyncio.wait_for(seen(), within)
        except TimeoutError:
            tail = "\n".join(self.log[-300:])
            raise AssertionError(f"no {text!r} in the log within {within} s:\n{tail}") from None

    async def kill(self) -> None:
        """SIGKILL: no shutdown, no flush."""
        assert self.process is not None
        self.process.kill()
        await self.process.wait()
        if self._drain is not None:
            await self._drain

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 20)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        if self._drain is not None:
            await self._drain


def server_env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {
        "CLASSROOM_DATA_DIR": str(tmp_path),
        "CLASSROOM_DATABASE_URL": database_url,
        "CLASSROOM_SECRET_KEY": SECRET,
        "CLASSROOM_SANDBOX": "local",
        "CLASSROOM_POOL_SIZE": "0",
        "CLASSROOM_LOG_LEVEL": "info",
    }
    env.update({f"CLASSROOM_{k.upper()}": v for k, v in extra.items()})
    return env


async def start_worker(env: dict[str, str]) -> asyncio.subprocess.Process:
    """A sandbox worker (``python -m sandbox.worker``) with ``env``, once it says it is ready.
    Its log goes to ``worker-<n>.log`` in the data directory (see :func:`stop_worker`)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
    environ.update(env)
    log = Path(env["CLASSROOM_DATA_DIR"]) / f"worker-{next(_WORKER_NUMBERS)}.log"
    with log.open("wb") as sink:
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sandbox.worker",
            cwd=ROOT, env=environ, stdout=asyncio.subprocess.PIPE, stderr=sink,
        )  # fmt: skip
    _WORKER_LOGS[worker.pid] = log
    assert worker.stdout is not None
    line = await asyncio.wait_for(worker.stdout.readline(), 60)
    assert b"ready" in line, line
    return worker


async def stop_worker(worker: asyncio.subprocess.Process, within: float = 30.0) -> None:
    """SIGTERM, as an operator's restart sends; the worker must exit within ``within``
    seconds. If it does not, it is killed and this fails with the end of its log."""
    if worker.returncode is None:
        worker.terminate()
    try:
        await asyncio.wait_for(worker.wait(), within)
    except TimeoutError:
        worker.kill()
        await worker.wait()
        log = _WORKER_LOGS.get(worker.pid)
        tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else "(no log)"
        raise AssertionError(
            f"the worker ran on {within:.0f} s after SIGTERM; its log:\n{tail}"
        ) from None


_WORKER_LOGS: dict[int, Path] = {}
_WORKER_NUMBERS = itertools.count(1)


class _Signer:
    def __init__(self, settings: Settings) -> None:
        self.signer = TokenSigner(SECRET, settings.token_ttl_seconds)


async def prepare_lesson(database_url: str, base_url: str) -> Lesson:
    """Migrate, create an instructor in the database, then a classroom, room and two students
    through the served API."""
    await asyncio.to_thread(migrate, database_url)
    settings = Settings(database_url=database_url, secret_key=SECRET)
    store = Store(database_url)
    try:
        teacher: Account = await create_instructor(store, _Signer(settings))  # type: ignore[arg-type]
    finally:
        await store.close()
    async with httpx.AsyncClient(base_url=base_url) as http:
        classroom = await new_classroom(http, teacher)
        room = await new_room(http, teacher, classroom["id"])
        alice = await join_as(http, classroom["join_code"], "Alice")
        bob = await join_as(http, classroom["join_code"], "Bob")
    return Lesson(classroom, room, teacher, alice, bob)
