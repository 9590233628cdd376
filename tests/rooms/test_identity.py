"""The pure identity rules: personal codes, roster files, merging progress, streaks and
documents."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from rooms.exceptions import RosterError
from rooms.identity import (
    CODE_ALPHABET,
    ProgressRow,
    StreakRow,
    code_digest,
    format_code,
    merge_progress,
    merge_streak,
    merged_doc_name,
    new_code,
    normalize_code,
    parse_roster,
)


def test_codes_are_grouped_and_typed_back_loosely() -> None:
    picks = iter("ABCDEFGHJKMN")
    code = new_code(lambda _alphabet: next(picks))
    assert code == "ABCD-EFGH-JKMN"
    assert normalize_code(" abcd efgh-jkmn ") == "ABCDEFGHJKMN"
    assert normalize_code("ABCD-EFGH-JKM") is None  # too short
    assert normalize_code("ABCD-EFGH-JKM0") is None  # 0 is not in the alphabet
    assert format_code("ABCDEFGHJKMN") == code
    assert code_digest("ABCDEFGHJKMN") != code_digest("ABCDEFGHJKMP")
    assert "ABCDEFGHJKMN" not in code_digest("ABCDEFGHJKMN")
    real = new_code()
    assert all(c in CODE_ALPHABET for c in real.replace("-", "")) and len(real) == 14


def test_roster_rows_and_aliases() -> None:
    rows = parse_roster("\ufeffName,E-mail,Student ID\nAna Li,ANA@school.org,s1\n\nBen,,\n")
    assert [(r.line, r.name, r.email, r.student_id) for r in rows] == [
        (2, "Ana Li", "ana@school.org", "s1"),
        (4, "Ben", None, None),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: the roster is empty"),
        ("email\nx@y.z\n", "line 1: the header needs a 'name' column"),
        ("name,email\n,a@b.c\n", "line 2: the name needs 1 to 80 characters"),
        ("name,email\nAna,not-an-email\n", "line 2: 'not-an-email' is not an email address"),
        ("name,email\nAna,a@b.c\nAnn,A@B.C\n", "line 3: a@b.c is already on line 2"),
        ("name,id\nAna,7\nBen,7\n", "line 3: student id 7 is already on line 2"),
        (
            "name,email\nAna,a@b.c\n\u202eyrogerG,g@b.c\n",
            "line 3: a name may not hold a character that reverses the text's direction (U+202E)",
        ),
    ],
)
def test_bad_rosters_name_the_line(text: str, message: str) -> None:
    with pytest.raises(RosterError) as caught:
        parse_roster(text)
    assert str(caught.value) == message


def _at(day: int) -> datetime:
    return datetime(2026, 11, day, 9, tzinfo=UTC)


def test_progress_of_two_accounts() -> None:
    a = ProgressRow(2, 3.0, 5.0, False, _at(2), _at(3), None, None)
    b = ProgressRow(1, 5.0, 5.0, True, _at(1), _at(4), _at(4), 2)
    assert merge_progress(a, b) == ProgressRow(3, 5.0, 5.0, True, _at(1), _at(4), _at(4), 2)
    assert merge_progress(b, a) == merge_progress(a, b)


def test_streaks_of_two_accounts() -> None:
    older = StreakRow(current=5, longest=7, last_day=date(2026, 11, 20))
    newer = StreakRow(current=2, longest=2, last_day=date(2026, 11, 25))
    assert merge_streak(older, newer) == StreakRow(2, 7, date(2026, 11, 25))
    same_day = StreakRow(current=4, longest=4, last_day=date(2026, 11, 25))
    assert merge_streak(newer, same_day) == StreakRow(4, 4, date(2026, 11, 25))
    assert merge_streak(StreakRow(0, 0, None), older) == older


def test_documents_move_and_never_overwrite() -> None:
    taken = {"students/2/main.py", "students/2/main (2).py"}
    assert merged_doc_name("students/1/main.py", 1, 2, taken) == "students/2/main (3).py"
    assert merged_doc_name("students/1/notes", 1, 2, taken) == "students/2/notes"
    assert merged_doc_name("students/11/main.py", 1, 2, taken) is None
    assert merged_doc_name("demo", 1, 2, taken) is None
