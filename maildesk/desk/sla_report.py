"""The service-level report: how the desk met its objectives over a period (pure).

For the tickets opened in the period, per queue and criticality: how many were opened;
first responses and resolutions met (done by the deadline), breached (done late, or not
done and past the deadline as of the report's `now`) and still open (not done, deadline
not passed); the median and 90th percentile business time to the first response (of the
tickets that had one). The median of an even count is the mean of the middle two; the
90th percentile is the nearest rank (the value at rank ceil(0.9 n)), so it is always a
time that was actually taken. Deadlines and times are in business hours (desk/sla.py).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from maildesk.desk.business_hours import BusinessCalendar
from maildesk.desk.sla import evaluate
from maildesk.desk.status import CRITICALITIES

ORDER = tuple(reversed(CRITICALITIES))  # critical first


@dataclass(frozen=True)
class TicketFacts:
    key: str
    queue: str
    criticality: str
    created_at: datetime
    first_response_at: datetime | None
    closed_at: datetime | None


@dataclass
class Tally:
    met: int = 0
    breached: int = 0
    open: int = 0

    def count(self, state: str) -> None:
        if state in ("met", "breached"):
            setattr(self, state, getattr(self, state) + 1)
        else:
            self.open += 1  # ok or at_risk: running, deadline not passed


@dataclass
class Row:
    queue: str
    criticality: str
    opened: int = 0
    first_response: Tally = field(default_factory=Tally)
    resolution: Tally = field(default_factory=Tally)
    response_times: list[timedelta] = field(default_factory=list)

    @property
    def median_first_response(self) -> timedelta | None:
        return statistics.median(self.response_times) if self.response_times else None

    @property
    def p90_first_response(self) -> timedelta | None:
        if not self.response_times:
            return None
        ordered = sorted(self.response_times)
        return ordered[math.ceil(0.9 * len(ordered)) - 1]

    def as_dict(self) -> dict[str, object]:
        return {
            "queue": self.queue,
            "criticality": self.criticality,
            "opened": self.opened,
            "first_response_met": self.first_response.met,
            "first_response_breached": self.first_response.breached,
            "first_response_open": self.first_response.open,
            "resolution_met": self.resolution.met,
            "resolution_breached": self.resolution.breached,
            "resolution_open": self.resolution.open,
            "first_response_median_hours": _hours(self.median_first_response),
            "first_response_p90_hours": _hours(self.p90_first_response),
        }


def _hours(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 3600, 2)


def summarise(
    tickets: Iterable[TicketFacts],
    calendar: BusinessCalendar,
    objectives: Mapping[str, object],
    now: datetime,
) -> list[Row]:
    """One row per (queue, criticality) that had tickets, queues in name order, critical
    first; `objectives` maps a criticality to its Objective (first_response, resolution)."""
    rows: dict[tuple[str, str], Row] = {}
    for t in tickets:
        row = rows.setdefault((t.queue, t.criticality), Row(t.queue, t.criticality))
        row.opened += 1
        objective = objectives[t.criticality]
        first = evaluate(
            calendar,
            "first_response",
            t.created_at,
            objective.first_response,  # type: ignore[attr-defined]
            now,
            done_at=t.first_response_at,
        )
        row.first_response.count(first.state)
        if t.first_response_at is not None:
            row.response_times.append(first.used)
        resolution = evaluate(
            calendar,
            "resolution",
            t.created_at,
            objective.resolution,  # type: ignore[attr-defined]
            now,
            done_at=t.closed_at,
        )
        row.resolution.count(resolution.state)
    rank = {c: i for i, c in enumerate(ORDER)}
    return sorted(rows.values(), key=lambda r: (r.queue, rank.get(r.criticality, 99)))
