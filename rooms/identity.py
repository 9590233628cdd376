"""Lasting identity, the pure rules: personal codes, roster files, and merging two accounts.

A personal (rejoin) code is 12 characters of the join-code alphabet (no 0/O, 1/I/L), shown in
groups of four (``ABCD-EFGH-JKMN``): about 59 bits, so guessing one is hopeless even before the
rate limit. Only a digest of the normalised code is stored; :func:`code_digest` is that digest.

Merging two accounts of one person folds the rows of one (``source``) into the other
(``target``). Per-exercise progress and streaks are summaries, not event logs, so they are
combined by the rules below; everything that is an event (submissions, XP, runs) just changes
owner.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TypeVar

from rooms import names
from rooms.exceptions import RosterError

_T = TypeVar("_T", int, datetime)
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
CODE_GROUP = 4
MAX_ROSTER_ROWS = 2000


_RANDOM = random.SystemRandom()


def new_code(choice: Callable[[str], str] = _RANDOM.choice) -> str:
    """A fresh personal code, formatted for display."""
    return format_code("".join(choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)))


def normalize_code(text: str) -> str | None:
    """The code typed by a person (any case, dashes or spaces anywhere), or None when it
    cannot be one."""
    cleaned = text.upper().replace("-", "").replace(" ", "")
    if len(cleaned) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in cleaned):
        return None
    return cleaned


def format_code(code: str) -> str:
    return "-".join(code[i : i + CODE_GROUP] for i in range(0, len(code), CODE_GROUP))


def code_digest(code: str) -> str:
    """What is stored of a normalised code: a SHA-256 hex digest (the code has ~59 bits of
    entropy from a CSPRNG, so a salt would add nothing against guessing)."""
    return hashlib.sha256(("classroom.rejoin.v1:" + code).encode()).hexdigest()


@dataclass(frozen=True)
class RosterRow:
    line: int
    name: str
    email: str | None
    student_id: str | None


def parse_roster(text: str) -> list[RosterRow]:
    """Rows of a roster CSV: a header naming ``name`` and ``email`` (``student_id``
    optional; ``id``/``student id`` accepted), then one student per line. Raises
    :class:`RosterError` for the first bad line, so nothing is imported from a broken file."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        raise RosterError("line 1: the roster is empty") from None
    columns = [h.strip().lower().replace(" ", "_") for h in header]
    aliases = {"id": "student_id", "studentid": "student_id", "e-mail": "email"}
    columns = [aliases.get(c, c) for c in columns]
    if "name" not in columns:
        raise RosterError("line 1: the header needs a 'name' column")
    index = {c: i for i, c in enumerate(columns)}
    rows: list[RosterRow] = []
    seen_email: dict[str, int] = {}
    seen_id: dict[str, int] = {}
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(rows) >= MAX_ROSTER_ROWS:
            raise RosterError(f"line {line}: a roster has at most {MAX_ROSTER_ROWS} students")

        def cell(name: str, values: list[str] = values) -> str | None:
            i = index.get(name)
            value = values[i].strip() if i is not None and i < len(values) else ""
            return value or None

        name = cell("name")
        if name is None or len(name) > 80:
            raise RosterError(f"line {line}: the name needs 1 to 80 characters")
        found = names.problem(name)
        if found is not None:
            raise RosterError(f"line {line}: {found}")
        email = cell("email")
        if email is not None:
            email = email.lower()
            if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
                raise RosterError(f"line {line}: {email!r} is not an email address")
            if email in seen_email:
                raise RosterError(f"line {line}: {email} is already on line {seen_email[email]}")
            seen_email[email] = line
        student_id = cell("student_id")
        if student_id is not None:
            if len(student_id) > 64:
                raise RosterError(f"line {line}: the student id is longer than 64 characters")
            if student_id in seen_id:
                raise RosterError(
                    f"line {line}: student id {student_id} is already on line {seen_id[student_id]}"
                )
            seen_id[student_id] = line
        rows.append(RosterRow(line, name, email, student_id))
    return rows


@dataclass(frozen=True)
class ProgressRow:
    """The summary fields of one exercise's progress (server/models/progress.py)."""

    attempts: int
    best_score: float
    max_score: float
    passed: bool
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    first_pass_at: datetime | None
    live_rank: int | None


def merge_progress(a: ProgressRow, b: ProgressRow) -> ProgressRow:
    """One person's progress on an exercise from two accounts: attempts add up, the best score
    and a pass are kept, the earliest first attempt/pass and the latest attempt win."""
    return ProgressRow(
        attempts=a.attempts + b.attempts,
        best_score=max(a.best_score, b.best_score),
        max_score=max(a.max_score, b.max_score),
        passed=a.passed or b.passed,
        first_attempt_at=_pick(a.first_attempt_at, b.first_attempt_at, min),
        last_attempt_at=_pick(a.last_attempt_at, b.last_attempt_at, max),
        first_pass_at=_pick(a.first_pass_at, b.first_pass_at, min),
        live_rank=_pick(a.live_rank, b.live_rank, min),
    )


@dataclass(frozen=True)
class StreakRow:
    current: int
    longest: int
    last_day: date | None


def merge_streak(a: StreakRow, b: StreakRow) -> StreakRow:
    """Two streaks of one person. The streak alive is the one with the later last day; on the
    same day both accounts were active every day of the shorter run, so the longer one holds.
    The longest is the longest of either (the days of a merged run are not known, so two runs
    are never added together: that could invent a streak)."""
    if a.last_day is None:
        return replace(b)
    if b.last_day is None:
        return replace(a)
    if a.last_day == b.last_day:
        current = max(a.current, b.current)
    else:
        current = a.current if a.last_day > b.last_day else b.current
    return StreakRow(
        current=current,
        longest=max(a.longest, b.longest, current),
        last_day=max(a.last_day, b.last_day),
    )


def _pick(a: _T | None, b: _T | None, how: Callable[[_T, _T], _T]) -> _T | None:
    if a is None:
        return b
    if b is None:
        return a
    return how(a, b)


def merged_doc_name(name: str, source: int, target: int, taken: set[str]) -> str | None:
    """Where a student document ``students/{source}/{file}`` goes in a merge: the same file
    of ``target``, or ``file (2)`` etc. when ``target`` already has one of that name. None for
    a document that is not the source's."""
    prefix = f"students/{source}/"
    if not name.startswith(prefix):
        return None
    file = name[len(prefix) :]
    candidate = f"students/{target}/{file}"
    stem, dot, ext = file.rpartition(".")
    if not dot:
        stem, ext = file, ""
    n = 2
    while candidate in taken:
        candidate = f"students/{target}/{stem} ({n}){dot}{ext}"
        n += 1
    return candidate
