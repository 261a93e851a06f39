"""An in-memory `View`: the pipeline's read port answered from plain lists, so that the
pure steps are tested without a database. It answers exactly what `SqlView` answers for
the same rows; `tests/db` holds the SQL side."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from maildesk.desk import status as st
from maildesk.desk.view import TicketRef


@dataclass
class Sent:
    """One outbox row: a notification of ours."""

    message_id: str
    recipient: str
    ticket_key: str | None
    created_at: datetime
    automatic: bool = True


@dataclass
class Stored:
    """One message stored on a ticket."""

    ticket_key: str
    message_id: str
    dedup_key: str = ""


@dataclass
class MemoryView:
    tickets: list[TicketRef] = field(default_factory=list)
    created: dict[str, datetime] = field(default_factory=dict)  # ticket key -> created_at
    messages: list[Stored] = field(default_factory=list)
    outbox: list[Sent] = field(default_factory=list)
    chosen_language: dict[str, str] = field(default_factory=dict)  # requester -> `#language`

    def add(self, ticket: TicketRef, created_at: datetime, *message_ids: str) -> TicketRef:
        self.tickets.append(ticket)
        self.created[ticket.key] = created_at
        self.messages += [Stored(ticket.key, m) for m in message_ids]
        return ticket

    def ticket_by_key(self, key: str) -> TicketRef | None:
        return next((t for t in self.tickets if t.key == key), None)

    def ticket_by_message_ids(self, ids: tuple[str, ...]) -> TicketRef | None:
        for stored in reversed(self.messages):  # the newest message first, as SqlView
            if stored.message_id in ids:
                return self.ticket_by_key(stored.ticket_key)
        return None

    def ticket_of_duplicate(self, dedup_key: str) -> str | None:
        return next((m.ticket_key for m in self.messages if m.dedup_key == dedup_key), None)

    def automatic_count_since(self, recipient: str, since: datetime) -> int:
        return sum(
            1
            for o in self.outbox
            if o.recipient == recipient and o.automatic and o.created_at >= since
        )

    def tickets_opened_since(self, requester: str, since: datetime) -> int:
        return sum(
            1 for t in self.tickets if t.requester == requester and self.created[t.key] >= since
        )

    def latest_open_ticket_since(self, requester: str, since: datetime) -> TicketRef | None:
        mine = [
            t
            for t in self.tickets
            if t.requester == requester and self.created[t.key] >= since and t.status != st.CLOSED
        ]
        return max(mine, key=lambda t: (self.created[t.key], t.id), default=None)

    def notification(self, message_id: str) -> tuple[str, str | None] | None:
        row = next((o for o in self.outbox if o.message_id == message_id), None)
        return (row.message_id, row.ticket_key) if row else None

    def last_notification_to(self, recipient: str) -> str | None:
        mine = [o for o in self.outbox if o.recipient == recipient]
        return mine[-1].message_id if mine else None

    def recipient_of(self, message_id: str) -> str | None:
        return next((o.recipient for o in self.outbox if o.message_id == message_id), None)

    def message_id_known(self, message_id: str) -> bool:
        return any(m.message_id == message_id for m in self.messages)

    def requester_language(self, requester: str) -> tuple[str, bool] | None:
        if requester in self.chosen_language:
            return self.chosen_language[requester], True
        mine = [t for t in self.tickets if t.requester == requester]
        latest = max(mine, key=lambda t: (self.created[t.key], t.id), default=None)
        return (latest.language, False) if latest else None
