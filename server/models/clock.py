"""Timestamps stored by the models: timezone-aware UTC, one place to read the clock."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
