"""Run the morning digest (planned in `maildesk.desk.digest`) from the time rules.

Cheap on every tick but the first of the day: before the digest's time, on a day off, or
once the day is recorded as done (a `settings` row `digest:<day>`), nothing is read. A
run reads the open tickets once, and each consultant's digest is stored by the one writer
in its own transaction; the outbox's unique (cause, recipient, template) keeps it to one
a day across instances and restarts (a run cut short at 08:05 and run again at 08:30
stores only what is missing).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.exc import IntegrityError

from maildesk import logs
from maildesk.clock import utc
from maildesk.config import Config
from maildesk.desk import digest
from maildesk.desk import status as st
from maildesk.desk.business_hours import BusinessCalendar
from maildesk.desk.effects import RecordDigestDay
from maildesk.store.db import reading
from maildesk.store.models import outbox, settings, ticket_details, tickets
from maildesk.store.outbox import Notifier
from maildesk.store.writer import apply_effects

log = logging.getLogger("maildesk.digest")


def run(
    engine: Engine, config: Config, calendar: BusinessCalendar, notifier: Notifier, now: datetime
) -> list[str]:
    """The addresses a digest was stored for by this run."""
    day = digest.due_day(now, config, calendar)
    if day is None:
        return []
    addresses = digest.recipients(config)
    causes = {digest.cause_of(a, day): a for a in addresses}
    with reading(engine) as conn:
        if conn.execute(select(settings.c.name).where(settings.c.name == f"digest:{day}")).first():
            return []
        done = set(
            conn.execute(
                select(outbox.c.cause).where(
                    outbox.c.cause.in_(list(causes)), outbox.c.template == "staff_digest"
                )
            ).scalars()
        )
        pending = tuple(a for c, a in causes.items() if c not in done)
        rows = _open_tickets(conn) if pending else []
    sent = []
    for mail in digest.plan(rows, config, calendar, now, day, pending):
        try:
            with engine.begin() as conn:
                if conn.execute(_STORED, {"cause": mail.cause}).first():
                    continue  # another instance stored it since we looked
                apply_effects(conn, (mail,), now, notifier, mail.cause)
        except IntegrityError:
            continue  # another instance stored it first
        sent.append(mail.recipient)
    try:
        with engine.begin() as conn:
            apply_effects(conn, (RecordDigestDay(day.isoformat()),), now, notifier, "digest")
    except IntegrityError:
        pass  # another instance recorded the day
    if sent:
        logs.decision(log, action="digest", day=day.isoformat(), to=",".join(sent))
    return sent


_STORED = select(outbox.c.id).where(
    outbox.c.cause == bindparam("cause"), outbox.c.template == "staff_digest"
)


def _open_tickets(conn) -> list[digest.Row]:
    rows = conn.execute(
        select(
            tickets.c.key,
            tickets.c.subject,
            tickets.c.queue,
            tickets.c.status,
            tickets.c.assignee,
            tickets.c.created_at,
            tickets.c.first_response_at,
            tickets.c.waiting_since,
            tickets.c.reminders_sent,
            ticket_details.c.criticality,
        )
        .join(ticket_details, ticket_details.c.ticket_id == tickets.c.id)
        .where(tickets.c.status != st.CLOSED)
        .order_by(tickets.c.id)
    )
    return [
        digest.Row(
            key=r.key,
            subject=r.subject,
            queue=r.queue,
            status=r.status,
            assignee=r.assignee,
            criticality=r.criticality,
            created_at=utc(r.created_at),
            first_response_at=utc(r.first_response_at) if r.first_response_at else None,
            waiting_since=utc(r.waiting_since) if r.waiting_since else None,
            reminders_sent=r.reminders_sent,
        )
        for r in rows
    ]
