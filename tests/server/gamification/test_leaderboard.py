"""The leaderboard stores: the same contract in memory and in Redis, and two Redis-backed
"processes" (two clients, two store objects) that must agree."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from rooms.leaderboard import MAX_POINTS, BoardId, Move
from server.gamification.leaderboard import (
    InMemoryLeaderboard,
    LeaderboardStore,
    RedisLeaderboard,
    expiry,
)
from tests.services import REDIS_URL, missing, require

# Thursday 09:00 UTC of the current week, not a fixed day: Redis expires a weekly board on its
# own clock (EXPIREAT), which no test can fake, so a board of a week long past would be gone
# (the weekly key of a fixed November 2026 week expired in December 2026).
_TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
MONDAY = _TODAY - timedelta(days=_TODAY.weekday())
T0 = MONDAY + timedelta(days=3, hours=9)
WEEK_END = MONDAY + timedelta(weeks=1)  # the Monday after T0: its week's end (UTC)
ROOM = BoardId.room(7)


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    name = f"test:lb:{uuid.uuid4().hex}:"
    yield name
    if missing("redis") is None:
        with SyncRedis.from_url(REDIS_URL) as client:
            keys = list(client.scan_iter(match=name + "*"))
            if keys:
                client.delete(*keys)


def redis_store(prefix: str, **kwargs: Any) -> RedisLeaderboard:
    require("redis")
    return RedisLeaderboard.from_url(REDIS_URL, prefix=prefix, **kwargs)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[LeaderboardStore]:
    lb: LeaderboardStore = (
        InMemoryLeaderboard() if request.param == "memory" else redis_store(prefix)
    )
    yield lb
    await lb.close()


async def test_points_accumulate_and_moves_report_previous_rank(store: LeaderboardStore) -> None:
    assert await store.add(ROOM, 1, 100, T0) == Move(1, 100, 1, None)
    assert await store.add(ROOM, 2, 90, T0) == Move(2, 90, 2, None)
    assert await store.add(ROOM, 2, 20, T0 + timedelta(seconds=5)) == Move(2, 110, 1, 2)
    top = await store.top(ROOM)
    assert [(e.rank, e.user_id, e.points) for e in top] == [(1, 2, 110), (2, 1, 100)]
    assert top[0].reached_at == T0 + timedelta(seconds=5)
    entry = await store.entry(ROOM, 1)
    assert entry is not None and (entry.rank, entry.points) == (2, 100)
    assert await store.entry(ROOM, 99) is None


async def test_equal_points_earlier_wins_and_same_second_ties(store: LeaderboardStore) -> None:
    await store.add(ROOM, 1, 50, T0 + timedelta(seconds=30))
    await store.add(ROOM, 2, 50, T0 + timedelta(seconds=10))
    move = await store.add(ROOM, 3, 50, T0 + timedelta(seconds=10, milliseconds=400))
    assert move.rank == 1  # same second as user 2: a shared first place
    top = await store.top(ROOM)
    assert sorted((e.rank, e.user_id) for e in top) == [(1, 2), (1, 3), (3, 1)]
    assert [e.user_id for e in await store.top(ROOM, limit=2)] in ([2, 3], [3, 2])
    assert await store.top(ROOM, limit=0) == []


async def test_boards_are_separate_and_clear(store: LeaderboardStore) -> None:
    weekly = BoardId.weekly(3, T0)
    await store.add(ROOM, 1, 10, T0)
    await store.add(weekly, 1, 25, T0)
    assert [e.points for e in await store.top(weekly)] == [25]
    await store.clear(ROOM)
    assert await store.top(ROOM) == []
    assert [e.points for e in await store.top(weekly)] == [25]


async def test_solver_rank_is_first_come_and_idempotent(store: LeaderboardStore) -> None:
    assert await store.solver_rank(7, "fizzbuzz", 5) == 1
    assert await store.solver_rank(7, "fizzbuzz", 6) == 2
    assert await store.solver_rank(7, "fizzbuzz", 5) == 1
    assert await store.solver_rank(7, "fizzbuzz", 9) == 3
    assert await store.solver_rank(8, "fizzbuzz", 6) == 1  # another room
    assert await store.solver_rank(7, "primes", 6) == 1  # another exercise


async def test_points_out_of_range_are_refused(store: LeaderboardStore) -> None:
    await store.add(ROOM, 1, MAX_POINTS, T0)
    with pytest.raises((ValueError, ResponseError), match="out of the board"):
        await store.add(ROOM, 1, 1, T0)
    entry = await store.entry(ROOM, 1)
    assert entry is not None and entry.points == MAX_POINTS  # nothing lost


async def test_two_redis_processes_agree_under_concurrent_awards(prefix: str) -> None:
    a, b = redis_store(prefix), redis_store(prefix)
    try:
        awards = [
            (store, user, 1 + (i % 7))
            for i in range(200)
            for user, store in ((i % 5, a), ((i + 2) % 5, b))
        ]
        await asyncio.gather(*(s.add(ROOM, u, n, T0) for s, u, n in awards))
        expected: dict[int, int] = {}
        for _, user, n in awards:
            expected[user] = expected.get(user, 0) + n
        top_a, top_b = await a.top(ROOM), await b.top(ROOM)
        assert top_a == top_b
        assert {e.user_id: e.points for e in top_a} == expected
        # Ten students placed at once through two processes: each place goes to one of them.
        placed = [(u, a if u % 2 else b) for u in range(10)]
        ranks = await asyncio.gather(*(s.solver_rank(7, "x", u) for u, s in placed))
        assert sorted(ranks) == list(range(1, 11))
        assert await b.solver_rank(7, "x", 42) == 11
        assert await a.solver_rank(7, "x", 42) == 11
        again = await asyncio.gather(*(s.solver_rank(7, "x", u) for u, s in reversed(placed)))
        assert again == ranks[::-1]
    finally:
        await a.close()
        await b.close()


async def test_weekly_keys_expire_after_retention(prefix: str) -> None:
    lb = redis_store(prefix, retention=timedelta(weeks=2))
    client: Any = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        weekly = BoardId.weekly(3, T0)
        await lb.add(weekly, 1, 10, T0)
        await lb.add(ROOM, 1, 10, T0)
        expire_at = await client.expiretime(prefix + weekly.key)
        want = expiry(weekly, timedelta(weeks=2))
        assert want is not None
        assert expire_at == int(want.timestamp())
        assert want == WEEK_END + timedelta(weeks=2, days=1)
        assert await client.ttl(prefix + ROOM.key) == -1  # room boards do not expire
    finally:
        await lb.close()
        await client.aclose()


async def test_memory_weekly_board_expires_by_the_injected_clock() -> None:
    now = [T0]
    lb = InMemoryLeaderboard(retention=timedelta(weeks=1), clock=lambda: now[0])
    weekly = BoardId.weekly(3, T0)
    await lb.add(weekly, 1, 10, T0)
    now[0] = WEEK_END + timedelta(weeks=1, days=1) - timedelta(seconds=1)
    assert len(await lb.top(weekly)) == 1
    now[0] += timedelta(seconds=1)
    assert await lb.top(weekly) == []
