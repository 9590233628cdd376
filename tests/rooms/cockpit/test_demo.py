"""Followers per step, replayed from a demo's timeline."""

from __future__ import annotations

from rooms.cockpit.demo import followers_per_step
from rooms.demos.timeline import TimelineKind as K
from rooms.demos.timeline import TimelineRecord as R


def test_followers_per_step_counts_who_was_following_while_the_room_was_there() -> None:
    records = [
        R(K.STARTED, 0, 0.0),
        R(K.JOINED, None, 1.0, user_id=1),
        R(K.JOINED, None, 1.0, user_id=2),
        R(K.STEP, 1, 2.0),
        R(K.DETACHED, 1, 3.0, user_id=2),  # 2 followed step 1 before detaching
        R(K.STEP, 2, 4.0),
        R(K.JOINED, None, 5.0, user_id=3),  # a latecomer follows step 2
        R(K.FOLLOWED, 2, 6.0, user_id=2),  # 2 comes back on step 2
        R(K.LEFT, None, 6.5, user_id=1),
        R(K.STEP, 3, 7.0),
        R(K.STOPPED, None, 8.0),
        R(K.JOINED, None, 9.0, user_id=4),  # after the stop: no step to follow
    ]
    assert followers_per_step(records) == {0: {1, 2}, 1: {1, 2}, 2: {1, 2, 3}, 3: {2, 3}}
    assert followers_per_step([]) == {}
