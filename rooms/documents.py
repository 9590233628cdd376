"""Document names of a room and who may open them.

A room holds three kinds of documents:

``demo``
    the instructor's live demo: instructors write, everyone else reads.
``students/{user_id}/{file}``
    one student's file: that student, instructors and assistants write; other students
    cannot open it.
``pairs/{group}/{file}``
    a pair's shared file: members of the pair group, instructors and assistants write;
    other students cannot open it.

Instructors and assistants write students' and pairs' files so they can help live.

Two lesson rules narrow what students may write (:class:`LessonLock`, kept by the lesson
component and handed in here, so the check stays one pure function):

* a **frozen** room: students read their own and their pair's files, nobody but the staff
  writes them (a quiz, an explanation);
* a pair group with a **driver**: only the driver of that group writes ``pairs/{group}/…``;
  the others (navigators) read it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import assert_never

from rooms.exceptions import InvalidDocumentName

MAX_NAME_LENGTH = 200
# One path segment: letters, digits and . _ - ; not starting with a dot (no "..", no hidden).
_SEGMENT = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,99}")
_USER_ID = re.compile(r"[1-9][0-9]{0,17}")


class DocKind(StrEnum):
    DEMO = "demo"
    STUDENT = "students"
    PAIR = "pairs"


class Access(StrEnum):
    NONE = "none"
    READ = "read"
    WRITE = "write"


STAFF_ROLES = frozenset({"instructor", "assistant"})


@dataclass(frozen=True)
class LessonLock:
    """What the lesson forbids students right now: ``frozen`` (no student writes anything) and
    ``drivers`` (pair group -> the one user who writes its files)."""

    frozen: bool = False
    drivers: Mapping[str, int] = field(default_factory=dict)


OPEN = LessonLock()


@dataclass(frozen=True)
class DocumentName:
    kind: DocKind
    owner: str | None = None  # the student's user id or the pair group
    file: str | None = None

    @property
    def owner_user_id(self) -> int | None:
        return int(self.owner) if self.kind is DocKind.STUDENT and self.owner else None

    def __str__(self) -> str:
        if self.kind is DocKind.DEMO:
            return "demo"
        return f"{self.kind.value}/{self.owner}/{self.file}"


def parse_document_name(name: str) -> DocumentName:
    """Parse ``demo``, ``students/{user_id}/{file}`` or ``pairs/{group}/{file}``.

    Raises :class:`InvalidDocumentName` naming what is wrong.
    """
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidDocumentName(f"document name longer than {MAX_NAME_LENGTH} characters")
    if name == "demo":
        return DocumentName(DocKind.DEMO)
    parts = name.split("/")
    if len(parts) != 3 or parts[0] not in ("students", "pairs"):
        raise InvalidDocumentName(
            f"unknown document {name!r}: expected demo, students/<user>/<file> "
            "or pairs/<group>/<file>"
        )
    kind = DocKind(parts[0])
    owner, file = parts[1], parts[2]
    if kind is DocKind.STUDENT and not _USER_ID.fullmatch(owner):
        raise InvalidDocumentName(f"student id {owner!r} is not a positive integer")
    if kind is DocKind.PAIR and not _SEGMENT.fullmatch(owner):
        raise InvalidDocumentName(f"pair group {owner!r} is not a valid name")
    if not _SEGMENT.fullmatch(file):
        raise InvalidDocumentName(f"file name {file!r} is not a valid name")
    return DocumentName(kind, owner, file)


def access(
    doc: DocumentName,
    *,
    role: str | None,
    user_id: int,
    pair_groups: Collection[str] = (),
    lock: LessonLock = OPEN,
) -> Access:
    """What a caller with this room role may do with ``doc``.

    ``role`` is the caller's role in the room (``instructor``, ``assistant``, ``student``)
    or None when they are not a member; ``pair_groups`` are the groups they belong to;
    ``lock`` is the room's :class:`LessonLock` (staff are never locked).
    """
    if role is None:
        return Access.NONE
    staff = role in STAFF_ROLES
    if doc.kind is DocKind.DEMO:
        return Access.WRITE if role == "instructor" else Access.READ
    if staff:
        return Access.WRITE
    if doc.kind is DocKind.STUDENT:
        if doc.owner_user_id != user_id:
            return Access.NONE
        return Access.READ if lock.frozen else Access.WRITE
    if doc.kind is DocKind.PAIR:
        if doc.owner not in pair_groups:
            return Access.NONE
        driver = lock.drivers.get(doc.owner or "")
        if lock.frozen or (driver is not None and driver != user_id):
            return Access.READ
        return Access.WRITE
    assert_never(doc.kind)
