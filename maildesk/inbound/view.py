"""The read-only questions the pipeline asks the database, behind a small protocol.

The pipeline's steps stay pure: they receive a `View`, never a session. `SqlView` answers
from the database; tests may pass any object with the same methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection, func, select

from maildesk import status as st
from maildesk.models import messages, outbox, participants, ticket_details, tickets


@dataclass(frozen=True)
class TicketRef:
    id: int
    key: str
    queue: str
    status: str
    requester: str
    participants: frozenset[str]
    language: str = "fr"
    fields: tuple[tuple[str, str], ...] = ()
    missing_fields: tuple[str, ...] = ()
    criticality: str = "medium"
    request_type: str = "assistance"
    requester_name: str = ""
    assignee: str | None = None


class View(Protocol):
    def ticket_by_key(self, key: str) -> TicketRef | None: ...
    def ticket_by_message_ids(self, ids: tuple[str, ...]) -> TicketRef | None: ...
    def ticket_of_duplicate(self, dedup_key: str) -> str | None: ...
    def automatic_count_since(self, recipient: str, since: datetime) -> int: ...
    def tickets_opened_since(self, requester: str, since: datetime) -> int: ...
    def latest_open_ticket_since(self, requester: str, since: datetime) -> TicketRef | None: ...
    def notification(self, message_id: str) -> tuple[str, str | None] | None: ...
    def last_notification_to(self, recipient: str) -> str | None: ...
    def recipient_of(self, message_id: str) -> str | None: ...
    def message_id_known(self, message_id: str) -> bool: ...


class SqlView:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def ticket_by_key(self, key: str) -> TicketRef | None:
        row = self.conn.execute(select(tickets).where(tickets.c.key == key)).first()
        return self._ref(row) if row else None

    def ticket_by_message_ids(self, ids: tuple[str, ...]) -> TicketRef | None:
        if not ids:
            return None
        row = self.conn.execute(
            select(tickets)
            .join(messages, messages.c.ticket_id == tickets.c.id)
            .where(messages.c.message_id.in_(ids))
            .order_by(messages.c.id.desc())
            .limit(1)
        ).first()
        return self._ref(row) if row else None

    def ticket_of_duplicate(self, dedup_key: str) -> str | None:
        return self.conn.execute(
            select(tickets.c.key)
            .join(messages, messages.c.ticket_id == tickets.c.id)
            .where(messages.c.dedup_key == dedup_key)
        ).scalar()

    def automatic_count_since(self, recipient: str, since: datetime) -> int:
        return self.conn.execute(
            select(func.count())
            .select_from(outbox)
            .where(
                outbox.c.recipient == recipient,
                outbox.c.automatic.is_(True),
                outbox.c.created_at >= since,
            )
        ).scalar_one()

    def tickets_opened_since(self, requester: str, since: datetime) -> int:
        """Tickets `requester` opened since `since` (index ix_tickets_requester_created)."""
        return self.conn.execute(
            select(func.count())
            .select_from(tickets)
            .where(tickets.c.requester == requester, tickets.c.created_at >= since)
        ).scalar_one()

    def latest_open_ticket_since(self, requester: str, since: datetime) -> TicketRef | None:
        """The newest ticket `requester` opened since `since` that is not closed, if any."""
        row = self.conn.execute(
            select(tickets)
            .where(
                tickets.c.requester == requester,
                tickets.c.created_at >= since,
                tickets.c.status != st.CLOSED,
            )
            .order_by(tickets.c.created_at.desc(), tickets.c.id.desc())
            .limit(1)
        ).first()
        return self._ref(row) if row else None

    def notification(self, message_id: str) -> tuple[str, str | None] | None:
        """(message_id, ticket key) of an outbox row of ours, or None."""
        row = self.conn.execute(
            select(outbox.c.message_id, tickets.c.key)
            .outerjoin(tickets, tickets.c.id == outbox.c.ticket_id)
            .where(outbox.c.message_id == message_id)
        ).first()
        return (row[0], row[1]) if row else None

    def message_id_known(self, message_id: str) -> bool:
        found = self.conn.execute(
            select(messages.c.id).where(messages.c.message_id == message_id).limit(1)
        ).first()
        return found is not None

    def recipient_of(self, message_id: str) -> str | None:
        """Who one of our notifications was sent to (None when it is not ours)."""
        return self.conn.execute(
            select(outbox.c.recipient).where(outbox.c.message_id == message_id)
        ).scalar()

    def last_notification_to(self, recipient: str) -> str | None:
        return self.conn.execute(
            select(outbox.c.message_id)
            .where(outbox.c.recipient == recipient)
            .order_by(outbox.c.id.desc())
            .limit(1)
        ).scalar()

    def _ref(self, row) -> TicketRef:
        addrs = self.conn.execute(
            select(participants.c.address).where(participants.c.ticket_id == row.id)
        ).scalars()
        details = self.conn.execute(
            select(ticket_details).where(ticket_details.c.ticket_id == row.id)
        ).first()
        return TicketRef(
            row.id,
            row.key,
            row.queue,
            row.status,
            row.requester,
            frozenset(addrs),
            language=details.language if details else "fr",
            fields=tuple((details.fields or {}).items()) if details else (),
            missing_fields=tuple(details.missing_fields or ()) if details else (),
            criticality=details.criticality if details else "medium",
            request_type=details.request_type if details else "assistance",
            requester_name=row.requester_name,
            assignee=row.assignee,
        )
