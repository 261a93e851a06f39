"""The morning digest over a scripted week, on SQLite and PostgreSQL: Friday 22 May 2026
to Tuesday 26 May, Whit Monday (a public holiday in Bern) in between.

Each business day at 08:00 (Zurich) each consultant who wants it gets one digest, in
their language, with the right sections; nothing on the weekend or the holiday, nothing
for a consultant with nothing to show or who opted out, and only once a day however
often and on however many instances the time rules run (a restart at 08:30 included).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from maildesk.daemon.app import Services, build
from maildesk.daemon.tick import tick
from maildesk.desk.lifecycle import Change
from maildesk.store import edits as manage
from maildesk.store.models import outbox
from maildesk.store.spool import store
from tests.conftest import make_config
from tests.mail import message

ZURICH = ZoneInfo("Europe/Zurich")
LUC, ANNA, MARC = "luc@help.example", "anna@help.example", "marc@help.example"


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in May 2026, in Zurich wall-clock time, as maildesk takes it (UTC)."""
    return datetime(2026, 5, day, hour, minute, tzinfo=ZURICH).astimezone(UTC)


@pytest.fixture
def desk(db_url: str, tmp_path: Path):
    config = make_config(
        db_url,
        tmp_path,
        staff={
            "addresses": [LUC, ANNA, MARC],
            "people": {
                LUC: {"language": "de"},
                ANNA: {"digest": False},
                MARC: {"queues": ["consulting"]},  # nothing there: no digest
            },
        },
    )
    started: list[Services] = []

    def instance() -> Services:
        services = build(config)
        started.append(services)
        return services

    yield instance
    for services in started:
        services.engine.dispose()


def request(services: Services, number: int, body: str, at: datetime) -> str:
    raw = message(body=body, message_id=f"<req-{number}@acme.ch>", subject=f"Lohnlauf {number}")
    inbound_id = store(services.engine, raw, source="ingest", now=at, rcpt_tos=())
    result = services.worker.process(inbound_id, at)
    assert result.outcome == "created"
    return result.ticket


def digests(services: Services) -> list[tuple[str, datetime, bytes]]:
    with services.engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.recipient, outbox.c.created_at, outbox.c.raw, outbox.c.language)
            .where(outbox.c.template == "staff_digest")
            .order_by(outbox.c.id)
        ).all()
    return rows


def text(raw: bytes) -> str:
    from email import policy
    from email.parser import BytesParser

    body = BytesParser(policy=policy.default).parsebytes(raw).get_body(("plain",))
    assert body is not None
    return body.get_content().replace("\r\n", "\n")


def test_digest_over_a_week_with_a_bern_holiday(desk):
    first = desk()
    thursday = local(21, 10)
    unassigned = request(first, 1, "Bonjour,\nle calcul échoue.\nVersion 12.4\n", thursday)
    mine = request(first, 2, "Bonjour,\nla paie bloque.\nVersion 12.4\n", thursday)
    critical = request(first, 3, "Criticité : Critique\nTout est bloqué.\n", local(21, 11))
    manage.change(first, mine, Change(assignee=LUC), LUC, local(21, 12))
    manage.change(first, mine, Change(status="waiting_customer"), LUC, local(21, 12))

    ran = {}
    for when in (local(22, 7, 59), local(22, 8, 0), local(22, 8, 1)):
        ran[when] = tick(first, when)["digests"]
    restarted = desk()  # another instance, or the same one after a restart at 08:30
    ran[local(22, 8, 30)] = tick(restarted, local(22, 8, 30))["digests"]
    for day in (23, 24, 25, 26):  # Saturday, Sunday, Whit Monday, Tuesday
        for instance in (first, restarted):
            ran[local(day, 8, 0)] = (
                ran.get(local(day, 8, 0), []) + tick(instance, local(day, 8, 0))["digests"]
            )

    sent = digests(first)
    assert [(r.recipient, r.created_at.date().day) for r in sent] == [(LUC, 22), (LUC, 26)]
    assert {when: who for when, who in ran.items() if who} == {
        local(22, 8, 0): [LUC],
        local(26, 8, 0): [LUC],
    }
    friday = text(sent[0].raw)
    assert sent[0].language == "de"
    # Luc's open tickets by status, the unassigned ones of his queues, the service
    # levels to watch with their deadline, the waiting ticket's next reminder.
    assert "Ihre offenen Anfragen" in friday
    assert f"Wartet auf Kundenantwort (1)\n  - {mine} – Lohnlauf 2" in friday
    assert "Nicht zugewiesene Anfragen Ihrer Warteschlangen" in friday
    assert f"- {unassigned} – Lohnlauf 1 (Wartet auf Qualifizierung, support)" in friday
    assert f"- {critical} – Lohnlauf 3 – Reaktionszeit: überschritten, Frist 2026-05-21 12:00" in (
        friday
    )
    assert f"- {mine} – Lohnlauf 2 – 1. Erinnerung am 31.05.2026" in friday
    assert "Subject: Ihr Tag am 22.05.2026" in sent[0].raw.decode()
