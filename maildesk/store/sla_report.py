"""The service-level report's data: the tickets opened in a period, and who handled them.

Reads the stored history only: each ticket's creation, first response and closure (set
by the same transactions that recorded their events) and its criticality; a consultant
handled a ticket when one of their events (a status change, an assignment, ...) on it
falls in the period. The arithmetic is pure, in maildesk/desk/sla_report.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from maildesk.clock import utc
from maildesk.config import Config
from maildesk.desk.business_hours import BusinessCalendar
from maildesk.desk.sla_report import TicketFacts, summarise
from maildesk.store.db import reading
from maildesk.store.models import events, ticket_details, tickets


def sla_report(
    engine: Engine,
    config: Config,
    start: datetime,
    end: datetime,
    now: datetime,
    queue: str | None = None,
) -> dict[str, Any]:
    """Tickets opened in [start, end), evaluated as of `now`; consultants' tickets handled."""
    query = (
        select(
            tickets.c.key,
            tickets.c.queue,
            func.coalesce(ticket_details.c.criticality, "medium").label("criticality"),
            tickets.c.created_at,
            tickets.c.first_response_at,
            tickets.c.closed_at,
        )
        .outerjoin(ticket_details, ticket_details.c.ticket_id == tickets.c.id)
        .where(tickets.c.created_at >= start, tickets.c.created_at < end)
        .order_by(tickets.c.id)
    )
    handled = (
        select(events.c.actor, func.count(func.distinct(events.c.ticket_id)).label("n"))
        .where(
            events.c.at >= start,
            events.c.at < end,
            events.c.actor.in_(config.staff.addresses),
        )
        .group_by(events.c.actor)
        .order_by(events.c.actor)
    )
    if queue:
        query = query.where(tickets.c.queue == queue)
        handled = handled.join(tickets, tickets.c.id == events.c.ticket_id).where(
            tickets.c.queue == queue
        )
    with reading(engine) as conn:
        facts = [
            TicketFacts(
                r.key,
                r.queue,
                r.criticality,
                utc(r.created_at),
                utc(r.first_response_at) if r.first_response_at else None,
                utc(r.closed_at) if r.closed_at else None,
            )
            for r in conn.execute(query)
        ]
        consultants = [
            {"consultant": r.actor, "tickets_handled": r.n} for r in conn.execute(handled)
        ]
    calendar = BusinessCalendar(config.business_hours)
    rows = summarise(facts, calendar, config.sla.objectives, utc(now))
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "as_of": utc(now).isoformat(),
        "queue": queue,
        "rows": [row.as_dict() for row in rows],
        "consultants": consultants,
    }
