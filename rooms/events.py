"""Room events: what a client may send on ``/ws/rooms/{room}``, checked before anything runs.

Rule 1: every command is declared in :data:`COMMANDS` with its fields and the roles that may
send it; :func:`parse_command` refuses anything else with an :class:`EventError` whose code
and message go back to the sender as an ``error`` event (the connection stays open).
Rule 2: events go to an :class:`Audience`, never to a list of sockets: the server delivers an
audience in every process through the bus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from rooms import client_json
from rooms.client_json import NotJson
from rooms.exceptions import RoomsError

MAX_MESSAGE_BYTES: Final = 256 * 1024
# An integer field holds at most what a browser's numbers hold exactly (Number.MAX_SAFE_INTEGER):
# no client of ours sends more, and more would overflow the store's integers.
MAX_SAFE_INTEGER: Final = 2**53 - 1
# A row id holds at most what the store's INTEGER columns hold (PostgreSQL's: server/ids.py).
MAX_ROW_ID: Final = 2**31 - 1
STAFF: Final = frozenset({"instructor", "assistant"})
EVERYONE: Final = frozenset({"instructor", "assistant", "student"})
INSTRUCTOR: Final = frozenset({"instructor"})
STUDENTS: Final = frozenset({"student"})


class EventError(RoomsError):
    """A command refused; ``code`` and ``message`` are sent back as an ``error`` event."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def event(self, ref: Any = None) -> dict[str, Any]:
        event: dict[str, Any] = {"type": "error", "code": self.code, "message": self.message}
        if ref is not None:
            event["ref"] = ref
        return event


@dataclass(frozen=True)
class FieldSpec:
    kind: type | tuple[type, ...]
    required: bool = False
    max_length: int | None = None
    maximum: int = MAX_SAFE_INTEGER  # for an integer


@dataclass(frozen=True)
class CommandSpec:
    roles: frozenset[str]
    fields: dict[str, FieldSpec] = field(default_factory=dict)


_TEXT = 64 * 1024
_FILES = FieldSpec(dict)
_RUN_ID = FieldSpec(str, required=True, max_length=64)
_STEP = FieldSpec(int)
_ROW_ID = FieldSpec(int, maximum=MAX_ROW_ID)

COMMANDS: Final[dict[str, CommandSpec]] = {
    "ping": CommandSpec(EVERYONE),
    "run.start": CommandSpec(
        EVERYONE,
        {
            "doc": FieldSpec(str, max_length=200),
            "files": _FILES,
            "language": FieldSpec(str, required=True, max_length=32),
            "stdin": FieldSpec(str, max_length=_TEXT),
            "args": FieldSpec(list),
            "demo_step": _STEP,
        },
    ),
    "run.stdin": CommandSpec(
        EVERYONE,
        {"run_id": _RUN_ID, "data": FieldSpec(str, max_length=_TEXT), "eof": FieldSpec(bool)},
    ),
    "run.cancel": CommandSpec(EVERYONE, {"run_id": _RUN_ID}),
    "run.fetch": CommandSpec(EVERYONE, {"run_id": _RUN_ID, "after": FieldSpec(int)}),
    "submit": CommandSpec(
        EVERYONE,
        {
            "exercise_id": FieldSpec(str, required=True, max_length=100),
            "doc": FieldSpec(str, max_length=200),
            "files": _FILES,
        },
    ),
    "demo.start": CommandSpec(
        INSTRUCTOR, {"demo_id": FieldSpec(str, required=True, max_length=100)}
    ),
    "demo.stop": CommandSpec(INSTRUCTOR),
    "demo.goto": CommandSpec(INSTRUCTOR, {"step": FieldSpec(int, required=True)}),
    "demo.next": CommandSpec(INSTRUCTOR),
    "demo.prev": CommandSpec(INSTRUCTOR),
    "demo.resume": CommandSpec(INSTRUCTOR),
    "demo.detach": CommandSpec(EVERYONE),
    "demo.follow": CommandSpec(EVERYONE),
    "quiz.answer": CommandSpec(
        STUDENTS,
        {"step": _STEP, "answer": FieldSpec((str, int, list), required=True, max_length=2000)},
    ),
    "quiz.reveal": CommandSpec(INSTRUCTOR, {"step": _STEP}),
    "quiz.close": CommandSpec(INSTRUCTOR, {"step": _STEP}),
    "hand.raise": CommandSpec(
        EVERYONE, {"doc": FieldSpec(str, max_length=200), "message": FieldSpec(str, max_length=500)}
    ),
    "hand.lower": CommandSpec(EVERYONE, {"hand_id": _ROW_ID}),
    "hand.take": CommandSpec(STAFF, {"hand_id": FieldSpec(int, required=True, maximum=MAX_ROW_ID)}),
    "hand.done": CommandSpec(STAFF, {"hand_id": FieldSpec(int, required=True, maximum=MAX_ROW_ID)}),
    # Lesson controls (rooms/lesson.py, server/lesson/): instructors run the room.
    "lesson.spotlight": CommandSpec(
        INSTRUCTOR,
        {
            "user_id": _ROW_ID,
            "doc": FieldSpec(str, max_length=200),
            "show_name": FieldSpec(bool),
        },
    ),
    "lesson.push": CommandSpec(
        INSTRUCTOR, {"files": FieldSpec(dict, required=True), "only_empty": FieldSpec(bool)}
    ),
    "lesson.freeze": CommandSpec(INSTRUCTOR, {"reason": FieldSpec(str, max_length=200)}),
    "lesson.unfreeze": CommandSpec(INSTRUCTOR),
    "lesson.announce": CommandSpec(INSTRUCTOR, {"text": FieldSpec(str, max_length=500)}),
    "lesson.countdown": CommandSpec(INSTRUCTOR, {"seconds": FieldSpec(int, required=True)}),
    "pairs.make": CommandSpec(
        INSTRUCTOR,
        {
            "strategy": FieldSpec(str, required=True, max_length=16),
            "exercise_id": FieldSpec(str, max_length=100),
            "rotate_minutes": FieldSpec(int),
        },
    ),
    "pairs.rotate": CommandSpec(INSTRUCTOR),
    "pairs.repair": CommandSpec(INSTRUCTOR),
}


@dataclass(frozen=True)
class Command:
    type: str
    fields: dict[str, Any]
    ref: Any = None

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)


def parse_command(raw: str | bytes, role: str) -> Command:
    """Decode and check one client message for a sender with ``role``.

    Raises :class:`EventError`: ``too_large``, ``invalid_json``, ``invalid_message``,
    ``unknown_type``, ``forbidden`` or ``invalid_field``.
    """
    if len(raw) > MAX_MESSAGE_BYTES:
        raise EventError("too_large", f"a message may not exceed {MAX_MESSAGE_BYTES} bytes")
    try:
        message = client_json.loads(raw)
    except NotJson as exc:
        raise EventError("invalid_json", f"the message is not valid JSON: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise EventError("invalid_message", "a message is a JSON object with a string 'type'")
    kind = message["type"]
    ref = message.get("ref")
    if ref is not None and not isinstance(ref, (str, int)):
        ref = None
    spec = COMMANDS.get(kind)
    if spec is None:
        raise EventError("unknown_type", f"unknown message type {kind[:40]!r}")
    if role not in spec.roles:
        article = "an" if role[:1] in "aeiou" else "a"
        raise EventError("forbidden", f"{article} {role} may not send {kind}")
    fields: dict[str, Any] = {}
    for name, fs in spec.fields.items():
        value = message.get(name)
        if value is None:
            if fs.required:
                raise EventError("invalid_field", f"{kind}: '{name}' is required")
            continue
        if isinstance(value, bool) and fs.kind is int:
            raise EventError("invalid_field", f"{kind}: '{name}' must be an integer")
        if not isinstance(value, fs.kind):
            expected = _type_name(fs.kind)
            raise EventError("invalid_field", f"{kind}: '{name}' must be {expected}")
        if type(value) is int and not -MAX_SAFE_INTEGER <= value <= fs.maximum:
            raise EventError("invalid_field", f"{kind}: '{name}' is out of range")
        if fs.max_length is not None and _length(value) > fs.max_length:
            raise EventError("invalid_field", f"{kind}: '{name}' is longer than {fs.max_length}")
        fields[name] = value
    unknown = set(message) - set(spec.fields) - {"type", "ref"}
    if unknown:
        raise EventError("invalid_field", f"{kind}: unknown field {sorted(unknown)[0]!r}")
    return Command(kind, fields, ref)


def _length(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    return len(json.dumps(value))


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "an integer",
        bool: "true or false",
        dict: "an object",
        list: "a list",
    }
    if isinstance(kind, tuple):
        return " or ".join(names.get(k, k.__name__) for k in kind)
    return names.get(kind, kind.__name__)


@dataclass(frozen=True)
class Audience:
    """Who receives an event: everyone in the room, the staff, and/or some users."""

    everyone: bool = False
    staff: bool = False
    users: frozenset[int] = frozenset()

    def includes(self, user_id: int, role: str) -> bool:
        return self.everyone or (self.staff and role in STAFF) or user_id in self.users

    def to_dict(self) -> dict[str, Any]:
        return {"everyone": self.everyone, "staff": self.staff, "users": sorted(self.users)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Audience:
        return cls(
            bool(data.get("everyone")), bool(data.get("staff")), frozenset(data.get("users", ()))
        )


ROOM_AUDIENCE: Final = Audience(everyone=True)
STAFF_AUDIENCE: Final = Audience(staff=True)


def staff_and(*user_ids: int) -> Audience:
    return Audience(staff=True, users=frozenset(user_ids))


def only(*user_ids: int) -> Audience:
    return Audience(users=frozenset(user_ids))


Outgoing = tuple[Audience, dict[str, Any]]
"""An event and who receives it: what every pure object of ``rooms/`` returns, and what the
server's one delivery function (``RoomHub.publish_all``) sends."""
