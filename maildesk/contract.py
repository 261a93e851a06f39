"""The JSON the command line prints for scripts: one shape per command, `"schema": 1`.

`docs/json.md` documents every field with one type; `tests/integration/test_json_contract.py`
reads the shapes from that file and checks real output of each command against them.
This module turns the read-only views of `report.py` and the worker's results into those
documents: every instant becomes ISO 8601 in UTC with its offset (SQLite returns naive
values, PostgreSQL aware ones: `json.dumps(default=str)` printed them differently), and
lists are wrapped in an object so that they, too, carry the schema number.

A change that removes or retypes a field raises `SCHEMA`; adding a field does not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from maildesk.clock import utc

SCHEMA = 1


def ticket(shown: dict[str, Any]) -> dict[str, Any]:
    """`tickets show --json`."""
    return {"schema": SCHEMA, **_plain(shown)}


def ticket_list(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """`tickets list --json`."""
    return {"schema": SCHEMA, "tickets": [_plain(r) for r in rows]}


def outbox_list(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """`outbox list --json`."""
    return {"schema": SCHEMA, "notifications": [_plain(r) for r in rows]}


def trace(message_id: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """`trace --json`."""
    return {"schema": SCHEMA, "message_id": message_id, "steps": [_plain(s) for s in steps]}


def ingest(result: dict[str, Any]) -> dict[str, Any]:
    """One line of `ingest` per message."""
    return {"schema": SCHEMA, **_plain(result)}


def instant(value: datetime) -> str:
    return utc(value).isoformat()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return instant(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
