"""Service-level objectives: deadlines in business time and the state reached at each moment.

Reference ticket: critical, opened Friday 6 March 2026 16:30 (Europe/Zurich); Friday closes
at 17:00, Monday 9 March opens at 08:00 (no Bern holiday around those dates).
"""

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from maildesk.config.sla import DEFAULT_OBJECTIVES, Objective
from maildesk.desk.business_hours import BusinessCalendar
from maildesk.desk.sla import evaluate

ZURICH = ZoneInfo("Europe/Zurich")
H = timedelta(hours=1)
M = timedelta(minutes=1)
OPENED = datetime(2026, 3, 6, 16, 30, tzinfo=ZURICH)


def local(d: int, h: int, mi: int = 0) -> datetime:
    return datetime(2026, 3, d, h, mi, tzinfo=ZURICH)


@pytest.fixture(scope="module")
def calendar() -> BusinessCalendar:
    return BusinessCalendar()


def first_response(calendar, now, done_at=None, share=0.75):
    objective = DEFAULT_OBJECTIVES["critical"].first_response
    return evaluate(
        calendar, "first_response", OPENED, objective, now, done_at=done_at, at_risk_share=share
    )


def test_report_fields(calendar):
    report = first_response(calendar, local(6, 16, 40))
    assert report.name == "first_response"
    assert report.objective == H
    # 30 min on Friday + 30 min on Monday -> Monday 08:30.
    assert report.deadline == local(9, 8, 30)
    assert report.deadline.tzinfo == ZURICH
    assert report.used == 10 * M


@pytest.mark.parametrize(
    ("now", "used", "state"),
    [
        (local(6, 16, 40), 10 * M, "ok"),
        # The weekend is not business time: Saturday still shows the 30 min of Friday.
        (local(7, 10), 30 * M, "ok"),
        # 30 min Friday + 14 min Monday = 44 min, below 0.75 x 60 = 45 min.
        (local(9, 8, 14), 44 * M, "ok"),
        (local(9, 8, 15), 45 * M, "at_risk"),
        # At the deadline itself the objective is used up but not yet missed.
        (local(9, 8, 30), 60 * M, "at_risk"),
        (local(9, 8, 31), 61 * M, "breached"),
        (local(10, 9), 10 * H, "breached"),  # 30 min + 8.5 h Monday + 1 h Tuesday
    ],
)
def test_running_states(calendar, now, used, state):
    report = first_response(calendar, now)
    assert report.used == used
    assert report.state == state


@pytest.mark.parametrize(
    ("done_at", "used", "state"),
    [
        (local(6, 16, 50), 20 * M, "met"),
        (local(9, 8, 20), 50 * M, "met"),
        (local(9, 8, 30), 60 * M, "met"),  # answered exactly on the deadline
        (local(9, 8, 31), 61 * M, "breached"),
    ],
)
def test_done_states_ignore_now(calendar, done_at, used, state):
    # `now` is weeks later: once done, only the moment of completion counts.
    report = first_response(calendar, local(30, 10), done_at=done_at)
    assert report.used == used
    assert report.state == state


def test_resolution_objective(calendar):
    objective = DEFAULT_OBJECTIVES["critical"].resolution
    # 8 h: 30 min Friday, 4 h Monday morning (4.5 h at 12:00), 3.5 h from 13:30 -> 17:00.
    report = evaluate(calendar, "resolution", OPENED, objective, local(9, 14, 59))
    assert report.deadline == local(9, 17)
    # At-risk from 6 h used: 4.5 h at 12:00, + 1.5 h from 13:30 -> Monday 15:00.
    assert report.state == "ok"
    assert evaluate(calendar, "resolution", OPENED, objective, local(9, 15)).state == "at_risk"
    assert evaluate(calendar, "resolution", OPENED, objective, local(9, 17, 1)).state == "breached"


def test_custom_at_risk_share(calendar):
    # Half of 1 h = 30 min, all used on Friday: at risk over the whole weekend.
    assert first_response(calendar, local(7, 10), share=0.5).state == "at_risk"
    assert first_response(calendar, local(6, 16, 59), share=0.5).state == "ok"


def test_default_objectives_grow_as_criticality_drops():
    levels = [DEFAULT_OBJECTIVES[k] for k in ("critical", "high", "medium", "low")]
    assert set(DEFAULT_OBJECTIVES) == {"critical", "high", "medium", "low"}
    for more, less in itertools.pairwise(levels):
        assert more.first_response < less.first_response
        assert more.resolution < less.resolution


def test_objective_validation():
    with pytest.raises(ValueError, match="positive"):
        Objective(timedelta(0), H)
    with pytest.raises(ValueError, match="after the resolution"):
        Objective(2 * H, H)


def test_evaluate_refuses_bad_input(calendar):
    with pytest.raises(ValueError, match="at_risk_share"):
        first_response(calendar, local(9, 9), share=1.5)
    with pytest.raises(ValueError, match="objective must be positive"):
        evaluate(calendar, "first_response", OPENED, timedelta(0), local(9, 9))
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(calendar, "first_response", datetime(2026, 3, 6, 16, 30), H, local(9, 9))
