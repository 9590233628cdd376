"""Shared fixtures: settings on a fresh database (SQLite and PostgreSQL), the app with its
lifespan, an HTTP client on it, a real uvicorn server, and users with tokens.

Every test that uses ``database_url`` (directly or through ``settings``/``app``/``client``/
``server``) runs once on SQLite and once on PostgreSQL. A module that only needs one sets
``DATABASES = ("sqlite",)``. The database is new and already at head (a copy of one migrated
once a session, tests/support/databases.py); a module that needs it empty sets
``START_EMPTY = True``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from server.app import create_app
from server.auth import hash_password
from server.components import Components
from server.models import User, UserKind
from server.settings import Settings
from server.store import Store, migrate
from tests.node.harness import YjsHarness
from tests.services import require
from tests.support.databases import Templates, admin, postgres_url

if TYPE_CHECKING:
    from tests.server.processes import PrivateRedis

pytest_plugins = ["tests.support.watchdog"]

ALL_DATABASES = ("sqlite", "postgres")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``bwrap`` has its server run code on the local sandbox (the settings
    below), which refuses every run without a working bubblewrap: skipped with the reason on
    such a machine, failed where CI requires it."""
    if item.get_closest_marker("bwrap") is not None:
        require("bwrap")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url" in metafunc.fixturenames:
        kinds = getattr(metafunc.module, "DATABASES", ALL_DATABASES)
        metafunc.parametrize("database_kind", kinds, indirect=False, scope="function")


@pytest.fixture(scope="session")
def database_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    templates = Templates(tmp_path_factory.mktemp("database-templates"))
    yield templates
    templates.close()


@pytest.fixture
def database_url(
    database_kind: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    database_templates: Templates,
) -> Iterator[str]:
    """A new database of its own, already at head (a copy, tests/support/databases.py), or
    empty in a module that sets ``START_EMPTY = True``."""
    migrated = not getattr(request.module, "START_EMPTY", False)
    if database_kind == "sqlite":
        path = tmp_path / "classroom.db"
        if migrated:
            database_templates.sqlite_copy(path)
        yield f"sqlite:///{path}"
        return
    require("postgres")
    name = f"classroom_test_{uuid.uuid4().hex[:12]}"
    if migrated:
        database_templates.postgres_create(name)
    else:
        admin(f'CREATE DATABASE "{name}"')
    yield postgres_url(name)
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """The database at ``database_url``, migrated to head, as the app opens it."""
    await asyncio.to_thread(migrate, database_url)
    opened = Store(database_url)
    yield opened
    await opened.close()


def make_settings(tmp_path: Path, database_url: str, **overrides: str) -> Settings:
    env = {
        "CLASSROOM_DATA_DIR": str(tmp_path),
        "CLASSROOM_DATABASE_URL": database_url,
        "CLASSROOM_SECRET_KEY": "test-secret-key",
        "CLASSROOM_SANDBOX": "local",
        "CLASSROOM_POOL_SIZE": "0",
        "CLASSROOM_ROOM_UNLOAD_GRACE_SECONDS": "0.5",
        # A test's server stops at once: runs left running are cancelled, as before.
        "CLASSROOM_SHUTDOWN_GRACE_SECONDS": "0",
    }
    env.update({f"CLASSROOM_{k.upper()}": v for k, v in overrides.items()})
    return Settings.from_env(env)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


def state_of(app: Starlette) -> Components:
    state: Components = app.state.classroom
    return state


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


T = TypeVar("T")


@dataclass
class LiveServer:
    """A real uvicorn serving the app on 127.0.0.1, in a thread with its own event loop."""

    app: Starlette
    port: int
    settings: Settings
    loop: asyncio.AbstractEventLoop  # the server's: its components' futures belong to it

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def state(self) -> Components:
        return state_of(self.app)

    async def on_server_loop(self, work: Coroutine[Any, Any, T]) -> T:
        """Await ``work`` (a call on the server's components) on the server's event loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self.loop))


def serve_in_thread(settings: Settings) -> Iterator[LiveServer]:
    application = create_app(settings)
    port = free_port()
    config = uvicorn.Config(
        application,
        host="127.0.0.1",
        port=port,
        ws="websockets-sansio",
        ws_max_size=settings.max_frame_bytes,
        ws_per_message_deflate=False,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = 30.0
    step = 0.02
    waited = 0.0
    # uvicorn offers no awaitable "started"; poll its flag (this waits on the event, bounded).
    while not server.started and thread.is_alive() and waited < deadline:
        threading.Event().wait(step)
        waited += step
    if not server.started:
        raise RuntimeError("uvicorn did not start")
    try:
        yield LiveServer(application, port, settings, server.servers[0].get_loop())
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    yield from serve_in_thread(settings)


@dataclass
class Account:
    id: int
    name: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def create_instructor(
    store: Store, state: Components, email: str = "teacher@example.org", name: str = "Ada"
) -> Account:
    async with store.session() as session:
        user = User(
            email=email,
            name=name,
            kind=UserKind.INSTRUCTOR,
            password_hash=hash_password("correct horse"),
        )
        session.add(user)
        await session.flush()
        assert user.id is not None
        user_id = user.id
    return Account(user_id, name, state.signer.sign(user_id, UserKind.INSTRUCTOR))


@pytest.fixture
async def instructor(app: Starlette) -> Account:
    state = state_of(app)
    return await create_instructor(state.store, state)


async def new_classroom(
    http: httpx.AsyncClient, teacher: Account, title: str = "CS 101"
) -> dict[str, Any]:
    response = await http.post("/api/classrooms", json={"title": title}, headers=teacher.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def new_room(
    http: httpx.AsyncClient, teacher: Account, classroom_id: int, kind: str = "lesson"
) -> dict[str, Any]:
    response = await http.post(
        f"/api/classrooms/{classroom_id}/rooms",
        json={"title": "Lesson 1", "kind": kind},
        headers=teacher.headers,
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def join_as(http: httpx.AsyncClient, join_code: str, name: str) -> Account:
    response = await http.post("/api/join", json={"join_code": join_code, "name": name})
    assert response.status_code == 200, response.text
    data = response.json()
    return Account(data["user"]["id"], name, data["token"])


@dataclass
class Lesson:
    """A classroom with one room, its instructor and two students."""

    classroom: dict[str, Any]
    room: dict[str, Any]
    teacher: Account
    alice: Account
    bob: Account

    @property
    def room_id(self) -> int:
        value: int = self.room["id"]
        return value


@pytest.fixture
async def lesson(client: httpx.AsyncClient, instructor: Account) -> Lesson:
    classroom = await new_classroom(client, instructor)
    room = await new_room(client, instructor, classroom["id"])
    alice = await join_as(client, classroom["join_code"], "Alice")
    bob = await join_as(client, classroom["join_code"], "Bob")
    return Lesson(classroom, room, instructor, alice, bob)


async def make_lesson(base_url: str, settings: Settings, signer_state: Components) -> Lesson:
    store = Store(settings.database_url)
    try:
        teacher = await create_instructor(store, signer_state)
    finally:
        await store.close()
    async with httpx.AsyncClient(base_url=base_url) as http:
        classroom = await new_classroom(http, teacher)
        room = await new_room(http, teacher, classroom["id"])
        alice = await join_as(http, classroom["join_code"], "Alice")
        bob = await join_as(http, classroom["join_code"], "Bob")
    return Lesson(classroom, room, teacher, alice, bob)


@pytest.fixture
async def live_lesson(server: LiveServer) -> Lesson:
    """A lesson (instructor, two students, one room) on the live ``server``."""
    return await make_lesson(server.url, server.settings, server.state)


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    """A redis-server of the test's own, on a free port, killed after (for tests that start
    server processes on loopback)."""
    require("redis")
    from tests.server.processes import PrivateRedis  # it imports this module

    server = PrivateRedis()
    server.start()
    yield server
    server.kill()


@pytest.fixture
async def yjs() -> AsyncIterator[YjsHarness]:
    """Stock Yjs clients (the npm ``y-websocket`` provider) in one Node process; skipped
    without Node unless CI requires it. A module may define its own (a longer timeout)."""
    require("node")
    async with YjsHarness() as harness:
        yield harness
