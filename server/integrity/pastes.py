"""Paste events: stored updates (kept history or not yet folded) that inserted at least the
threshold of characters, other than a known text (the exercises' starter code, which the
editor seeds into an empty file; matched by ``inserted_key``). Read on demand from the
``inserted`` column, so the threshold in force when the teacher looks is the one applied; a
paste older than the history retention has been folded into a checkpoint and is gone with
it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, select

from server.models import DocHistoryUpdate, DocUpdate
from server.models.clock import as_utc
from server.store import Store

_TABLES: tuple[Table, ...] = (
    DocHistoryUpdate.__table__,  # type: ignore[attr-defined]
    DocUpdate.__table__,  # type: ignore[attr-defined]
)


@dataclass(frozen=True, slots=True)
class PasteEvent:
    room_id: int
    doc: str
    update_id: int
    at: datetime
    author_id: int
    inserted: int

    def to_dict(self) -> dict[str, object]:
        return {
            "room_id": self.room_id,
            "doc": self.doc,
            "update_id": self.update_id,
            "at": self.at.isoformat(),
            "user_id": self.author_id,
            "inserted": self.inserted,
        }


async def paste_events(
    store: Store,
    room_ids: Collection[int],
    author_ids: Collection[int],
    threshold: int,
    given: Collection[int] = (),
) -> list[PasteEvent]:
    """Pastes by ``author_ids`` in ``room_ids``, oldest first; none when threshold <= 0."""
    if threshold <= 0 or not room_ids or not author_ids:
        return []
    found: dict[int, PasteEvent] = {}
    async with store.engine.connect() as conn:
        for table in _TABLES:
            rows = await conn.execute(
                select(
                    table.c.id,
                    table.c.room_id,
                    table.c.doc,
                    table.c.created_at,
                    table.c.author_id,
                    table.c.inserted,
                    table.c.inserted_key,
                ).where(
                    table.c.room_id.in_(list(room_ids)),
                    table.c.author_id.in_(list(author_ids)),
                    table.c.inserted >= threshold,
                )
            )
            for row in rows:
                if row.inserted_key is not None and row.inserted_key in given:
                    continue
                found[row.id] = PasteEvent(
                    row.room_id,
                    row.doc,
                    row.id,
                    as_utc(row.created_at),
                    row.author_id,
                    row.inserted,
                )
    return sorted(found.values(), key=lambda event: event.update_id)
