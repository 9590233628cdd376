"""The lesson state: events, what late joiners see, the lock, and the stored form."""

from __future__ import annotations

import pytest

from rooms.events import ROOM_AUDIENCE, STAFF_AUDIENCE, only
from rooms.lesson import LessonState, Spotlight
from rooms.pairing import Pair


def test_late_joiners_see_the_current_spotlight_freeze_announcement_and_countdown() -> None:
    state = LessonState()
    state.set_spotlight(Spotlight(7, "students/7/main.py", "Alice"))
    state.freeze("quiz time", now=100.0)
    state.announce("  Pens down  ", now=101.0)
    state.start_countdown(60, now=102.0)
    view = LessonState.from_dict(state.to_dict()).view(now=112.0, staff=False)
    assert view["spotlight"] == {
        "user_id": 7,
        "name": "Alice",
        "doc": "students/7/main.py",
        "show_name": True,
    }
    assert view["freeze"] == {"reason": "quiz time", "since": 100.0}
    assert view["announcement"] == {"text": "Pens down", "at": 101.0}
    assert view["countdown"] == {"seconds": 60, "ends_at": 162.0, "seconds_left": 50}
    assert state.view(now=170.0, staff=False)["countdown"] is None
    assert state.lock().frozen


def test_an_anonymous_spotlight_hides_the_name_from_students_only() -> None:
    state = LessonState()
    out = state.set_spotlight(Spotlight(7, "students/7/main.py", "Alice", show_name=False))
    (everyone, anon), (staff, full) = out
    assert everyone == ROOM_AUDIENCE and anon["spotlight"]["name"] is None
    assert anon["spotlight"]["user_id"] is None
    assert staff.staff and 7 in staff.users and full["spotlight"]["name"] == "Alice"
    assert state.view(0, staff=False)["spotlight"]["name"] is None
    assert state.view(0, staff=True)["spotlight"]["name"] == "Alice"


def test_empty_text_and_zero_seconds_end_announcement_and_countdown() -> None:
    state = LessonState()
    state.announce("hi", 1.0)
    state.start_countdown(30, 1.0)
    assert state.announce("", 2.0) == [
        (ROOM_AUDIENCE, {"type": "lesson.announcement", "text": None, "at": 2.0})
    ]
    state.start_countdown(0, 2.0)
    assert state.announcement is None and state.countdown is None
    with pytest.raises(ValueError, match="countdown"):
        state.start_countdown(-1, 2.0)
    with pytest.raises(ValueError, match="announcement"):
        state.announce("x" * 501, 2.0)


def test_pairs_each_hear_their_own_group_and_the_staff_hear_all() -> None:
    state = LessonState()
    pairs = [Pair("r1g1", (1, 2), 1), Pair("r1g2", (3, 4, 5), 4)]
    out = state.set_pairs(pairs, now=0.0, rotate_every=300)
    assert out[0][0] == STAFF_AUDIENCE and len(out[0][1]["groups"]) == 2
    assert out[1] == (
        only(1, 2),
        {
            "type": "pairs.yours",
            "round": 1,
            "group": "r1g1",
            "members": [1, 2],
            "driver": 1,
            "rotate_in": 300,
        },
    )
    assert dict(state.lock().drivers) == {"r1g1": 1, "r1g2": 4}
    assert not state.rotation_due(299.0) and state.rotation_due(300.0)
    state.rotate(300.0)
    assert dict(state.lock().drivers) == {"r1g1": 2, "r1g2": 5}
    assert not state.rotation_due(301.0)
    assert LessonState.from_dict(state.to_dict()) == state
