"""parse_command and Audience: pure, no server."""

from __future__ import annotations

import json

import pytest

from rooms.events import (
    MAX_MESSAGE_BYTES,
    MAX_ROW_ID,
    MAX_SAFE_INTEGER,
    ROOM_AUDIENCE,
    STAFF_AUDIENCE,
    Audience,
    EventError,
    only,
    parse_command,
    staff_and,
)


def refused(raw: str | bytes, role: str = "student") -> str:
    with pytest.raises(EventError) as caught:
        parse_command(raw, role)
    return caught.value.code


def test_a_valid_command_keeps_its_fields_and_ref() -> None:
    raw = json.dumps({"type": "run.start", "language": "python", "doc": "demo", "ref": 7})
    command = parse_command(raw, "student")
    assert (command.type, command.get("language"), command.get("doc"), command.ref) == (
        "run.start",
        "python",
        "demo",
        7,
    )
    assert command.get("stdin", "none") == "none"


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe", "not json", "[1, 2]", json.dumps({"no": "type"}), json.dumps({"type": 3})],
)
def test_malformed_messages_are_refused(raw: str | bytes) -> None:
    assert refused(raw)


def test_unknown_commands_wrong_roles_and_fields_are_refused() -> None:
    unknown = refused(json.dumps({"type": "server.shutdown"}))
    wrong_role = refused(json.dumps({"type": "demo.next"}), "student")
    missing = refused(json.dumps({"type": "run.start"}))
    wrong_type = refused(json.dumps({"type": "run.start", "language": 3}))
    too_long = refused(json.dumps({"type": "run.cancel", "run_id": "x" * 65}))
    extra = refused(json.dumps({"type": "ping", "surprise": 1}))
    assert len({unknown, wrong_role}) == 2, "an unknown command and a wrong role differ"
    assert all((missing, wrong_type, too_long, extra))
    assert parse_command(json.dumps({"type": "demo.next"}), "instructor").type == "demo.next"


@pytest.mark.parametrize(
    "raw",
    [
        '{"type":"ping","ref":' + "1" * 5000 + "}",  # past Python's digits: a ValueError
        '{"type":"quiz.answer","answer":[NaN]}',  # JSON.parse refuses it; a page would too
        '{"type":"hand.raise","message":"x","doc":Infinity}',
    ],
)
def test_numbers_a_browser_would_not_read_are_invalid_json(raw: str) -> None:
    assert refused(raw) == "invalid_json"


@pytest.mark.parametrize("value", [2**53, -(2**53), 2**63, 10**30])
def test_an_integer_field_holds_what_a_browser_number_holds(value: int) -> None:
    for raw, role in (
        (json.dumps({"type": "hand.lower", "hand_id": value}), "student"),
        (json.dumps({"type": "demo.goto", "step": value}), "instructor"),
        (json.dumps({"type": "quiz.answer", "answer": value}), "student"),
    ):
        with pytest.raises(EventError, match="out of range") as caught:
            parse_command(raw, role)
        assert caught.value.code == "invalid_field"
    largest = json.dumps({"type": "demo.goto", "step": MAX_SAFE_INTEGER})
    assert parse_command(largest, "instructor").get("step") == MAX_SAFE_INTEGER


def test_a_row_id_holds_what_the_stores_integer_columns_hold() -> None:
    for raw, role in (
        (json.dumps({"type": "hand.lower", "hand_id": MAX_ROW_ID + 1}), "student"),
        (json.dumps({"type": "hand.take", "hand_id": 2**40}), "assistant"),
        (json.dumps({"type": "lesson.spotlight", "user_id": 2**31}), "instructor"),
    ):
        assert refused(raw, role) == "invalid_field"
    largest = json.dumps({"type": "hand.lower", "hand_id": MAX_ROW_ID})
    assert parse_command(largest, "student").get("hand_id") == MAX_ROW_ID


def test_an_oversize_message_is_refused_before_parsing() -> None:
    assert refused("x" * (MAX_MESSAGE_BYTES + 1))


def test_the_error_event_carries_the_ref() -> None:
    event = EventError("nope", "not allowed").event(ref="r1")
    assert event == {"type": "error", "code": "nope", "message": "not allowed", "ref": "r1"}


def test_audiences_include_whom_they_name() -> None:
    assert ROOM_AUDIENCE.includes(5, "student") and ROOM_AUDIENCE.includes(1, "instructor")
    assert STAFF_AUDIENCE.includes(1, "assistant") and not STAFF_AUDIENCE.includes(5, "student")
    assert only(5).includes(5, "student") and not only(5).includes(6, "instructor")
    pair = staff_and(5, 6)
    assert pair.includes(6, "student") and pair.includes(1, "instructor")
    assert not pair.includes(7, "student")


def test_an_audience_crosses_the_bus_unchanged() -> None:
    audience = Audience(staff=True, users=frozenset({3, 1}))
    assert Audience.from_dict(json.loads(json.dumps(audience.to_dict()))) == audience
