"""Service levels of open tickets: report them, and warn consultants once per threshold.

Objectives run in business hours from the ticket's creation: the first response stops at
the first consultant action, the resolution at closure. A warning (`staff_sla_warning`)
goes out once when an objective becomes at risk and once when it is breached; the
`sla_notices` primary key makes "once" hold across restarts and instances.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from maildesk import logs
from maildesk import status as st
from maildesk.apply import apply_effects
from maildesk.business_hours import BusinessCalendar
from maildesk.clock import utc
from maildesk.config import Config
from maildesk.db import reading
from maildesk.effects import Notify
from maildesk.labels import label
from maildesk.models import sla_notices, ticket_details, tickets
from maildesk.outbound.compose import AUTO_GENERATED
from maildesk.outbound.notify import Notifier
from maildesk.sla import SlaReport, evaluate

log = logging.getLogger("maildesk.sla")
WARN_STATES = ("at_risk", "breached")


@dataclass(frozen=True)
class Warning_:
    ticket: str
    objective: str
    state: str


def reports(
    calendar: BusinessCalendar,
    config: Config,
    criticality: str,
    created: datetime,
    first_response: datetime | None,
    closed: datetime | None,
    now: datetime,
) -> list[SlaReport]:
    objective = config.sla.objectives.get(criticality) or config.sla.objectives["medium"]
    share = config.sla.at_risk_share
    return [
        evaluate(
            calendar,
            "first_response",
            created,
            objective.first_response,
            now,
            done_at=first_response,
            at_risk_share=share,
        ),
        evaluate(
            calendar,
            "resolution",
            created,
            objective.resolution,
            now,
            done_at=closed,
            at_risk_share=share,
        ),
    ]


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
        found = reports(calendar, config, row.criticality, utc(row.created_at), first, None, now)
        for report in found:
            key = (row.id, report.name, report.state)
            if report.state in WARN_STATES and key not in sent:
                if _warn(engine, config, notifier, row, report, now):
                    warned.append(Warning_(row.key, report.name, report.state))
                sent.add(key)
        _reschedule(engine, row, next_check(calendar, config, row, found, sent))
    return warned


def next_check(
    calendar: BusinessCalendar,
    config: Config,
    row,
    found: list[SlaReport],
    sent: set[tuple[int, str, str]],
) -> datetime | None:
    """The next instant a warning may become due: an at-risk point or a deadline passing."""
    instants: list[datetime] = []
    for report in found:
        if report.state == "met":
            continue
        if (row.id, report.name, "at_risk") not in sent and report.state == "ok":
            share = report.objective * config.sla.at_risk_share
            instants.append(calendar.add_business_time(utc(row.created_at), share))
        if (row.id, report.name, "breached") not in sent:
            instants.append(report.deadline + timedelta(seconds=1))
    return min(instants) if instants else None


def _reschedule(engine: Engine, row, when: datetime | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(tickets)
            .where(tickets.c.id == row.id, tickets.c.sla_check_at == row.sla_check_at)
            .values(sla_check_at=utc(when) if when else None)  # SQLite keeps no offset
        )


def _warn(
    engine: Engine,
    config: Config,
    notifier: Notifier,
    row,
    report: SlaReport,
    now: datetime,
) -> bool:
    staff = (row.assignee,) if row.assignee else config.staff.addresses
    lang = config.templates.default_language
    deadline = report.deadline.astimezone(calendar_zone(config)).strftime("%Y-%m-%d %H:%M")
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(sla_notices).values(
                    ticket_id=row.id, objective=report.name, state=report.state, at=now
                )
            )
            notes = tuple(
                Notify(
                    "staff_sla_warning",
                    address,
                    "",
                    row.key,
                    auto_submitted=AUTO_GENERATED,
                    language=lang,
                    extra=(
                        ("objective", report.name),
                        ("deadline", deadline),
                        ("state", report.state),
                    ),
                )
                for address in staff
            )
            apply_effects(conn, notes, now, notifier, f"sla:{row.key}:{report.name}:{report.state}")
    except IntegrityError:
        return False  # another instance warned first
    logs.decision(
        log,
        ticket=row.key,
        action="sla-warning",
        objective=report.name,
        state=report.state,
        deadline=deadline,
        label=label("sla_state", report.state, lang),
    )
    return True


def calendar_zone(config: Config):
    from zoneinfo import ZoneInfo

    return ZoneInfo(config.business_hours.timezone)
