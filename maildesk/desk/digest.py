"""The consultants' morning digest, planned purely from rows of open tickets and `now`.

Each business day (Europe/Zurich by default, Bern's holidays skipped) from `[digest] at`,
each consultant who wants it gets one mail: their open tickets by status, the unassigned
new/qualified tickets of their queues, the tickets whose service level is at risk or
breached (with the deadline), and the tickets waiting for a customer with the date of the
next reminder or closure. Nothing goes to a consultant with nothing to show (unless
`send_empty`). `maildesk.store.digest` reads the rows and has the writer store the mails;
the cause `digest:<address>:<day>` makes each consultant's digest of a day unique, however
many instances run the time rules and however often.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from maildesk.config import Config
from maildesk.desk import status as st
from maildesk.desk.business_hours import BusinessCalendar
from maildesk.desk.effects import SendDigest
from maildesk.desk.sla_warnings import WARN_STATES, local_deadline, reports

UNASSIGNED = (st.NEW, st.QUALIFIED)


@dataclass(frozen=True)
class Row:
    """An open ticket as the digest reads it."""

    key: str
    subject: str
    queue: str
    status: str
    assignee: str | None
    criticality: str
    created_at: datetime
    first_response_at: datetime | None
    waiting_since: datetime | None
    reminders_sent: int


def due_day(now: datetime, config: Config, calendar: BusinessCalendar) -> date | None:
    """Today (local), when it is a business day and the digest's time has come."""
    local = now.astimezone(ZoneInfo(config.business_hours.timezone))
    if local.hour * 60 + local.minute < config.digest.minutes:
        return None
    day = local.date()
    return day if calendar.intervals_on(day) else None


def recipients(config: Config) -> tuple[str, ...]:
    return tuple(a for a in config.staff.addresses if config.staff.person(a).digest)


def cause_of(address: str, day: date) -> str:
    return f"digest:{address}:{day.isoformat()}"


def plan(
    rows: list[Row],
    config: Config,
    calendar: BusinessCalendar,
    now: datetime,
    day: date,
    addresses: tuple[str, ...],
) -> tuple[SendDigest, ...]:
    """One digest per consultant in `addresses` who has something to show (or all, with
    `send_empty`): codes and dates only; the template words them in their language."""
    at_risk = {row.key: _sla(row, config, calendar, now) for row in rows}
    waiting = {row.key: _next_step(row, config) for row in rows}
    mails = []
    for address in addresses:
        person = config.staff.person(address)
        queues = set(person.queues) or {q.name for q in config.queues}
        mine = [r for r in rows if r.assignee == address]
        free = [r for r in rows if not r.assignee and r.status in UNASSIGNED and r.queue in queues]
        watched = mine + [r for r in rows if not r.assignee and r.queue in queues]
        digest = {
            "date": f"{day:%d.%m.%Y}",
            "mine": _by_status(mine),
            "unassigned": [_ticket(r) for r in free],
            "sla": [_ticket(r) | s for r in watched for s in at_risk[r.key]],
            "waiting": [_ticket(r) | waiting[r.key] for r in mine if waiting[r.key]],
        }
        shown = any(digest[k] for k in ("mine", "unassigned", "sla", "waiting"))
        if shown or config.digest.send_empty:
            language = person.language or config.templates.default_language
            mails.append(SendDigest(address, language, cause_of(address, day), digest))
    return tuple(mails)


def _ticket(row: Row) -> dict:
    return {"key": row.key, "subject": row.subject, "status": row.status, "queue": row.queue}


def _by_status(rows: list[Row]) -> list[dict]:
    return [
        {"status": status, "tickets": [_ticket(r) for r in rows if r.status == status]}
        for status in st.STATUSES
        if any(r.status == status for r in rows)
    ]


def _sla(row: Row, config: Config, calendar: BusinessCalendar, now: datetime) -> list[dict]:
    found = reports(
        calendar, config, row.criticality, row.created_at, row.first_response_at, None, now
    )
    return [
        {"objective": r.name, "state": r.state, "deadline": local_deadline(config, r)}
        for r in found
        if r.state in WARN_STATES
    ]


def _next_step(row: Row, config: Config) -> dict | None:
    if row.status != st.WAITING_CUSTOMER or row.waiting_since is None:
        return None
    cfg = config.reminders
    step, days = (
        ("reminder_1", cfg.first_days)
        if row.reminders_sent < 1
        else ("reminder_2", cfg.second_days)
        if row.reminders_sent < 2
        else ("auto_closed", cfg.close_days)
    )
    on = row.waiting_since + timedelta(days=days)
    zone = ZoneInfo(config.business_hours.timezone)
    return {"next": step, "on": f"{on.astimezone(zone):%d.%m.%Y}"}
