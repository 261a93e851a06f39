"""The digest planner, purely: which day it is due, who gets what, from rows and `now`."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from maildesk.config import from_mapping
from maildesk.desk.business_hours import BusinessCalendar
from maildesk.desk.digest import Row, due_day, plan

ZURICH = ZoneInfo("Europe/Zurich")
LUC, ANNA = "luc@help.example", "anna@help.example"
CONFIG = from_mapping(
    {
        "staff": {
            "addresses": [LUC, ANNA],
            "people": {ANNA: {"queues": ["consulting"]}},
        }
    }
)
CALENDAR = BusinessCalendar(CONFIG.business_hours)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 5, day, hour, minute, tzinfo=ZURICH).astimezone(UTC)


def row(key: str, status: str, assignee: str | None = None, **kw) -> Row:
    values = {
        "subject": f"Sujet {key}",
        "queue": "support",
        "criticality": "low",
        "created_at": at(22, 7),
        "first_response_at": None,
        "waiting_since": None,
        "reminders_sent": 0,
    } | kw
    return Row(key=key, status=status, assignee=assignee, **values)


def test_due_on_business_days_from_eight_only():
    assert due_day(at(22, 7, 59), CONFIG, CALENDAR) is None
    assert due_day(at(22, 8, 0), CONFIG, CALENDAR).isoformat() == "2026-05-22"  # Friday
    assert due_day(at(22, 17, 0), CONFIG, CALENDAR).isoformat() == "2026-05-22"
    assert due_day(at(23, 9), CONFIG, CALENDAR) is None  # Saturday
    assert due_day(at(25, 9), CONFIG, CALENDAR) is None  # Whit Monday, a Bern holiday
    assert due_day(at(26, 8), CONFIG, CALENDAR).isoformat() == "2026-05-26"


def test_sections_per_consultant_and_nothing_for_nothing():
    now = at(22, 8)
    rows = [
        row("SUP-1", "new"),
        row("SUP-2", "waiting_customer", LUC, waiting_since=at(21, 12), reminders_sent=1),
        row("SUP-3", "in_progress", LUC),
    ]

    (luc,) = plan(rows, CONFIG, CALENDAR, now, now.date(), (LUC, ANNA))

    assert luc.recipient == LUC
    assert luc.cause == "digest:luc@help.example:2026-05-22"
    digest = luc.digest
    assert [(g["status"], [t["key"] for t in g["tickets"]]) for g in digest["mine"]] == [
        ("in_progress", ["SUP-3"]),
        ("waiting_customer", ["SUP-2"]),
    ]
    assert [t["key"] for t in digest["unassigned"]] == ["SUP-1"]
    assert [(w["key"], w["next"], w["on"]) for w in digest["waiting"]] == [
        ("SUP-2", "reminder_2", "05.06.2026")
    ]
    assert digest["sla"] == []  # low criticality, created an hour ago
