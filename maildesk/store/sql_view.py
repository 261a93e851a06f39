"""The pipeline's read port (`maildesk.desk.view.View`) answered from the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, func, select

from maildesk.desk import status as st
from maildesk.desk.view import TicketRef
from maildesk.store.models import events, messages, outbox, participants, ticket_details, tickets


class SqlView:
    """Every question is a statement built once below: on the per-message path, building a
    statement object costs more than SQLite takes to answer it."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def ticket_by_key(self, key: str) -> TicketRef | None:
        row = self.conn.execute(_BY_KEY, {"key": key}).first()
        return self._ref(row) if row else None

    def ticket_by_message_ids(self, ids: tuple[str, ...]) -> TicketRef | None:
        if not ids:
            return None
        row = self.conn.execute(_BY_MESSAGE_IDS, {"ids": list(ids)}).first()
        return self._ref(row) if row else None

    def ticket_of_duplicate(self, dedup_key: str) -> str | None:
        return self.conn.execute(_DUPLICATE, {"dedup_key": dedup_key}).scalar()

    def automatic_count_since(self, recipient: str, since: datetime) -> int:
        return self.conn.execute(
            _AUTOMATIC_SINCE, {"recipient": recipient, "since": since}
        ).scalar_one()

    def tickets_opened_since(self, requester: str, since: datetime) -> int:
        """Tickets `requester` opened since `since` (index ix_tickets_requester_created)."""
        return self.conn.execute(
            _OPENED_SINCE, {"requester": requester, "since": since}
        ).scalar_one()

    def latest_open_ticket_since(self, requester: str, since: datetime) -> TicketRef | None:
        """The newest ticket `requester` opened since `since` that is not closed, if any."""
        row = self.conn.execute(
            _LATEST_OPEN_SINCE, {"requester": requester, "since": since}
        ).first()
        return self._ref(row) if row else None

    def notification(self, message_id: str) -> tuple[str, str | None] | None:
        """(message_id, ticket key) of an outbox row of ours, or None."""
        row = self.conn.execute(_NOTIFICATION, {"message_id": message_id}).first()
        return (row[0], row[1]) if row else None

    def message_id_known(self, message_id: str) -> bool:
        return self.conn.execute(_MESSAGE_ID_KNOWN, {"message_id": message_id}).first() is not None

    def recipient_of(self, message_id: str) -> str | None:
        """Who one of our notifications was sent to (None when it is not ours)."""
        return self.conn.execute(_RECIPIENT_OF, {"message_id": message_id}).scalar()

    def requester_language(self, requester: str) -> tuple[str, bool] | None:
        """(language, set by a consultant) of `requester`: the latest one a consultant set
        with `#language` on any of their tickets, else their latest ticket's; None for a
        new requester."""
        chosen, latest = self.conn.execute(_LANGUAGES, {"requester": requester}).one()
        if chosen:
            return chosen, True
        return (latest, False) if latest else None

    def last_notification_to(self, recipient: str) -> str | None:
        return self.conn.execute(_LAST_NOTIFICATION_TO, {"recipient": recipient}).scalar()

    def _ref(self, row) -> TicketRef:
        addrs = self.conn.execute(_ADDRESSES, {"ticket": row.id}).scalars()
        details = self.conn.execute(_DETAILS, {"ticket": row.id}).first()
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


_BY_KEY = select(tickets).where(tickets.c.key == bindparam("key"))
_BY_MESSAGE_IDS = (
    select(tickets)
    .join(messages, messages.c.ticket_id == tickets.c.id)
    .where(messages.c.message_id.in_(bindparam("ids", expanding=True)))
    .order_by(messages.c.id.desc())
    .limit(1)
)
_DUPLICATE = (
    select(tickets.c.key)
    .join(messages, messages.c.ticket_id == tickets.c.id)
    .where(messages.c.dedup_key == bindparam("dedup_key"))
)
_AUTOMATIC_SINCE = (
    select(func.count())
    .select_from(outbox)
    .where(
        outbox.c.recipient == bindparam("recipient"),
        outbox.c.automatic.is_(True),
        outbox.c.created_at >= bindparam("since"),
    )
)
_OPENED_SINCE = (
    select(func.count())
    .select_from(tickets)
    .where(
        tickets.c.requester == bindparam("requester"), tickets.c.created_at >= bindparam("since")
    )
)
_LATEST_OPEN_SINCE = (
    select(tickets)
    .where(
        tickets.c.requester == bindparam("requester"),
        tickets.c.created_at >= bindparam("since"),
        tickets.c.status != st.CLOSED,
    )
    .order_by(tickets.c.created_at.desc(), tickets.c.id.desc())
    .limit(1)
)
_NOTIFICATION = (
    select(outbox.c.message_id, tickets.c.key)
    .outerjoin(tickets, tickets.c.id == outbox.c.ticket_id)
    .where(outbox.c.message_id == bindparam("message_id"))
)
_MESSAGE_ID_KNOWN = (
    select(messages.c.id).where(messages.c.message_id == bindparam("message_id")).limit(1)
)
_RECIPIENT_OF = select(outbox.c.recipient).where(outbox.c.message_id == bindparam("message_id"))
_LAST_NOTIFICATION_TO = (
    select(outbox.c.message_id)
    .where(outbox.c.recipient == bindparam("recipient"))
    .order_by(outbox.c.id.desc())
    .limit(1)
)
_LANGUAGE_CHOSEN = (
    select(events.c.to_value)
    .join(tickets, tickets.c.id == events.c.ticket_id)
    .where(tickets.c.requester == bindparam("requester"), events.c.kind == "language")
    .order_by(events.c.id.desc())
    .limit(1)
)
_LATEST_LANGUAGE = (
    select(ticket_details.c.language)
    .join(tickets, tickets.c.id == ticket_details.c.ticket_id)
    .where(tickets.c.requester == bindparam("requester"))
    .order_by(tickets.c.id.desc())
    .limit(1)
)
_LANGUAGES = select(  # one round trip for both: asked for every new request and reply
    _LANGUAGE_CHOSEN.scalar_subquery(), _LATEST_LANGUAGE.scalar_subquery()
)
_ADDRESSES = select(participants.c.address).where(participants.c.ticket_id == bindparam("ticket"))
_DETAILS = select(ticket_details).where(ticket_details.c.ticket_id == bindparam("ticket"))
