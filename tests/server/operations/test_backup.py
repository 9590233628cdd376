"""``python -m server backup`` / ``restore``: an online copy while a server writes, a restore
that a server then serves, and clear refusals that change nothing."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import httpx
import pytest

from server.operations.backup import PAGES_PER_STEP, backup, restore
from server.operations.exceptions import OperationError
from server.store import SQLITE_PAGE_SIZE, migrate
from tests.conftest import LiveServer, new_classroom, new_room
from tests.server.processes import SECRET, prepare_lesson
from tests.server.test_cli import run_cli

DATABASES = ("sqlite",)
ADD_USER = "INSERT INTO users (name, kind, created_at) VALUES (?, 'student', '2026-12-04')"


def count(path: Path, table: str) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        value: int = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return value


async def test_backup_while_serving_then_restore_and_serve(
    server: LiveServer, tmp_path: Path
) -> None:
    data_dir = server.settings.data_dir
    lesson = await prepare_lesson(server.settings.database_url, server.url)
    joined = asyncio.Event()
    stop = asyncio.Event()

    async def keep_writing() -> int:
        # The teacher keeps adding rooms (joins would meet the per-address join limit).
        n = 0
        async with httpx.AsyncClient(base_url=server.url) as http:
            while not stop.is_set():
                await new_room(http, lesson.teacher, lesson.classroom["id"])
                n += 1
                if n == 5:
                    joined.set()
        return n

    writer = asyncio.create_task(keep_writing())
    await asyncio.wait_for(joined.wait(), 30)
    target = tmp_path / "backup.db"
    env = {"CLASSROOM_DATABASE_URL": server.settings.database_url, "CLASSROOM_SECRET_KEY": SECRET}
    done = await asyncio.to_thread(run_cli, ["backup", str(target)], data_dir, **env)
    stop.set()
    written = await asyncio.wait_for(writer, 30)
    assert done.returncode == 0, done.stderr
    assert f"backup written to {target}" in done.stdout
    assert not target.with_name("backup.db.part").exists()
    # A consistent copy: it passes the integrity check, has no WAL beside it, and holds the
    # rooms made before it started (and no more than were made in all).
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    rooms_backed_up = count(target, "rooms") - 1  # minus the lesson's own room
    assert 5 <= rooms_backed_up <= written
    students = count(target, "users") - 1  # minus the instructor

    again = await asyncio.to_thread(run_cli, ["backup", str(target)], data_dir, **env)
    assert again.returncode == 1 and "exists; pass --force" in again.stderr

    # Restore into a new data directory and serve it: the classroom and its tokens work.
    fresh = tmp_path / "restored"
    fresh.mkdir()
    url = f"sqlite:///{fresh / 'classroom.db'}"
    restored = await asyncio.to_thread(
        run_cli, ["restore", str(target)], fresh, CLASSROOM_DATABASE_URL=url
    )
    assert restored.returncode == 0, restored.stderr
    assert "now at the latest revision" in restored.stdout
    assert count(fresh / "classroom.db", "users") == students + 1
    from server.settings import Settings
    from tests.conftest import serve_in_thread

    settings = Settings.from_env(
        {
            "CLASSROOM_DATA_DIR": str(fresh),
            "CLASSROOM_DATABASE_URL": url,
            "CLASSROOM_SECRET_KEY": SECRET,
            "CLASSROOM_SANDBOX": "local",
        }
    )
    for second in serve_in_thread(settings):
        async with httpx.AsyncClient(base_url=second.url) as http:
            me = await http.get("/api/me", headers=lesson.alice.headers)
            assert me.status_code == 200 and me.json()["name"] == "Alice"
            rooms = await http.get(
                f"/api/classrooms/{lesson.classroom['id']}/rooms", headers=lesson.teacher.headers
            )
            listed = [r["id"] for r in rooms.json()["rooms"]]
            assert listed[0] == lesson.room_id and len(listed) == rooms_backed_up + 1
            # The restored database takes new writes.
            await new_room(http, lesson.teacher, lesson.classroom["id"])
            await new_classroom(http, lesson.teacher, "CS 102")


def test_refusals_change_nothing(tmp_path: Path) -> None:
    pg = run_cli(
        ["backup", str(tmp_path / "x.db")],
        tmp_path,
        CLASSROOM_DATABASE_URL="postgresql://postgres@127.0.0.1/classroom",
    )
    assert pg.returncode == 1 and "pg_dump and pg_restore" in pg.stderr

    missing = run_cli(["backup", str(tmp_path / "x.db")], tmp_path)
    assert missing.returncode == 1 and "no database at" in missing.stderr

    assert run_cli(["migrate"], tmp_path).returncode == 0
    live = tmp_path / "classroom.db"
    before = count(live, "alembic_version")

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    refused = run_cli(["restore", str(junk)], tmp_path)
    assert refused.returncode == 1 and "is not a SQLite database" in refused.stderr

    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    refused = run_cli(["restore", str(foreign)], tmp_path)
    assert refused.returncode == 1 and "no schema version" in refused.stderr

    damaged = tmp_path / "damaged.db"
    assert run_cli(["backup", str(damaged)], tmp_path).returncode == 0
    raw = bytearray(damaged.read_bytes())
    page = int.from_bytes(raw[16:18], "big")  # the header's page size
    raw[2 * page : 2 * page + 64] = b"\xff" * 64  # garbage over an index or table page
    damaged.write_bytes(bytes(raw))
    refused = run_cli(["restore", str(damaged)], tmp_path)
    assert refused.returncode == 1, refused.stdout
    assert "damaged" in refused.stderr or "cannot be read" in refused.stderr

    self_restore = run_cli(["restore", str(live)], tmp_path)
    assert self_restore.returncode == 1 and "the database itself" in self_restore.stderr
    assert count(live, "alembic_version") == before
    assert PAGES_PER_STEP > 0


def database_with_pages(path: Path, page_size: int) -> str:
    """A migrated database whose pages are ``page_size`` bytes; its URL."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA page_size={page_size}")
        conn.execute("PRAGMA journal_mode=WAL")  # writes the first page: the size is fixed
    url = f"sqlite:///{path}"
    migrate(url)
    return url


@pytest.mark.parametrize(
    ("live_pages", "backup_pages"), [(SQLITE_PAGE_SIZE, 4096), (4096, SQLITE_PAGE_SIZE)]
)
def test_a_backup_with_other_pages_restores_over_a_live_database(
    tmp_path: Path, live_pages: int, backup_pages: int
) -> None:
    """Databases made before ``SQLITE_PAGE_SIZE`` have 4,096-byte pages: a backup of one
    restores over a newer database, and the other way round (the backup API alone refuses to
    copy into a WAL database of another page size)."""
    old_url = database_with_pages(tmp_path / "old.db", backup_pages)
    with contextlib.closing(sqlite3.connect(tmp_path / "old.db")) as conn:
        conn.execute(ADD_USER, ("Grace",))
        conn.commit()
    saved = tmp_path / "saved.db"
    backup(old_url, saved)
    live = tmp_path / "live.db"
    live_url = database_with_pages(live, live_pages)
    assert page_size(live) == live_pages

    restore(live_url, saved)
    migrate(live_url)  # as the command does: the server's connections, WAL mode again

    assert page_size(live) == backup_pages
    with contextlib.closing(sqlite3.connect(live)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        names = [row[0] for row in conn.execute("SELECT name FROM users")]
    assert names == ["Grace"]


def test_a_restore_over_a_database_in_use_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    old_url = database_with_pages(tmp_path / "old.db", 4096)
    saved = tmp_path / "saved.db"
    backup(old_url, saved)
    live = tmp_path / "live.db"
    live_url = database_with_pages(live, SQLITE_PAGE_SIZE)
    with contextlib.closing(sqlite3.connect(live)) as server_conn:
        server_conn.execute(ADD_USER, ("Ada",))
        server_conn.commit()
        server_conn.execute("BEGIN")
        server_conn.execute("SELECT count(*) FROM users").fetchone()  # a reader holds it
        with pytest.raises(OperationError, match="stop the servers"):
            restore(live_url, saved)
        server_conn.rollback()
    assert page_size(live) == SQLITE_PAGE_SIZE
    assert count(live, "users") == 1


def page_size(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        size: int = conn.execute("PRAGMA page_size").fetchone()[0]
        return size
