"""When consultants are warned about a ticket's service levels, and what the warning is.

Pure planning over `maildesk.desk.sla`: the reports of a ticket's two objectives, the
next instant one may change state, and the effects of one warning (a `sla_notices` row and
a `staff_sla_warning` to the assignee, or to every consultant). The runner that reads the
due tickets and has the writer apply these is `maildesk.store.sla_warnings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from maildesk.config import Config
from maildesk.desk.business_hours import BusinessCalendar
from maildesk.desk.effects import AUTO_GENERATED, Effect, Notify, RecordSlaNotice
from maildesk.desk.sla import SlaReport, evaluate

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


def next_check(
    calendar: BusinessCalendar,
    config: Config,
    ticket_id: int,
    created: datetime,
    found: list[SlaReport],
    sent: set[tuple[int, str, str]],
) -> datetime | None:
    """The next instant a warning may become due: an at-risk point or a deadline passing."""
    instants: list[datetime] = []
    for report in found:
        if report.state == "met":
            continue
        if (ticket_id, report.name, "at_risk") not in sent and report.state == "ok":
            share = report.objective * config.sla.at_risk_share
            instants.append(calendar.add_business_time(created, share))
        if (ticket_id, report.name, "breached") not in sent:
            instants.append(report.deadline + timedelta(seconds=1))
    return min(instants) if instants else None


def local_deadline(config: Config, report: SlaReport) -> str:
    zone = ZoneInfo(config.business_hours.timezone)
    return report.deadline.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def warning(
    config: Config, key: str, assignee: str | None, report: SlaReport
) -> tuple[Effect, ...]:
    """The notice that this warning was given (once per state), and the mail to staff."""
    staff = (assignee,) if assignee else config.staff.addresses
    extra = (
        ("objective", report.name),
        ("deadline", local_deadline(config, report)),
        ("state", report.state),
    )
    notes = tuple(
        Notify(
            "staff_sla_warning",
            address,
            "",
            key,
            auto_submitted=AUTO_GENERATED,
            extra=extra,
        )
        for address in staff
    )
    return (RecordSlaNotice(key, report.name, report.state), *notes)
