"""server/gamification.py on a real database (SQLite and PostgreSQL): a graded submission's
progress, XP, streak, achievements and leaderboard messages."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from redis import Redis as SyncRedis
from sqlmodel import select

from rooms.achievement_files import loads
from rooms.achievements import Activity, Catalog
from rooms.events import ROOM_AUDIENCE, Audience, Outgoing, only
from rooms.leaderboard import BoardId
from rooms.xp import LiveWindow, Reason, XpRules
from server.gamification import ledger
from server.gamification.game import Gamification, GradedRun, PointsAward
from server.gamification.leaderboard import InMemoryLeaderboard, RedisLeaderboard
from server.models import AchievementUnlock, Membership, Progress, Streak, User, XpEvent
from server.models.clock import as_utc
from server.store import Store, migrate
from tests.services import REDIS_URL, require
from tests.support.rows import classroom_with_room

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # a Thursday
WINDOW = LiveWindow(T0, timedelta(minutes=10))
# Only what a test names: exact XP sums stay readable.
CATALOG = Catalog(
    loads(
        """
[[achievement]]
id = "first-pass"
name = "It Works!"
description = "Pass an exercise."
xp_reward = 20
conditions = [{ type = "event", event = "first_pass" }]

[[achievement]]
id = "fastest"
name = "Fastest Fingers"
description = "First solver of a live exercise."
xp_reward = 50
dependencies = ["first-pass"]
conditions = [{ type = "event", event = "fastest_solver" }]

[[achievement]]
id = "streak-3"
name = "Warming Up"
description = "Three days in a row."
conditions = [{ type = "streak", value = 3 }]

[[achievement]]
id = "two-in-a-week"
name = "Busy"
description = "Two passes within seven days."
conditions = [{ type = "metric", metric = "passes", value = 2, timeframe = "7d" }]
"""
    )
)


@dataclass
class World:
    store: Store
    game: Gamification
    board: InMemoryLeaderboard
    classroom_id: int
    room_id: int
    alice: int
    bob: int

    def run(self, user: int, score: float, at: datetime, **kw: Any) -> GradedRun:
        fields: dict[str, Any] = {
            "user_id": user,
            "classroom_id": self.classroom_id,
            "room_id": self.room_id,
            "exercise_id": "fizzbuzz",
            "score": score,
            "max_score": 10.0,
            "passed": score >= 5,
            "submitted_at": at,
        }
        fields.update(kw)
        return GradedRun(**fields)


async def seed(store: Store) -> tuple[int, int, int, int]:
    people = (User(name="Ada"), User(name="Alice"), User(name="Bob"))
    seeded = await classroom_with_room(store, *people, join_code="ABC123")
    _, alice, bob = seeded.user_ids
    async with store.session() as s:  # a board rebuilt from the ledger counts members only
        s.add_all(Membership(classroom_id=seeded.classroom_id, user_id=u) for u in (alice, bob))
    return seeded.classroom_id, seeded.room_id, alice, bob


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    await asyncio.to_thread(migrate, database_url)
    store = Store(database_url)
    board = InMemoryLeaderboard()
    classroom_id, room_id, alice, bob = await seed(store)
    game = Gamification(store, board, catalog=CATALOG, rules=XpRules())
    yield World(store, game, board, classroom_id, room_id, alice, bob)
    await store.close()


def of_type(out: list[Outgoing], kind: str) -> list[tuple[Audience, dict[str, Any]]]:
    return [(to, m) for to, m in out if m["type"] == kind]


async def test_failed_attempt_records_progress_and_earns_nothing(world: World) -> None:
    out = await world.game.record(world.run(world.alice, 3, T0 + timedelta(minutes=1)))
    assert out == []
    async with world.store.session() as s:
        p = (await s.exec(select(Progress))).one()
        assert (p.attempts, p.best_score, p.passed, p.first_pass_at) == (1, 3.0, False, None)
        streak = (await s.exec(select(Streak))).one()
        assert (streak.current, streak.last_day) == (1, T0.date())
        assert (await s.exec(select(XpEvent))).all() == []


async def test_live_first_pass_speed_rank_achievement_chain_and_leaderboard(world: World) -> None:
    at = T0 + timedelta(minutes=2)  # t/T = 0.2: 100 * (1 - 0.1) = 90
    out = await world.game.record(world.run(world.alice, 8, at, window=WINDOW))

    [(to, xp)] = of_type(out, "xp.awarded")
    assert to == only(world.alice)
    reasons = [(a["reason"], a["amount"]) for a in xp["awards"]]
    assert reasons == [("first_pass", 90), ("rank", 50), ("achievement", 20), ("achievement", 50)]
    assert xp["amount"] == xp["total"] == 210

    unlocked = of_type(out, "achievement.unlocked")
    assert [(to, m["achievement"]["id"]) for to, m in unlocked] == [
        (ROOM_AUDIENCE, "first-pass"),
        (ROOM_AUDIENCE, "fastest"),
    ]
    assert {m["user_id"] for _, m in unlocked} == {world.alice}
    assert unlocked[0][1]["name"] == "Alice"

    updates = of_type(out, "leaderboard.update")
    assert [(to, m["board"]) for to, m in updates] == [
        (ROOM_AUDIENCE, "room"),
        (ROOM_AUDIENCE, "weekly"),
    ]
    room = updates[0][1]
    assert room["entries"] == [
        {"rank": 1, "user_id": world.alice, "points": 210, "delta": None, "name": "Alice"}
    ]
    assert updates[1][1]["week"] == "2026-W48"

    async with world.store.session() as s:
        p = (await s.exec(select(Progress))).one()
        assert (p.passed, p.live_rank) == (True, 1)
        assert {u.achievement_id for u in (await s.exec(select(AchievementUnlock))).all()} == {
            "first-pass",
            "fastest",
        }


async def test_second_solver_overtakes_and_deltas_are_reported(world: World) -> None:
    await world.game.record(world.run(world.bob, 3, T0 + timedelta(minutes=1), window=WINDOW))
    first = T0 + timedelta(minutes=4)  # 80 + rank 50 + 20 + 50 = 200
    await world.game.record(world.run(world.alice, 6, first, window=WINDOW))
    second = T0 + timedelta(minutes=5)  # 75 + rank 30 + 20 + perfect 25 = 150
    out = await world.game.record(world.run(world.bob, 10, second, window=WINDOW))
    [(_, xp)] = of_type(out, "xp.awarded")
    assert [(a["reason"], a["amount"]) for a in xp["awards"]] == [
        ("first_pass", 75),
        ("rank", 30),
        ("perfect", 25),
        ("achievement", 20),
    ]
    room = of_type(out, "leaderboard.update")[0][1]
    assert [(e["user_id"], e["points"], e["rank"]) for e in room["entries"]] == [
        (world.alice, 200, 1),
        (world.bob, 150, 2),
    ]
    assert room["moved"]["previous_rank"] is None

    # Bob's perfect passes on a second exercise push him ahead: Alice drops one place.
    third = T0 + timedelta(minutes=6)
    out = await world.game.record(world.run(world.bob, 10, third, exercise_id="primes"))
    room = of_type(out, "leaderboard.update")[0][1]
    assert [(e["user_id"], e["delta"]) for e in room["entries"]] == [
        (world.bob, 1),
        (world.alice, -1),
    ]
    assert room["moved"] == {
        "user_id": world.bob,
        "points": 150 + 100 + 25,
        "rank": 1,
        "previous_rank": 2,
        "delta": 1,
    }
    assert any(
        m["achievement"]["id"] == "two-in-a-week" for _, m in of_type(out, "achievement.unlocked")
    )


async def test_repeated_pass_earns_nothing_more(world: World) -> None:
    await world.game.record(world.run(world.alice, 8, T0))
    out = await world.game.record(world.run(world.alice, 8, T0 + timedelta(minutes=1)))
    assert out == []
    async with world.store.session() as s:
        p = (await s.exec(select(Progress))).one()
        assert p.attempts == 2


async def test_streak_in_classroom_timezone_unlocks_and_earns_bonus(world: World) -> None:
    # Tokyo mornings of the 24th, 25th and 26th; in UTC: the 23rd, then twice the 25th.
    instants = [
        datetime(2026, 11, 23, 23, 30, tzinfo=UTC),
        datetime(2026, 11, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 11, 25, 23, 30, tzinfo=UTC),
    ]
    outs = []
    for i, at in enumerate(instants):
        run = world.run(world.alice, 1, at, exercise_id=f"ex{i}")
        outs.append(await world.game.record(run, timezone="Asia/Tokyo"))
        # The same instants for Bob, in a UTC classroom: no three-day streak.
        await world.game.record(world.run(world.bob, 1, at, exercise_id=f"ex{i}"))
    assert outs[0] == []
    [(_, second)] = of_type(outs[1], "xp.awarded")
    assert second["streak"] == 2
    assert second["awards"] == [{"reason": "streak", "amount": 10, "detail": "2-day streak"}]
    [(_, third)] = of_type(outs[2], "xp.awarded")
    assert third["amount"] == 20
    unlocked = of_type(outs[2], "achievement.unlocked")
    assert [(to, m["user_id"], m["achievement"]["id"]) for to, m in unlocked] == [
        (ROOM_AUDIENCE, world.alice, "streak-3")
    ]
    async with world.store.session() as s:
        rows = {r.user_id: r for r in (await s.exec(select(Streak))).all()}
        assert (rows[world.alice].current, rows[world.bob].current) == (3, 1)
        bob_unlocks = await s.exec(
            select(AchievementUnlock).where(AchievementUnlock.user_id == world.bob)
        )
        assert bob_unlocks.all() == []
    # A missed Tokyo day breaks it and earns nothing.
    late = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    out = await world.game.record(
        world.run(world.alice, 1, late, exercise_id="x"), timezone="Asia/Tokyo"
    )
    assert of_type(out, "xp.awarded") == []
    async with world.store.session() as s:
        streak = (await s.exec(select(Streak).where(Streak.user_id == world.alice))).one()
        assert (streak.current, streak.longest) == (1, 3)


async def test_invalid_events_are_refused_before_anything_is_written(world: World) -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        await world.game.record(world.run(world.alice, -1, T0))
    with pytest.raises(ValueError, match="timezone-aware"):
        await world.game.record(world.run(world.alice, 1, T0.replace(tzinfo=None)))
    with pytest.raises(ValueError, match="unknown timezone"):
        await world.game.record(world.run(world.alice, 1, T0), timezone="Nowhere/Land")
    async with world.store.session() as s:
        assert (await s.exec(select(Progress))).all() == []


async def test_concurrent_submissions_lose_nothing(world: World) -> None:
    runs = [
        world.run(u, 8, T0 + timedelta(seconds=i), exercise_id=f"e{i % 3}")
        for i, u in enumerate([world.alice, world.bob] * 4)
    ]
    await asyncio.gather(*(world.game.record(r) for r in runs))
    async with world.store.session() as s:
        rows = (await s.exec(select(Progress))).all()
        assert sum(p.attempts for p in rows) == 8
        assert len(rows) == 6  # each student met each of e0, e1, e2


async def test_rebuild_restores_boards_from_the_ledger(world: World) -> None:
    await world.game.record(world.run(world.alice, 8, T0 + timedelta(minutes=1), window=WINDOW))
    await world.game.record(world.run(world.bob, 8, T0 + timedelta(minutes=3), window=WINDOW))
    room, weekly = BoardId.room(world.room_id), BoardId.weekly(world.classroom_id, T0)
    live_room, live_weekly = await world.board.top(room), await world.board.top(weekly)
    await world.board.clear(room)
    await world.board.clear(weekly)
    await world.game.rebuild(room)
    await world.game.rebuild(weekly)
    assert await world.board.top(room) == live_room
    assert await world.board.top(weekly) == live_weekly
    snapshot = await world.game.standings(room)
    assert snapshot["board"] == "room"
    assert [(e["name"], e["rank"]) for e in snapshot["entries"]] == [("Alice", 1), ("Bob", 2)]


async def test_a_place_once_given_never_moves(world: World) -> None:
    """Bob submitted a moment after Alice but his pass was graded first: he was announced
    as the fastest, and Alice's pass, placed after, is second, not a second "fastest"."""
    at = T0 + timedelta(minutes=1)
    bob = await world.game.record(world.run(world.bob, 8, at + timedelta(seconds=2), window=WINDOW))
    alice = await world.game.record(world.run(world.alice, 8, at, window=WINDOW))
    unlocked = of_type(bob + alice, "achievement.unlocked")
    assert [m["user_id"] for _, m in unlocked if m["achievement"]["id"] == "fastest"] == [world.bob]
    [(_, alice_xp)] = of_type(alice, "xp.awarded")
    assert ("rank", 30) in [(a["reason"], a["amount"]) for a in alice_xp["awards"]]
    async with world.store.session() as s:
        ranks = {p.user_id: p.live_rank for p in (await s.exec(select(Progress))).all()}
    assert ranks == {world.bob: 1, world.alice: 2}


async def test_two_processes_on_redis_agree_on_the_fastest_solver(world: World) -> None:
    """Two Gamification objects (two server processes) on one database and one Redis: Alice
    and Bob pass the live exercise at the same moment through different processes; exactly
    one of them is the fastest solver (whichever pass is placed first: a place is never given
    twice), and both processes read the same boards."""
    require("redis")
    prefix = f"test:gam:{uuid.uuid4().hex}:"
    first = RedisLeaderboard.from_url(REDIS_URL, prefix=prefix)
    second = RedisLeaderboard.from_url(REDIS_URL, prefix=prefix)
    try:
        a = Gamification(world.store, first, catalog=CATALOG)
        b = Gamification(world.store, second, catalog=CATALOG)
        at = T0 + timedelta(minutes=1)
        out_a, out_b = await asyncio.gather(
            a.record(world.run(world.alice, 8, at, window=WINDOW)),
            b.record(world.run(world.bob, 8, at + timedelta(milliseconds=5), window=WINDOW)),
        )
        fastest = [
            m["user_id"]
            for _, m in of_type(out_a + out_b, "achievement.unlocked")
            if m["achievement"]["id"] == "fastest"
        ]
        assert len(fastest) == 1
        [winner] = fastest
        other = world.bob if winner == world.alice else world.alice
        room = BoardId.room(world.room_id)
        assert await first.top(room) == await second.top(room)
        points = {e.user_id: e.points for e in await first.top(room)}
        # The fastest: 95 + rank 50 + 20 + 50; the other: 95 + rank 30 + 20.
        assert points == {winner: 215, other: 145}
        async with world.store.session() as s:
            ranks = {p.user_id: p.live_rank for p in (await s.exec(select(Progress))).all()}
        assert ranks == {winner: 1, other: 2}
    finally:
        await first.close()
        await second.close()
        with SyncRedis.from_url(REDIS_URL) as client:
            keys = list(client.scan_iter(match=prefix + "*"))
            assert keys  # boards and the solver order were written under the prefix
            client.delete(*keys)


async def test_leaderboard_outage_loses_no_xp_and_rebuild_restores(world: World) -> None:
    """Redis unreachable (nothing listens on 127.0.0.1:1): the ledger, progress and
    achievements are still written and announced, the solver order falls back to the ledger,
    and once a board is back, rebuild() fills it from the ledger."""
    down = RedisLeaderboard.from_url("redis://127.0.0.1:1/0")
    game = Gamification(world.store, down, catalog=CATALOG)
    try:
        out_a = await game.record(
            world.run(world.alice, 8, T0 + timedelta(minutes=1), window=WINDOW)
        )
        out_b = await game.record(world.run(world.bob, 8, T0 + timedelta(minutes=2), window=WINDOW))
    finally:
        await game.close()
    assert of_type(out_a + out_b, "leaderboard.update") == []
    [(_, xp_a)] = of_type(out_a, "xp.awarded")
    [(_, xp_b)] = of_type(out_b, "xp.awarded")
    # Alice: 95 + rank 50 + 20 + 50 (fastest); Bob: 90 + rank 30 + 20.
    assert (xp_a["amount"], xp_b["amount"]) == (215, 140)
    assert [m["achievement"]["id"] for _, m in of_type(out_a, "achievement.unlocked")] == [
        "first-pass",
        "fastest",
    ]
    room = BoardId.room(world.room_id)
    await world.game.rebuild(room)
    assert [(e.user_id, e.points) for e in await world.board.top(room)] == [
        (world.alice, 215),
        (world.bob, 140),
    ]


async def test_award_outside_a_submission_goes_to_ledger_and_boards(world: World) -> None:
    grant = PointsAward(world.alice, world.classroom_id, world.room_id, 40, "quiz", "quiz q1", T0)
    out = await world.game.award(grant)
    [(to, xp)] = of_type(out, "xp.awarded")
    assert to == only(world.alice)
    assert (xp["amount"], xp["total"], xp["awards"][0]["reason"]) == (40, 40, "quiz")
    boards = [m["board"] for _, m in of_type(out, "leaderboard.update")]
    assert boards == ["room", "weekly"]
    assert (
        await world.game.award(
            PointsAward(world.alice, world.classroom_id, None, 0, "quiz", "", T0)
        )
        == []
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        await world.game.award(
            PointsAward(
                world.alice, world.classroom_id, None, 5, "quiz", "", T0.replace(tzinfo=None)
            )
        )
    async with world.store.session() as s:
        rows = (await s.exec(select(XpEvent))).all()
        assert [(r.reason, r.amount) for r in rows] == [("quiz", 40)]


async def test_the_standing_updated_in_memory_is_what_the_ledger_reads_back(world: World) -> None:
    """Achievements decide from a standing read before a submission writes, updated in memory
    with what it writes (server/gamification/ledger.py): that must be the standing read back
    from the committed ledger, less the achievement rewards decided from it."""
    span = timedelta(days=7)
    runs = [
        world.run(world.alice, 3, T0 + timedelta(minutes=1), window=WINDOW),
        world.run(world.alice, 10, T0 + timedelta(minutes=2), window=WINDOW),
        world.run(world.alice, 7, T0 + timedelta(minutes=3), exercise_id="primes"),
        world.run(world.alice, 10, T0 + timedelta(days=1), exercise_id="primes"),
    ]
    unlocks = 0
    for run in runs:
        at = run.submitted_at
        standing = partial(ledger.standing, user_id=world.alice, at=at, span=span)
        before = await world.store.threaded.read(standing)
        out = await world.game.record(run)
        async with world.store.session() as s:
            row = (
                await s.exec(
                    select(Progress).where(
                        Progress.user_id == world.alice, Progress.exercise_id == run.exercise_id
                    )
                )
            ).one()
            mine = select(XpEvent).where(XpEvent.user_id == world.alice, XpEvent.created_at >= at)
            xp = (await s.exec(mine)).all()
        after = await world.store.threaded.read(standing)
        awards = [e for e in xp if e.reason != Reason.ACHIEVEMENT]
        rewards = [e for e in xp if e.reason == Reason.ACHIEVEMENT]
        expected = before.after(world.classroom_id, row, awards)
        assert expected.rows == after.rows
        assert expected.xp == before.xp + sum(e.amount for e in awards)
        assert after.xp == expected.xp + sum(e.amount for e in rewards)
        [message] = [m for _, m in of_type(out, "xp.awarded")] or [{"total": before.xp}]
        assert message["total"] == after.xp
        unlocks += len(of_type(out, "achievement.unlocked"))
        assert expected.metrics(unlocks) | {"xp": 0.0} == after.metrics(unlocks) | {"xp": 0.0}
        reward_activity = [Activity("xp", as_utc(e.created_at), float(e.amount)) for e in rewards]
        read_back = list(after.history(at, span))
        for activity in reward_activity:
            read_back.remove(activity)
        assert sorted(expected.history(at, span), key=repr) == sorted(read_back, key=repr)
    assert after.metrics(unlocks)["passes"] == 2.0
    assert after.metrics(unlocks)["perfect_scores"] == 2.0
