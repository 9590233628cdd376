"""Gamification in running processes: a graded submission applied in one process reaches the
room sockets served by another (Redis bus, Redis leaderboard, one database), and the room
snapshot carries the boards."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis import Redis as SyncRedis

from server.exceptions import ConfigurationError
from server.gamification.leaderboard import InMemoryLeaderboard, RedisLeaderboard
from server.gamification.room import catalog, graded_run, open_leaderboard
from server.models.exercises import LiveExercise, Submission
from server.settings import Settings
from tests.conftest import Lesson, LiveServer, make_settings
from tests.services import REDIS_URL, ROOT, missing, require
from tests.support.events import EventClient

DATABASES = ("sqlite",)
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"test:gamhub:{uuid.uuid4().hex}:"
    yield name
    if missing("redis") is None:
        with SyncRedis.from_url(REDIS_URL) as client:
            keys = list(client.scan_iter(match=name + "*"))
            if keys:
                client.delete(*keys)


@pytest.fixture
def settings(tmp_path: Path, database_url: str, prefix: str) -> Settings:
    """Every process of these tests shares the database, the Redis bus and the boards."""
    require("redis")
    return make_settings(tmp_path, database_url, redis_url=REDIS_URL, redis_prefix=prefix)


def submission(room_id: int | None = 3, **kw: Any) -> Submission:
    fields: dict[str, Any] = {
        "id": 12,
        "classroom_id": 2,
        "room_id": room_id,
        "exercise_id": "fizzbuzz",
        "user_id": 5,
        "attempt": 1,
        "files": {},
        "status": "graded",
        "score": 8.0,
        "max_score": 10.0,
        "passed": True,
        "submitted_at": T0 + timedelta(minutes=2),
    }
    fields.update(kw)
    return Submission(**fields)


def test_graded_run_from_a_submission_and_its_live_window() -> None:
    live = LiveExercise(
        room_id=3, exercise_id="fizzbuzz", opened_at=T0, closes_at=T0 + timedelta(minutes=10)
    )
    run = graded_run(submission(), live)
    assert (run.user_id, run.classroom_id, run.room_id, run.exercise_id) == (5, 2, 3, "fizzbuzz")
    assert (run.score, run.max_score, run.passed) == (8.0, 10.0, True)
    assert run.window is not None and run.window.duration == timedelta(minutes=10)
    # SQLite hands times back naive: they are UTC.
    naive = graded_run(submission(submitted_at=T0.replace(tzinfo=None)))
    assert naive.submitted_at == T0 and naive.window is None
    with pytest.raises(ValueError, match="submission 12 is not graded"):
        graded_run(submission(score=None))


def test_leaderboard_store_follows_the_settings(tmp_path: Path) -> None:
    alone = make_settings(tmp_path, f"sqlite:///{tmp_path / 'a.db'}")
    assert isinstance(open_leaderboard(alone), InMemoryLeaderboard)
    shared = make_settings(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", redis_url=REDIS_URL)
    assert isinstance(open_leaderboard(shared), RedisLeaderboard)


# A second server process: opens the app on the same settings (database, Redis), records one
# graded submission and delivers what comes out through its own room hub and the Redis bus.
SECOND_PROCESS = """
import asyncio, json, sys
from datetime import datetime, timedelta
from server.app import create_app
from server.gamification.game import GradedRun
from rooms.xp import LiveWindow
from server.settings import Settings

async def main(args):
    app = create_app(Settings.from_env())
    async with app.router.lifespan_context(app):
        state = app.state.classroom
        now = datetime.fromisoformat(args["at"])
        run = GradedRun(args["user"], args["classroom"], args["room"], "fizzbuzz", 8.0, 10.0, True,
                        now, LiveWindow(now, timedelta(minutes=10)))
        out = await state.gamification.record(run)
        await state.hub.publish_all(args["room"], out)
        print(json.dumps([m for _, m in out]))

asyncio.run(main(json.loads(sys.argv[1])))
"""


async def run_second_process(settings: Settings, args: dict[str, object]) -> list[dict[str, Any]]:
    env = {
        **os.environ,
        "CLASSROOM_DATABASE_URL": settings.database_url,
        "CLASSROOM_REDIS_URL": settings.redis_url or "",
        "CLASSROOM_REDIS_PREFIX": settings.redis_prefix,
        "CLASSROOM_SECRET_KEY": settings.secret_key,
        "CLASSROOM_DATA_DIR": str(settings.data_dir),
        "CLASSROOM_SANDBOX": "local",
        "CLASSROOM_POOL_SIZE": "0",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SECOND_PROCESS,
        json.dumps(args),
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    messages: list[dict[str, Any]] = json.loads(stdout.decode().strip().splitlines()[-1])
    return messages


async def test_award_in_one_process_reaches_sockets_of_another(
    server: LiveServer, live_lesson: Lesson
) -> None:
    room_id, alice_id = live_lesson.room_id, live_lesson.alice.id
    classroom_id = live_lesson.classroom["id"]
    ws = server.ws_url
    async with (
        await EventClient.open(ws, room_id, live_lesson.alice.token) as alice,
        await EventClient.open(ws, room_id, live_lesson.bob.token) as bob,
    ):
        snapshot = await alice.expect("room.snapshot")
        assert snapshot["leaderboard"]["room"] == {
            "board": "room",
            "room_id": room_id,
            "entries": [],
        }
        assert snapshot["leaderboard"]["weekly"]["classroom_id"] == classroom_id
        await bob.expect("room.snapshot")

        args = {
            "user": alice_id,
            "classroom": classroom_id,
            "room": room_id,
            "at": datetime.now(UTC).isoformat(),
        }
        sent = await run_second_process(server.settings, args)
        assert [m["type"] for m in sent][:1] == ["xp.awarded"]

        xp = await alice.expect("xp.awarded")
        assert xp["user_id"] == alice_id and xp["amount"] == xp["total"] > 100
        unlocked = await bob.expect("achievement.unlocked", user_id=alice_id)
        assert unlocked["name"] == "Alice"
        board = await bob.expect("leaderboard.update", board="room")
        assert [(e["name"], e["rank"], e["points"]) for e in board["entries"]] == [
            ("Alice", 1, xp["amount"])
        ]
        await bob.expect("leaderboard.update", board="weekly")
        # xp.awarded went to Alice alone; it was sent before the boards, which Bob has.
        assert [e for e in bob.seen if e["type"] == "xp.awarded"] == []

    # A newcomer's snapshot, served by this process, reads the board the other one wrote.
    async with await EventClient.open(ws, room_id, live_lesson.teacher.token) as teacher:
        snapshot = await teacher.expect("room.snapshot")
        entries = snapshot["leaderboard"]["room"]["entries"]
        assert [(e["user_id"], e["points"]) for e in entries] == [(alice_id, xp["amount"])]


CUSTOM = """
[[achievement]]
id = "marathon"
name = "Marathon"
description = "Thirty passes."
conditions = [{ type = "milestone", metric = "passes", value = 30 }]
dependencies = ["ten-passes"]
"""


def test_custom_achievements_file_extends_the_builtin_catalog(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    path = tmp_path / "achievements.toml"
    path.write_text(CUSTOM)
    merged = catalog(make_settings(tmp_path, db, achievements_file=str(path)))
    assert "marathon" in merged and "first-pass" in merged
    assert len(merged) == len(catalog(make_settings(tmp_path, db))) + 1

    path.write_text(CUSTOM.replace("value = 30", 'value = "lots"'))
    with pytest.raises(ConfigurationError) as bad:
        catalog(make_settings(tmp_path, db, achievements_file=str(path)))
    assert "CLASSROOM_ACHIEVEMENTS_FILE" in str(bad.value)
    assert "achievement[0] 'marathon'.conditions[0].value: must be a number" in str(bad.value)

    path.write_text(CUSTOM.replace('id = "marathon"', 'id = "first-pass"'))
    with pytest.raises(ConfigurationError, match="'first-pass' is declared twice"):
        catalog(make_settings(tmp_path, db, achievements_file=str(path)))
    with pytest.raises(ConfigurationError, match="No such file"):
        catalog(make_settings(tmp_path, db, achievements_file=str(tmp_path / "missing.toml")))
