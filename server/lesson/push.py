"""Push code into every student's own file: one CRDT edit per file, nobody's work lost.

Decision. ``only_empty`` writes only files that are empty (or whitespace); a file with typed
text is skipped. Without it, a file with text gets the pushed code in one server edit
(:meth:`rooms.sync.DocumentSync.edit`) that, in the same transaction, appends what was there
to the document's ``replaced`` array (``{"text", "at"}`` maps): the editor shows the new code,
and the earlier text stays in the document itself, surviving compaction (which folds the update
log and would drop deleted text).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pycrdt

from rooms.documents import parse_document_name
from rooms.events import EventError
from rooms.exceptions import InvalidDocumentName
from server.documents.registry import DocumentRegistry
from server.documents.source import TEXT_FIELD

MAX_FILES = 10
MAX_FILE_BYTES = 64 * 1024
REPLACED_FIELD = "replaced"
PARALLEL = 8


@dataclass(frozen=True)
class PushResult:
    written: int
    skipped: int


def checked_files(files: Mapping[str, Any]) -> dict[str, str]:
    """The files of a ``lesson.push``, or EventError ``invalid_field`` naming what is wrong."""
    if not files:
        raise EventError("invalid_field", "lesson.push: 'files' is empty")
    if len(files) > MAX_FILES:
        raise EventError("invalid_field", f"lesson.push: at most {MAX_FILES} files")
    out = {}
    for name, text in files.items():
        try:
            if "/" in name:
                raise InvalidDocumentName(f"file name {name!r} is not a valid name")
            parse_document_name(f"students/1/{name}")
        except InvalidDocumentName as exc:
            raise EventError("invalid_field", f"lesson.push: {exc}") from None
        if not isinstance(text, str):
            raise EventError("invalid_field", f"lesson.push: the text of {name!r} is not a string")
        if len(text.encode()) > MAX_FILE_BYTES:
            raise EventError("invalid_field", f"lesson.push: {name!r} is over {MAX_FILE_BYTES} B")
        out[name] = text
    return out


async def push_text(
    docs: DocumentRegistry, room_id: int, name: str, text: str, *, only_empty: bool, now: float
) -> bool:
    """Write ``text`` into one document as one edit; False when it was left as it was."""
    loaded = await docs.acquire(room_id, name)
    try:
        current = loaded.sync.text(TEXT_FIELD)
        if current == text or (only_empty and current.strip()):
            return False

        def change(doc: pycrdt.Doc[Any]) -> None:
            target = doc.get(TEXT_FIELD, type=pycrdt.Text)
            if current.strip():
                kept = doc.get(REPLACED_FIELD, type=pycrdt.Array)
                kept.append(pycrdt.Map({"text": current, "at": now}))
            del target[:]
            target += text

        loaded.dispatch(loaded.sync.edit(change), time.perf_counter())
        return True
    finally:
        docs.release(loaded)


async def push_to_students(
    docs: DocumentRegistry,
    room_id: int,
    students: list[int],
    files: dict[str, str],
    *,
    only_empty: bool,
    now: float,
) -> PushResult:
    """Every student's ``students/{id}/{file}``, a few at a time."""
    gate = asyncio.Semaphore(PARALLEL)

    async def one(user_id: int, file: str, text: str) -> bool:
        async with gate:
            name = f"students/{user_id}/{file}"
            return await push_text(docs, room_id, name, text, only_empty=only_empty, now=now)

    done = await asyncio.gather(
        *(one(uid, file, text) for uid in students for file, text in files.items())
    )
    written = sum(done)
    return PushResult(written=written, skipped=len(done) - written)
