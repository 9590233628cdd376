from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    iso_week,
    ranked,
    update_message,
    week_end,
)

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
points = st.integers(min_value=-MAX_POINTS, max_value=MAX_POINTS)
seconds = st.integers(min_value=0, max_value=(1 << 31) - 1)


@given(points, seconds)
def test_encode_round_trips(p: int, s: int) -> None:
    at = EPOCH + timedelta(seconds=s)
    assert decode(encode(p, at)) == (p, at)


@given(points, seconds, points, seconds)
def test_a_higher_score_means_more_points_or_same_points_earlier(
    p1: int, s1: int, p2: int, s2: int
) -> None:
    a, b = encode(p1, EPOCH + timedelta(seconds=s1)), encode(p2, EPOCH + timedelta(seconds=s2))
    assert (a > b) == ((p1, -s1) > (p2, -s2))


def test_encode_refuses_out_of_range() -> None:
    with pytest.raises(ValueError, match="points"):
        encode(MAX_POINTS + 1, T0)
    with pytest.raises(ValueError, match="time"):
        encode(1, EPOCH - timedelta(seconds=1))


def test_ranked_points_then_earlier_time_with_shared_ranks() -> None:
    rows = ranked(
        [
            Standing(1, 100, T0 + timedelta(seconds=30)),
            Standing(2, 100, T0 + timedelta(seconds=10)),
            Standing(3, 150, T0 + timedelta(seconds=50)),
            Standing(4, 100, T0 + timedelta(seconds=30)),
            Standing(5, 20, T0),
        ]
    )
    assert [(e.rank, e.user_id) for e in rows] == [(1, 3), (2, 2), (3, 1), (3, 4), (5, 5)]


def test_iso_week_in_the_classroom_timezone() -> None:
    sunday_night_utc = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)
    assert iso_week(sunday_night_utc) == "2026-W48"
    assert iso_week(sunday_night_utc, "Asia/Tokyo") == "2026-W49"  # already Monday there
    assert iso_week(datetime(2027, 1, 1, 12, tzinfo=UTC)) == "2026-W53"


def test_week_end_is_next_monday_local_midnight() -> None:
    assert week_end("2026-W48") == datetime(2026, 11, 30, tzinfo=UTC)
    end = week_end("2026-W48", "Asia/Tokyo")
    assert end.astimezone(UTC) == datetime(2026, 11, 29, 15, 0, tzinfo=UTC)


def test_board_keys_and_description() -> None:
    room = BoardId.room(7)
    weekly = BoardId.weekly(3, T0)
    assert (room.key, room.scope) == ("room:7", Scope.ROOM)
    assert weekly.key == "weekly:3:2026-W48"
    assert weekly.describe() == {"board": "weekly", "classroom_id": 3, "week": "2026-W48"}


def test_update_message_carries_deltas() -> None:
    before = [Entry(1, 10, 100, T0), Entry(2, 11, 90, T0)]
    after = [Entry(1, 11, 140, T0), Entry(2, 10, 100, T0), Entry(3, 12, 5, T0)]
    move = Move(11, 140, 1, 2)
    msg = update_message(BoardId.room(7), after, move, before, names={10: "Ada", 11: "Bo"})
    assert msg["type"] == "leaderboard.update"
    assert msg["room_id"] == 7 and msg["board"] == "room"
    assert msg["entries"] == [
        {"rank": 1, "user_id": 11, "points": 140, "delta": 1, "name": "Bo"},
        {"rank": 2, "user_id": 10, "points": 100, "delta": -1, "name": "Ada"},
        {"rank": 3, "user_id": 12, "points": 5, "delta": None, "name": ""},
    ]
    assert msg["moved"] == {"user_id": 11, "points": 140, "rank": 1, "previous_rank": 2, "delta": 1}
    assert Move(1, 5, 3, None).delta is None


@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 50)), max_size=20))
def test_ranked_agrees_with_the_encoded_order(rows: list[tuple[int, int]]) -> None:
    standings = [Standing(i, p, T0 + timedelta(seconds=s)) for i, (p, s) in enumerate(rows)]
    entries = ranked(standings)
    scores = {s.user_id: encode(s.points, s.reached_at) for s in standings}
    for e in entries:
        # a rank is 1 + the number of strictly higher scores, as Redis ZCOUNT computes it
        assert e.rank == 1 + sum(1 for v in scores.values() if v > scores[e.user_id])
