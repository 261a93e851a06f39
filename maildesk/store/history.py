"""Ticket history: one event row per change (who, when, what, from, to, why).

Every writer of a ticket's history goes through `record_event`, so the history reads the
same whether a change came from mail, the command line, the scheduler or the sender.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert

from maildesk.desk.effects import SYSTEM
from maildesk.store.models import events

__all__ = ["SYSTEM", "record_event"]


def record_event(
    conn: Connection,
    ticket_id: int,
    now: datetime,
    actor: str,
    kind: str,
    reason: str,
    from_value: str | None = None,
    to_value: str | None = None,
) -> None:
    conn.execute(
        _INSERT_EVENT,
        {
            "ticket_id": ticket_id,
            "at": now,
            "actor": actor,
            "kind": kind,
            "reason": reason or None,
            "from_value": from_value,
            "to_value": to_value,
        },
    )


# Built once: a statement object costs more to build than to run (see bench/README.md).
_INSERT_EVENT = insert(events)
