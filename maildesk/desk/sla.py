"""Service-level objectives per criticality and their evaluation in business time.

Default objectives (business time, see maildesk.desk.business_hours):

| criticality | first response | resolution |
|---|---|---|
| critical | 1 h | 8 h (about one business day) |
| high | 4 h | 16 h (about two business days) |
| medium | 8 h | 40 h (about one business week) |
| low | 16 h | 80 h (about two business weeks) |

It only computes a report: it never reads the clock, sends reminders or changes a ticket."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from maildesk.desk.business_hours import BusinessCalendar

SlaState = Literal["met", "ok", "at_risk", "breached"]


@dataclass(frozen=True)
class SlaReport:
    """Where one objective (e.g. "first_response") of one ticket stands at a given moment."""

    name: str
    deadline: datetime
    used: timedelta
    objective: timedelta
    state: SlaState


def _state(
    deadline: datetime, used: timedelta, objective: timedelta, now: datetime, share: float
) -> SlaState:
    if now > deadline:
        return "breached"
    # Compare in business time, not wall time: a ticket idle over a weekend does not get riskier.
    return "at_risk" if used / objective >= share else "ok"


def evaluate(
    calendar: BusinessCalendar,
    name: str,
    started: datetime,
    objective: timedelta,
    now: datetime,
    *,
    done_at: datetime | None = None,
    at_risk_share: float = 0.75,
) -> SlaReport:
    """Report on an objective started at `started`; `done_at` set means the clock has stopped.

    Done by the deadline (inclusive) is "met", later is "breached"; while running, past the
    deadline is "breached", at least `at_risk_share` of the objective used is "at_risk", else "ok".
    """
    if objective <= timedelta(0):
        raise ValueError(f"objective must be positive, got {objective}")
    if not 0 < at_risk_share <= 1:
        raise ValueError(f"at_risk_share must be in (0, 1], got {at_risk_share}")
    deadline = calendar.add_business_time(started, objective)
    if done_at is not None:
        used = calendar.business_time_between(started, done_at)
        state: SlaState = "met" if done_at <= deadline else "breached"
    else:
        used = calendar.business_time_between(started, now)
        state = _state(deadline, used, objective, now, at_risk_share)
    return SlaReport(name=name, deadline=deadline, used=used, objective=objective, state=state)
