"""Warn consultants once per service-level threshold: the runner over due tickets.

Objectives run in business hours from the ticket's creation: the first response stops at
the first consultant action, the resolution at closure. A warning (`staff_sla_warning`)
goes out once when an objective becomes at risk and once when it is breached; the
`sla_notices` primary key makes "once" hold across restarts and instances. What to warn
about and when to look again is planned in `maildesk.desk.sla_warnings`; the writer
applies it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from maildesk import logs
from maildesk.clock import utc
from maildesk.config import Config
from maildesk.desk import status as st
from maildesk.desk.business_hours import BusinessCalendar
from maildesk.desk.effects import ScheduleSlaCheck
from maildesk.desk.labels import label
from maildesk.desk.sla import SlaReport
from maildesk.desk.sla_warnings import (
    WARN_STATES,
    Warning_,
    local_deadline,
    next_check,
    reports,
    warning,
)
from maildesk.store.db import reading
from maildesk.store.models import sla_notices, ticket_details, tickets
from maildesk.store.outbox import Notifier
from maildesk.store.writer import apply_effects

log = logging.getLogger("maildesk.sla")


def run(
    engine: Engine, config: Config, calendar: BusinessCalendar, notifier: Notifier, now: datetime
) -> list[Warning_]:
    """Look only at tickets whose next threshold has passed (`sla_check_at`, indexed)."""
    with reading(engine) as conn:
        rows = conn.execute(
            select(
                tickets.c.id,
                tickets.c.key,
                tickets.c.created_at,
                tickets.c.first_response_at,
                tickets.c.assignee,
                tickets.c.sla_check_at,
                ticket_details.c.criticality,
            )
            .join(ticket_details, ticket_details.c.ticket_id == tickets.c.id)
            .where(tickets.c.sla_check_at <= now, tickets.c.status != st.CLOSED)
            .order_by(tickets.c.sla_check_at)
        ).all()
        ids = [row.id for row in rows]
        sent = (
            {
                (n.ticket_id, n.objective, n.state)
                for n in conn.execute(select(sla_notices).where(sla_notices.c.ticket_id.in_(ids)))
            }
            if ids
            else set()
        )
    warned: list[Warning_] = []
    for row in rows:
        first = utc(row.first_response_at) if row.first_response_at else None
        created = utc(row.created_at)
        found = reports(calendar, config, row.criticality, created, first, None, now)
        for report in found:
            key = (row.id, report.name, report.state)
            if report.state in WARN_STATES and key not in sent:
                if _warn(engine, config, notifier, row, report, now):
                    warned.append(Warning_(row.key, report.name, report.state))
                sent.add(key)
        when = next_check(calendar, config, row.id, created, found, sent)
        with engine.begin() as conn:
            effect = ScheduleSlaCheck(row.key, row.sla_check_at, when)
            apply_effects(conn, (effect,), now, notifier, f"sla-check:{row.key}")
    return warned


def _warn(
    engine: Engine, config: Config, notifier: Notifier, row, report: SlaReport, now: datetime
) -> bool:
    effects = warning(config, row.key, row.assignee, report)
    try:
        with engine.begin() as conn:
            apply_effects(
                conn, effects, now, notifier, f"sla:{row.key}:{report.name}:{report.state}"
            )
    except IntegrityError:
        return False  # another instance warned first
    lang = config.templates.default_language
    logs.decision(
        log,
        ticket=row.key,
        action="sla-warning",
        objective=report.name,
        state=report.state,
        deadline=local_deadline(config, report),
        label=label("sla_state", report.state, lang),
    )
    return True
