"""Where leaderboards live: in this process, or in Redis sorted sets shared by every process.

Both keep one score per student per board, encoded by :func:`rooms.leaderboard.encode`
(points, then the earlier time of reaching them), so a sorted set orders a board by itself.
In Redis an award is one Lua script (read, add, re-encode, rank): two processes awarding at
once cannot lose an update or disagree on the order.

Besides boards, the store keeps the order in which students' first passes of a live exercise
in a room were placed (``solver_rank``), which is what "fastest solver" and the rank bonus
need. A place is handed out once and never moves: the first pass to be graded is first, and
one graded later is behind it even if it was submitted a moment earlier (its place was not
known yet when the other's was announced). Ordering by submission time instead let two
gradings racing in two processes each see itself first, and both students became "fastest".
In Redis the place is one Lua script (look up, else take the next place), so two processes
cannot hand out the same place; a counter in the database would race between them.

Weekly boards expire ``weekly_retention`` after their week ends; room boards stay.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from rooms.leaderboard import (
    EPOCH,
    MAX_POINTS,
    BoardId,
    Entry,
    Move,
    Scope,
    Standing,
    decode,
    encode,
    ranked,
    week_end,
)

DEFAULT_RETENTION = timedelta(weeks=8)
SOLVERS_TTL = timedelta(days=2)


class LeaderboardStore(Protocol):
    async def add(self, board: BoardId, user_id: int, amount: int, at: datetime) -> Move:
        """Add ``amount`` points reached at ``at``; the student's place before and after."""

    async def top(self, board: BoardId, limit: int = 10) -> list[Entry]: ...

    async def entry(self, board: BoardId, user_id: int) -> Entry | None: ...

    async def solver_rank(self, room_id: int, exercise_id: str, user_id: int) -> int:
        """1 for the first student whose pass of ``exercise_id`` in ``room_id`` is placed, 2
        for the next... Each place goes to one student; asking again returns the same one."""

    async def clear(self, board: BoardId) -> None: ...

    async def close(self) -> None: ...


def expiry(board: BoardId, retention: timedelta) -> datetime | None:
    if board.scope is Scope.ROOM or board.week is None:
        return None
    # A day of slack: the week ends at local midnight, which may be up to 14h after UTC's.
    return week_end(board.week) + retention + timedelta(days=1)


class InMemoryLeaderboard:
    """Boards of one process (the default without Redis). ``clock`` decides expiry."""

    def __init__(
        self,
        *,
        retention: timedelta = DEFAULT_RETENTION,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._boards: dict[str, dict[int, float]] = {}
        self._expires: dict[str, datetime] = {}
        self._solvers: dict[tuple[int, str], dict[int, int]] = {}
        self._retention = retention
        self._clock = clock

    def _board(self, board: BoardId) -> dict[int, float]:
        key = board.key
        expires = self._expires.get(key)
        if expires is not None and expires <= self._clock():
            self._boards.pop(key, None)
            del self._expires[key]
        return self._boards.setdefault(key, {})

    async def add(self, board: BoardId, user_id: int, amount: int, at: datetime) -> Move:
        scores = self._board(board)
        before = scores.get(user_id)
        previous_rank = None if before is None else _rank(scores.values(), before)
        points = (0 if before is None else decode(before)[0]) + amount
        scores[user_id] = encode(points, at)
        expires = expiry(board, self._retention)
        if expires is not None:
            self._expires[board.key] = expires
        return Move(user_id, points, _rank(scores.values(), scores[user_id]), previous_rank)

    async def top(self, board: BoardId, limit: int = 10) -> list[Entry]:
        scores = self._board(board)
        return ranked(_standing(u, s) for u, s in scores.items())[:limit]

    async def entry(self, board: BoardId, user_id: int) -> Entry | None:
        scores = self._board(board)
        score = scores.get(user_id)
        if score is None:
            return None
        points, reached = decode(score)
        return Entry(_rank(scores.values(), score), user_id, points, reached)

    async def solver_rank(self, room_id: int, exercise_id: str, user_id: int) -> int:
        solvers = self._solvers.setdefault((room_id, exercise_id), {})
        return solvers.setdefault(user_id, len(solvers) + 1)

    async def clear(self, board: BoardId) -> None:
        self._boards.pop(board.key, None)

    async def close(self) -> None:
        self._boards.clear()


def _rank(scores: Any, score: float) -> int:
    return 1 + sum(1 for s in scores if s > score)


def _standing(user_id: int, score: float) -> Standing:
    points, reached = decode(score)
    return Standing(user_id, points, reached)


# KEYS[1] board; ARGV: user, amount, seconds since epoch, expire-at (0: never), max points.
# Returns {points, rank, previous rank or -1}. Scores go back as "%.0f": they are integers
# below 2^53, and Lua's default number formatting would round them to 14 digits.
_ADD = """
local slots = 2147483648
local cur = redis.call('ZSCORE', KEYS[1], ARGV[1])
local points = 0
local previous = -1
if cur then
  points = math.floor(tonumber(cur) / slots)
  previous = redis.call('ZCOUNT', KEYS[1], '(' .. cur, '+inf') + 1
end
points = points + tonumber(ARGV[2])
if math.abs(points) > tonumber(ARGV[5]) then
  return redis.error_reply('points out of the board range')
end
local score = string.format('%.0f', points * slots + (slots - 1 - tonumber(ARGV[3])))
redis.call('ZADD', KEYS[1], score, ARGV[1])
if ARGV[4] ~= '0' then redis.call('EXPIREAT', KEYS[1], ARGV[4]) end
local rank = redis.call('ZCOUNT', KEYS[1], '(' .. score, '+inf') + 1
return {points, rank, previous}
"""

# KEYS[1] solvers of one exercise in one room, scored by place; ARGV: user, ttl seconds.
_SOLVE = """
local mine = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not mine then
  mine = redis.call('ZCARD', KEYS[1]) + 1
  redis.call('ZADD', KEYS[1], mine, ARGV[1])
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return tonumber(mine)
"""


class RedisLeaderboard:
    """Boards in Redis sorted sets under ``prefix``; every process sees the same order."""

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "classroom:lb:",
        retention: timedelta = DEFAULT_RETENTION,
        owns_client: bool = False,
    ) -> None:
        # ``client`` is a redis.asyncio.Redis made with decode_responses=True.
        self._redis = client
        self._prefix = prefix
        self._retention = retention
        self._owns = owns_client
        self._add = client.register_script(_ADD)
        self._solve = client.register_script(_SOLVE)

    @classmethod
    def from_url(cls, url: str, *, max_connections: int = 32, **kwargs: Any) -> RedisLeaderboard:
        """A store with its own client; a burst of awards waits for a connection (up to
        10 s) instead of failing."""
        from redis.asyncio import BlockingConnectionPool, Redis

        pool = BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=10, decode_responses=True
        )
        return cls(Redis.from_pool(pool), owns_client=True, **kwargs)

    def _key(self, board: BoardId) -> str:
        return self._prefix + board.key

    async def add(self, board: BoardId, user_id: int, amount: int, at: datetime) -> Move:
        seconds = int((at - EPOCH).total_seconds())
        encode(0, at)  # refuses a time outside the board's range before Redis sees it
        expires = expiry(board, self._retention)
        expire_at = 0 if expires is None else int(expires.timestamp())
        args = [user_id, amount, seconds, expire_at, MAX_POINTS]
        points, rank, previous = await self._add(keys=[self._key(board)], args=args)
        return Move(user_id, int(points), int(rank), None if int(previous) < 0 else int(previous))

    async def top(self, board: BoardId, limit: int = 10) -> list[Entry]:
        if limit <= 0:
            return []
        rows = await self._redis.zrevrange(self._key(board), 0, limit - 1, withscores=True)
        return ranked(_standing(int(member), float(score)) for member, score in rows)

    async def entry(self, board: BoardId, user_id: int) -> Entry | None:
        key = self._key(board)
        score = await self._redis.zscore(key, str(user_id))
        if score is None:
            return None
        higher = await self._redis.zcount(key, f"({_exact(score)}", "+inf")
        points, reached = decode(float(score))
        return Entry(int(higher) + 1, user_id, points, reached)

    async def solver_rank(self, room_id: int, exercise_id: str, user_id: int) -> int:
        # Not the "solvers:" sets of before (scored by time): processes of both versions
        # during a rolling restart each keep their own order rather than misread the other.
        key = f"{self._prefix}places:{room_id}:{exercise_id}"
        ttl = int(SOLVERS_TTL.total_seconds())
        return int(await self._solve(keys=[key], args=[user_id, ttl]))

    async def clear(self, board: BoardId) -> None:
        await self._redis.delete(self._key(board))

    async def close(self) -> None:
        if self._owns:
            await self._redis.aclose()


def _exact(score: float) -> str:
    return f"{float(score):.0f}"
