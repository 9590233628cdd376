"""The local backend does not run untrusted code without bubblewrap unless the operator opted
in (``CLASSROOM_ALLOW_UNCONFINED=1``), whatever the environment; the data directory is 0700 and
the database files (with the WAL and shared memory) 0600."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from server.app import create_app
from tests.conftest import create_instructor, make_settings, new_classroom, new_room, state_of
from tests.server.runs.test_api import settle, start

DATABASES = ("sqlite",)


@pytest.fixture
def no_bwrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH on which bubblewrap cannot be found (the backend looks it up at start)."""
    only_python = tmp_path / "bin"
    only_python.mkdir()
    (only_python / "python3").symlink_to("/usr/bin/python3")
    monkeypatch.setenv("PATH", str(only_python))
    return only_python


async def run_marker(app: Starlette, marker: Path) -> dict[str, object]:
    state = state_of(app)
    teacher = await create_instructor(state.store, state)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        classroom = await new_classroom(http, teacher)
        room = await new_room(http, teacher, classroom["id"])
        code = f"open({str(marker)!r}, 'w').write('escaped')\nprint('ran')\n"
        run_id = await start(http, room["id"], teacher, {"language": "python", "code": code})
        await settle(app, run_id)
        view: dict[str, object] = (
            await http.get(f"/api/runs/{run_id}", headers=teacher.headers)
        ).json()
    return view


@pytest.fixture
async def refusing(tmp_path: Path, no_bwrap: Path) -> AsyncIterator[Starlette]:
    data = tmp_path / "data"  # the database inside the data directory, as by default
    data.mkdir(mode=0o755)  # as an operator would make it
    url = f"sqlite:///{data / 'classroom.db'}"
    app = create_app(make_settings(data, url, env="production"))
    async with app.router.lifespan_context(app):
        yield app


def world_writable_marker() -> Path:
    """A path the run's own uid may write (the host's /tmp), unique to this test."""
    return Path(tempfile.gettempdir()) / f"classroom-escaped-{uuid.uuid4().hex}"


async def test_without_bubblewrap_code_is_not_run(refusing: Starlette) -> None:
    marker = world_writable_marker()
    view = await run_marker(refusing, marker)
    assert view["status"] == "internal_error"
    assert "bubblewrap" in str(view["message"]) and "CLASSROOM_ALLOW_UNCONFINED" in str(
        view["message"]
    )
    assert not marker.exists()  # the code never ran on the host


async def test_an_operator_may_opt_in(tmp_path: Path, database_url: str, no_bwrap: Path) -> None:
    settings = make_settings(tmp_path / "data", database_url, allow_unconfined="1")
    app = create_app(settings)
    marker = world_writable_marker()
    async with app.router.lifespan_context(app):
        view = await run_marker(app, marker)
    assert view["status"] == "ok", (view["stdout"], view["stderr"], view["message"])
    assert marker.read_text() == "escaped"
    marker.unlink()


async def test_the_data_directory_and_database_are_private(
    refusing: Starlette, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    # The WAL and shared-memory files exist while a connection is open (the server opens and
    # closes its pooled ones as it needs them); SQLite gives them the database file's mode.
    with contextlib.closing(sqlite3.connect(data / "classroom.db")) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        conn.execute("SELECT count(*) FROM alembic_version").fetchone()
        files = [p for p in data.iterdir() if p.name.startswith("classroom.db")]
        assert {p.name for p in files} >= {"classroom.db", "classroom.db-wal", "classroom.db-shm"}
        for path in [*files, data / "secret_key"]:
            if path.exists():
                assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
