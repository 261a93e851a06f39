"""Instants as maildesk stores them: always timezone-aware UTC.

SQLite keeps no offset, so every instant is converted to UTC before it is written and
read back as UTC; `--now` values with any offset are converted at the edge.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc(value: datetime) -> datetime:
    """Aware UTC; a naive value (as SQLite returns them) is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def system_now() -> datetime:
    return datetime.now(UTC)
