"""The scheduler run twice, or by two processes at once: every reminder goes out once.

Thirty requests wait for their customers; `maildesk tick` is then run repeatedly at the
same instant and as two processes started together against one database (SQLite and
PostgreSQL). The outbox must hold each reminder and each closure notice exactly once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from maildesk import config as config_module
from maildesk.daemon.app import Services, build
from maildesk.daemon.tick import tick
from maildesk.desk.lifecycle import Change
from maildesk.store import edits as manage
from maildesk.store.models import outbox, tickets
from maildesk.store.spool import store
from tests.integration.daemon import write_config
from tests.mail import message

# Monday 2 March 2026 10:00 in Zurich; the library takes instants in UTC, as the CLI passes them.
START = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Europe/Zurich")).astimezone(UTC)
COUNT = 30
LADDER = ("reminder_1", "reminder_2", "auto_closed")


def waiting_desk(tmp_path: Path, db_url: str) -> tuple[Path, list[str]]:
    """A desk whose thirty tickets all wait for their customers since START."""
    cfg, _ = write_config(tmp_path, db_url, digest=True)  # the digest is part of the tick
    services = build(config_module.load(cfg))
    try:
        keys = []
        for i in range(COUNT):
            raw = message(sender=f"Customer {i} <c{i}@client{i}.ch>", message_id=f"<r{i}@c{i}.ch>")
            inbound_id = store(services.engine, raw, source="ingest", now=START, rcpt_tos=())
            keys.append(services.worker.process(inbound_id, START).ticket)
        for key in keys:
            wanted = Change(status="waiting_customer")
            manage.change(services, key, wanted, "consultant@help.example", START)
    finally:
        services.engine.dispose()
    assert len(set(keys)) == COUNT
    return cfg, keys


def ladder_rows(services: Services) -> Counter[tuple[str, str]]:
    with services.engine.connect() as conn:
        rows = conn.execute(
            select(tickets.c.key, outbox.c.template, func.count())
            .join(tickets, tickets.c.id == outbox.c.ticket_id)
            .where(outbox.c.template.in_(LADDER))
            .group_by(tickets.c.key, outbox.c.template)
        ).all()
    return Counter({(key, template): n for key, template, n in rows})


def expected(keys: list[str], templates: tuple[str, ...]) -> Counter[tuple[str, str]]:
    return Counter({(key, t): 1 for key in keys for t in templates})


def took(results: list[dict], step: str) -> list[str]:
    """Tickets the given results claim to have handled for `step`, duplicates kept."""
    if step == "auto_closed":
        return [key for r in results for key in r["closed"]]
    return [x["ticket"] for r in results for x in r["reminders"] if x["template"] == step]


def test_ticking_again_at_the_same_instant_does_nothing_more(db_url, tmp_path):
    cfg, keys = waiting_desk(tmp_path, db_url)
    services = build(config_module.load(cfg))
    try:
        for days, step in ((10, "reminder_1"), (15, "reminder_2"), (20, "auto_closed")):
            now = START + timedelta(days=days)
            first, second, third = (tick(services, now) for _ in range(3))
            assert sorted(took([first], step)) == sorted(keys)
            assert took([second, third], step) == []
            assert second["reminders"] == third["reminders"] == []
            assert second["closed"] == third["closed"] == []
        assert ladder_rows(services) == expected(keys, LADDER)
    finally:
        services.engine.dispose()


def run_together(cfg: Path, now: datetime, processes: int = 2) -> list[dict]:
    command = [sys.executable, "-m", "maildesk", "--config", str(cfg), "tick"]
    started = [
        subprocess.Popen(
            [*command, "--now", now.isoformat()],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    results = []
    for proc in started:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    return results


def test_two_tick_processes_at_once_send_every_reminder_once(db_url, tmp_path):
    cfg, keys = waiting_desk(tmp_path, db_url)
    for days, step in ((10, "reminder_1"), (15, "reminder_2"), (20, "auto_closed")):
        results = run_together(cfg, START + timedelta(days=days))
        # Between them the two processes handled every ticket, and no ticket twice.
        assert sorted(took(results, step)) == sorted(keys)
        others = [s for s in LADDER if s != step]
        assert all(took(results, s) == [] for s in others)
        warned = [
            (w["ticket"], w["objective"], w["state"]) for r in results for w in r["sla_warnings"]
        ]
        assert len(warned) == len(set(warned))
        digests = [address for r in results for address in r["digests"]]
        assert len(digests) == len(set(digests))  # the morning digest: once per consultant

    services = build(config_module.load(cfg))
    try:
        assert ladder_rows(services) == expected(keys, LADDER)
        with services.engine.connect() as conn:
            sent = conn.execute(
                select(outbox.c.cause, func.count())
                .where(outbox.c.template == "staff_digest")
                .group_by(outbox.c.cause)
            ).all()
        assert sent  # three business days, each digest once
        assert all(count == 1 for _, count in sent), sent
        with services.engine.connect() as conn:
            statuses = Counter(conn.execute(select(tickets.c.status)).scalars())
        assert statuses == Counter({"closed": COUNT})
    finally:
        services.engine.dispose()
