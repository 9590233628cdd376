from __future__ import annotations

import pytest

from rooms.documents import Access, DocKind, DocumentName, access, parse_document_name
from rooms.exceptions import InvalidDocumentName


def test_parse_the_three_kinds() -> None:
    assert parse_document_name("demo") == DocumentName(DocKind.DEMO)
    student = parse_document_name("students/7/main.py")
    assert (student.kind, student.owner_user_id, student.file) == (DocKind.STUDENT, 7, "main.py")
    pair = parse_document_name("pairs/team-a/lib.rs")
    assert (pair.kind, pair.owner, pair.file) == (DocKind.PAIR, "team-a", "lib.rs")
    for name in ("demo", "students/7/main.py", "pairs/team-a/lib.rs"):
        assert str(parse_document_name(name)) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "demo/x",
        "students/7",
        "students/0/a.py",
        "students/abc/a.py",
        "students/7/../x",
        "students/7/.hidden",
        "students/7/a/b",
        "pairs//a.py",
        "pairs/../a.py",
        "pairs/g/a b.py",
        "teachers/1/a.py",
        "students/7/" + "x" * 300,
    ],
)
def test_bad_names_are_refused_with_a_reason(name: str) -> None:
    with pytest.raises(InvalidDocumentName) as info:
        parse_document_name(name)
    assert str(info.value)


def test_demo_instructor_writes_others_read() -> None:
    demo = parse_document_name("demo")
    assert access(demo, role="instructor", user_id=1) is Access.WRITE
    assert access(demo, role="assistant", user_id=2) is Access.READ
    assert access(demo, role="student", user_id=3) is Access.READ
    assert access(demo, role=None, user_id=3) is Access.NONE


def test_student_file_owner_and_staff_write_other_students_cannot_open() -> None:
    doc = parse_document_name("students/7/main.py")
    assert access(doc, role="student", user_id=7) is Access.WRITE
    assert access(doc, role="student", user_id=8) is Access.NONE
    assert access(doc, role="instructor", user_id=1) is Access.WRITE
    assert access(doc, role="assistant", user_id=2) is Access.WRITE
    assert access(doc, role=None, user_id=7) is Access.NONE


def test_pair_file_members_and_staff_write() -> None:
    doc = parse_document_name("pairs/g1/main.py")
    assert access(doc, role="student", user_id=7, pair_groups={"g1"}) is Access.WRITE
    assert access(doc, role="student", user_id=8, pair_groups={"g2"}) is Access.NONE
    assert access(doc, role="student", user_id=8) is Access.NONE
    assert access(doc, role="instructor", user_id=1) is Access.WRITE


def test_a_frozen_room_is_read_only_for_students_and_not_for_staff() -> None:
    from rooms.documents import LessonLock

    frozen = LessonLock(frozen=True)
    own = parse_document_name("students/7/main.py")
    pair = parse_document_name("pairs/g1/main.py")
    assert access(own, role="student", user_id=7, lock=frozen) is Access.READ
    assert access(pair, role="student", user_id=7, pair_groups={"g1"}, lock=frozen) is Access.READ
    assert access(own, role="assistant", user_id=2, lock=frozen) is Access.WRITE
    assert access(own, role="student", user_id=8, lock=frozen) is Access.NONE


def test_only_the_driver_of_a_pair_writes_its_files() -> None:
    from rooms.documents import LessonLock

    lock = LessonLock(drivers={"g1": 7})
    pair = parse_document_name("pairs/g1/main.py")
    other = parse_document_name("pairs/g2/main.py")
    assert access(pair, role="student", user_id=7, pair_groups={"g1"}, lock=lock) is Access.WRITE
    assert access(pair, role="student", user_id=8, pair_groups={"g1"}, lock=lock) is Access.READ
    assert access(other, role="student", user_id=8, pair_groups={"g2"}, lock=lock) is Access.WRITE
    assert access(pair, role="instructor", user_id=1, lock=lock) is Access.WRITE
