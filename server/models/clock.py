"""Timestamps stored by the models: timezone-aware UTC, one place to read the clock."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A stored timestamp in UTC, timezone-aware: SQLite hands back naive datetimes for
    timezone-aware columns, and everything stored here is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
