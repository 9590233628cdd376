from __future__ import annotations

from rooms.demos.timeline import TimelineKind as K
from rooms.demos.timeline import TimelineRecord as R
from rooms.demos.timeline import positions


def test_positions_replay_room_moves_and_detached_students() -> None:
    records = [
        R(K.STARTED, 0, 0.0),
        R(K.JOINED, 0, 0.0, 1),
        R(K.JOINED, 0, 1.0, 2),
        R(K.STEP, 1, 2.0),
        R(K.DETACHED, 1, 3.0, 2),
        R(K.STEP, 2, 4.0),
        R(K.PAUSED, 2, 4.5),
        R(K.LEFT, 2, 5.0, 1),
        R(K.FOLLOWED, 2, 6.0, 2),
        R(K.STOPPED, 2, 7.0),
    ]
    assert positions(records, -1.0) == {}
    assert positions(records, 0.5) == {1: 0}
    assert positions(records, 3.5) == {1: 1, 2: 1}
    assert positions(records, 4.6) == {1: 2, 2: 1}
    assert positions(records, 5.5) == {2: 1}
    assert positions(records, 6.0) == {2: 2}
    assert positions(records, 7.0) == {}


def test_records_serialise_for_storage() -> None:
    record = R(K.COMPLETED, 3, 12.5, 9)
    assert record.to_dict() == {"kind": "completed", "step": 3, "at": 12.5, "user_id": 9}
