"""Service levels of a critical request opened late on a Friday, on SQLite and PostgreSQL.

`tickets show` reports the first-response objective in business time (one business hour
for a critical request, domain §3 and §7), the scheduler warns the consultants once per
state however often it runs, and a consultant's first action stops that clock.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from maildesk.daemon.app import Services
from maildesk.daemon.tick import tick
from maildesk.desk.labels import label
from maildesk.desk.lifecycle import Change
from maildesk.store import edits as manage
from maildesk.store import reports as report
from maildesk.store.models import outbox
from maildesk.store.spool import store
from tests.mail import message

ZURICH = ZoneInfo("Europe/Zurich")
STAFF = ("consultant@help.example", "boss@help.example")
BODY = (
    "Bonjour,\n\nla paie ne peut plus être calculée, aucun contournement.\n\n"
    "Criticité : Critique\nVersion : 12.4\n"
)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in March 2026, given in Zurich wall-clock time, as maildesk takes it (UTC)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=ZURICH).astimezone(UTC)


CREATED = local(6, 16, 30)  # Friday, half an hour before closing


def critical_request(services: Services) -> str:
    raw = message(body=BODY, message_id="<payroll@acme.ch>")
    inbound_id = store(services.engine, raw, source="ingest", now=CREATED, rcpt_tos=())
    result = services.worker.process(inbound_id, CREATED)
    assert result.outcome == "created"
    return result.ticket


def sla(services: Services, key: str, now: datetime) -> dict[str, dict]:
    view = report.SlaView(services.config, services.calendar, now)
    shown = report.show_ticket(services.engine, key, view)
    assert shown is not None
    assert shown["criticality"] == "critical"
    return {r["objective"]: r for r in shown["sla"]}


def warnings(services: Services) -> list[tuple[str, str]]:
    with services.engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.recipient, outbox.c.subject)
            .where(outbox.c.template == "staff_sla_warning")
            .order_by(outbox.c.id)
        ).all()
    return [(r.recipient, r.subject) for r in rows]


@pytest.mark.parametrize(
    ("now", "state", "used"),
    [
        (local(6, 16, 35), "ok", "0:05:00"),
        (local(7, 12, 0), "ok", "0:30:00"),  # a weekend does not use the objective
        (local(9, 8, 14), "ok", "0:44:00"),
        (local(9, 8, 15), "at_risk", "0:45:00"),  # 75% used
        (local(9, 8, 20), "at_risk", "0:50:00"),
        (local(9, 8, 30), "at_risk", "1:00:00"),  # the deadline itself is still on time
        (local(9, 8, 31), "breached", "1:01:00"),
        (local(9, 9, 0), "breached", "1:30:00"),
    ],
)
def test_first_response_deadline_is_one_business_hour_later(services, now, state, used):
    key = critical_request(services)
    first = sla(services, key, now)["first_response"]
    assert first["deadline"] == "2026-03-09T08:30:00+01:00"
    assert (first["state"], first["business_time_used"]) == (state, used)
    assert first["objective_time"] == "1:00:00"


def test_resolution_runs_on_business_hours_too(services):
    key = critical_request(services)
    resolution = sla(services, key, local(9, 9, 0))["resolution"]
    # 8 business hours: 30 minutes on Friday, then Monday 08:00-12:00 and 13:30-17:00.
    assert resolution["deadline"] == "2026-03-09T17:00:00+01:00"
    assert resolution["state"] == "ok"


def test_consultants_are_warned_once_per_state_however_often_the_scheduler_runs(services):
    key = critical_request(services)
    instants = [
        local(6, 16, 35),
        local(7, 12, 0),
        local(9, 8, 10),
        local(9, 8, 20),
        local(9, 8, 20),
        local(9, 8, 25),
        local(9, 8, 29),
        local(9, 9, 0),
        local(9, 9, 0),
        local(9, 9, 5),
        local(9, 9, 30),
    ]
    reported = [(now, tick(services, now)["sla_warnings"]) for now in instants]

    assert [(now, found) for now, found in reported if found] == [
        (local(9, 8, 20), [{"ticket": key, "objective": "first_response", "state": "at_risk"}]),
        (local(9, 9, 0), [{"ticket": key, "objective": "first_response", "state": "breached"}]),
    ]
    sent = warnings(services)
    assert Counter(recipient for recipient, _ in sent) == Counter(dict.fromkeys(STAFF, 2))
    for state in ("at_risk", "breached"):
        words = label("sla_state", state, "fr")
        about = [r for r, subject in sent if subject.startswith(f"SLA {words} – ")]
        assert sorted(about) == sorted(STAFF)


def test_the_warning_names_the_first_response_objective_in_words(services):
    critical_request(services)
    tick(services, local(9, 9, 0))
    subjects = {subject for _, subject in warnings(services)}
    assert subjects
    assert all(subject.startswith("SLA dépassé – Délai de réponse : ") for subject in subjects)


def test_a_consultant_waiting_for_the_customer_meets_the_first_response(services):
    key = critical_request(services)
    manage.change(
        services, key, Change(status="waiting_customer"), "consultant@help.example", local(9, 8, 10)
    )

    for now in (local(9, 8, 20), local(9, 9, 0)):
        first = sla(services, key, now)["first_response"]
        assert (first["state"], first["business_time_used"]) == ("met", "0:40:00")
        assert tick(services, now)["sla_warnings"] == []
    assert warnings(services) == []


def test_a_first_response_after_the_deadline_stays_breached(services):
    key = critical_request(services)
    manage.change(
        services, key, Change(status="in_progress"), "consultant@help.example", local(9, 8, 40)
    )
    manage.change(
        services, key, Change(status="waiting_customer"), "consultant@help.example", local(9, 9)
    )
    first = sla(services, key, local(9, 10))["first_response"]
    assert (first["state"], first["business_time_used"]) == ("breached", "1:30:00")
