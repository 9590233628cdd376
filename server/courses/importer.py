"""Importing a course folder (exercises and demos) into a classroom, from disk or an upload.

A course folder holds ``exercises/`` (TOML/YAML exercise files, or one folder per exercise
with an ``exercise.toml``), ``demos/`` (TOML, YAML or Markdown demos) and optionally
``assets/`` (images and media the demos show, checked by :mod:`rooms.demos.assets`). Everything is
validated before anything is written: one bad file refuses the whole import with its
``file:line: reason``. Importing again updates in place, keyed by the ids in the files; an
exercise whose definition changed gets a new version (what a regrade compares against).
"""

from __future__ import annotations

import asyncio
import io
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlmodel import select

from rooms.demos import assets as course_assets
from rooms.demos import definition as demo_files
from rooms.demos.exceptions import DefinitionError
from rooms.demos.model import DemoDefinition
from sandbox.grading import Exercise, check_course_exercises
from sandbox.grading.dump import exercise_to_dict
from server.courses.assets import store_assets
from server.models import Demo, ExerciseRecord
from server.models.clock import utcnow
from server.security.archives import ArchiveError, ArchiveLimits, extract
from server.store import Store

log = logging.getLogger("classroom.courses")

MAX_ARCHIVE_BYTES = 48 << 20  # a course with its media (assets: 40 MiB at most)
MAX_ARCHIVE_MEMBERS = 2000
MAX_UNPACKED_BYTES = 64 << 20


class CourseError(Exception):
    """The course cannot be imported; the message names the file and line when known."""


@dataclass
class ImportReport:
    exercises: list[dict[str, str]] = field(default_factory=list)
    demos: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    assets: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "exercises": self.exercises,
            "demos": self.demos,
            "warnings": self.warnings,
            "assets": self.assets,
        }


def read_course(folder: Path) -> tuple[list[Exercise], list[DemoDefinition]]:
    """Load and validate every exercise and demo of ``folder``. Raises :class:`CourseError`."""
    if not folder.is_dir():
        raise CourseError(f"{folder}: not a folder")
    exercises_dir, demos_dir = folder / "exercises", folder / "demos"
    if not exercises_dir.is_dir() and not demos_dir.is_dir():
        raise CourseError(f"{folder}: a course folder holds exercises/ and/or demos/")
    exercises, problems = (
        check_course_exercises(exercises_dir) if exercises_dir.is_dir() else ([], [])
    )
    if problems:
        # Every bad file at once, one `file:line: reason` per line.
        raise CourseError("\n".join(_relative(str(p), folder) for p in problems))
    demos: list[DemoDefinition] = []
    if demos_dir.is_dir():
        seen: dict[str, str] = {}
        for path in sorted(demos_dir.iterdir()):
            if not path.is_file() or demo_files.format_of(path.name) is None:
                continue
            display = f"demos/{path.name}"
            try:
                demo = demo_files.load(path, display=display)
            except DefinitionError as exc:
                raise CourseError(str(exc)) from None
            if demo.id in seen:
                raise CourseError(
                    f"{display}:1: demo id {demo.id!r} is already used by {seen[demo.id]}"
                )
            seen[demo.id] = display
            demos.append(demo)
    return exercises, demos


def read_assets(folder: Path) -> list[course_assets.Asset]:
    """Every file under ``assets/``, checked, and every ``assets/…`` the demo files mention
    found among them. Raises :class:`CourseError` (``file:line: reason``)."""
    root = folder / "assets"
    found: list[course_assets.Asset] = []
    try:
        if root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                display = path.relative_to(folder).as_posix()
                found.append(course_assets.check_asset(display, path.read_bytes()))
            course_assets.check_total(found)
        known = {a.path for a in found}
        demos_dir = folder / "demos"
        if demos_dir.is_dir():
            for path in sorted(demos_dir.iterdir()):
                if path.is_file() and demo_files.format_of(path.name) is not None:
                    text = path.read_text(encoding="utf-8", errors="replace")
                    course_assets.check_references(f"demos/{path.name}", text, known)
    except DefinitionError as exc:
        raise CourseError(str(exc)) from None
    return found


def _relative(message: str, folder: Path) -> str:
    prefix = str(folder).rstrip("/") + "/"
    return message.replace(prefix, "")


async def import_course(store: Store, classroom_id: int, folder: Path) -> ImportReport:
    exercises, demos = await asyncio.to_thread(read_course, folder)  # parsing is blocking
    assets = await asyncio.to_thread(read_assets, folder)
    report = ImportReport()
    async with store.session() as session:
        report.assets = await store_assets(session, classroom_id, assets)
        for exercise in exercises:
            data = exercise_to_dict(exercise)
            record = (
                await session.exec(
                    select(ExerciseRecord).where(
                        ExerciseRecord.classroom_id == classroom_id,
                        ExerciseRecord.exercise_id == exercise.id,
                    )
                )
            ).first()
            if record is None:
                record = ExerciseRecord(
                    classroom_id=classroom_id,
                    exercise_id=exercise.id,
                    title=exercise.title,
                    language=exercise.language,
                    definition=data,
                )
                status = "created"
            elif record.definition == data:
                status = "unchanged"
            else:
                record.definition = data
                record.title = exercise.title
                record.language = exercise.language
                record.version += 1
                record.updated_at = utcnow()
                status = "updated"
            session.add(record)
            report.exercises.append({"id": exercise.id, "title": exercise.title, "status": status})
            report.warnings.extend(exercise.warnings)
        for demo in demos:
            data = demo.to_dict()
            row = (
                await session.exec(
                    select(Demo).where(Demo.classroom_id == classroom_id, Demo.demo_id == demo.id)
                )
            ).first()
            if row is None:
                row = Demo(
                    classroom_id=classroom_id, demo_id=demo.id, title=demo.title, definition=data
                )
                status = "created"
            elif row.definition == data:
                status = "unchanged"
            else:
                row.definition = data
                row.title = demo.title
                row.updated_at = utcnow()
                status = "updated"
            session.add(row)
            report.demos.append({"id": demo.id, "title": demo.title, "status": status})
    log.info(
        "classroom %s: imported %d exercises, %d demos and %d assets",
        classroom_id,
        len(report.exercises),
        len(report.demos),
        len(report.assets),
    )
    return report


def unpack_archive(archive: IO[bytes], target: Path) -> Path:
    """Unpack a zip or tar upload into ``target`` and return the course folder in it.

    Blocking: run it in a thread. The limits are checked while unpacking
    (server/security/archives.py); every refusal is a :class:`CourseError` with the reason."""
    if archive.seek(0, io.SEEK_END) > MAX_ARCHIVE_BYTES:
        raise CourseError(f"the archive is larger than {MAX_ARCHIVE_BYTES >> 20} MiB")
    archive.seek(0)
    limits = ArchiveLimits(max_members=MAX_ARCHIVE_MEMBERS, max_bytes=MAX_UNPACKED_BYTES)
    try:
        extract(archive, target, limits)
    except ArchiveError as exc:
        raise CourseError(str(exc)) from None
    return _course_root(target)


def _course_root(target: Path) -> Path:
    if (target / "exercises").is_dir() or (target / "demos").is_dir():
        return target
    children = [p for p in target.iterdir() if p.is_dir()]
    if len(children) == 1:
        return _course_root(children[0])
    raise CourseError("the archive holds no exercises/ or demos/ folder")


async def import_upload(store: Store, classroom_id: int, archive: IO[bytes]) -> ImportReport:
    """Import an uploaded archive (a file, e.g. spooled by server/security/bodies.py)."""
    with tempfile.TemporaryDirectory(prefix="course-") as tmp:
        folder = await asyncio.to_thread(unpack_archive, archive, Path(tmp))
        return await import_course(store, classroom_id, folder)
