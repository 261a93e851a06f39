"""Time one run of the time rules (`maildesk.daemon.tick.tick`) on a database of many tickets.

Builds a throw-away database (SQLite file in a temp dir, or a PostgreSQL database dropped
at the end) migrated with `maildesk.store.db.migrate`, bulk-fills `tickets` and
`ticket_details` (SQLAlchemy Core executemany on SQLite, COPY on PostgreSQL) in mixed
statuses, then times a first tick (everything already due acts at once, as after an
import) and a second one right after (nothing new is due: the cost of the scan alone).

    python bench/tick.py --tickets 1000000 [--db sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from run import database
from sqlalchemy import func, insert, select, text

from maildesk.config import Config, DatabaseConfig
from maildesk.daemon.app import build
from maildesk.daemon.tick import tick
from maildesk.store import db
from maildesk.store.models import events, outbox, sla_notices, ticket_details, tickets

NOW = datetime(2025, 3, 12, 9, 0, tzinfo=UTC)  # a Wednesday, within business hours
SHARES = {  # of all tickets; a desk's history is mostly closed requests
    "closed": 0.90,
    "waiting_customer": 0.04,
    "in_progress": 0.025,
    "new": 0.01,
    "qualified": 0.01,
    "escalated_spc": 0.004,
    "escalated_rpc": 0.004,
    "escalated_l2": 0.003,
    "consulting": 0.002,
    "waiting_patch": 0.002,
}
BATCH = 20_000
COLUMNS = [
    "id",
    "key",
    "queue",
    "number",
    "subject",
    "requester",
    "requester_name",
    "status",
    "resolution",
    "created_at",
    "updated_at",
    "assignee",
    "waiting_since",
    "reminders_sent",
    "first_response_at",
    "closed_at",
    "sla_check_at",
]
DETAIL_COLUMNS = [
    "ticket_id",
    "language",
    "criticality",
    "request_type",
    "fields",
    "missing_fields",
    "subject_quality",
]


def _steps_taken(waiting: datetime | None) -> int:
    if waiting is None:
        return 0
    days = (NOW - waiting).days
    return 2 if days >= 15 else 1 if days >= 10 else 0


def ticket_rows(n: int, rng: random.Random) -> tuple[dict, dict]:
    status = rng.choices(list(SHARES), list(SHARES.values()))[0]
    days = rng.uniform(30, 730) if status == "closed" else rng.uniform(0, 60)
    waiting = None
    if status == "waiting_customer":
        # Steady state: tickets waiting longer than the closure delay were closed already.
        waiting = NOW - timedelta(days=rng.uniform(0, 20))
        days = (NOW - waiting).days + rng.uniform(0, 20)
    created = NOW - timedelta(days=days)
    answered = None if status in ("new", "qualified") else created + timedelta(hours=2)
    closed = created + timedelta(days=rng.uniform(1, 20)) if status == "closed" else None
    lang = rng.choice(("fr", "de", "en"))
    ticket = {
        "id": n,
        "key": f"SUP-{n}",
        "queue": "support",
        "number": n,
        "subject": f"Erreur lors de la transmission SwissDec pour le client {n}",
        "requester": f"user{n}@c{n % 997}.example",
        "requester_name": f"Customer {n}",
        "status": status,
        "resolution": rng.choice(("solved", "no_answer")) if closed else None,
        "created_at": created,
        "updated_at": closed or waiting or created,
        "assignee": None,
        "waiting_since": waiting,
        # Steady state: the ladder steps already taken for the time waited so far.
        "reminders_sent": _steps_taken(waiting),
        "first_response_at": answered,
        "closed_at": closed,
        # Steady state: most open tickets have their next SLA threshold ahead of them
        # (some within the last hour, due now); closed tickets have none.
        "sla_check_at": None if closed else NOW + timedelta(hours=rng.uniform(-1, 24 * 30)),
    }
    details = {
        "ticket_id": n,
        "language": lang,
        "criticality": rng.choices(("low", "medium", "high", "critical"), (2, 6, 2, 1))[0],
        "request_type": "assistance",
        "fields": {"version": "12.4.1", "company": "Acme SA"},
        "missing_fields": ["phone"],
        "subject_quality": {"ok": True, "reasons": []},
    }
    return ticket, details


def fill(engine, count: int, seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - a reproducible data set, not a secret
    postgres = engine.dialect.name == "postgresql"
    for start in range(1, count + 1, BATCH):
        pairs = [ticket_rows(n, rng) for n in range(start, min(start + BATCH, count + 1))]
        if postgres:
            _copy(engine, pairs)
        else:
            with engine.begin() as conn:
                conn.execute(insert(tickets), [t for t, _ in pairs])
                conn.execute(insert(ticket_details), [d for _, d in pairs])
    with engine.begin() as conn:
        conn.execute(text("UPDATE queue_counters SET last_number = :n"), {"n": count})
        if postgres:
            conn.execute(text("SELECT setval('tickets_id_seq', :n)"), {"n": count})
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))


def _copy(engine, pairs: list[tuple[dict, dict]]) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY tickets ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for t, _ in pairs:
                copy.write_row([t[c] for c in COLUMNS])
        with cur.copy(f"COPY ticket_details ({', '.join(DETAIL_COLUMNS)}) FROM STDIN") as copy:
            for _, d in pairs:
                copy.write_row([_json(d[c]) for c in DETAIL_COLUMNS])
        raw.commit()
    finally:
        raw.close()


def _json(value):
    return json.dumps(value) if isinstance(value, dict | list) else value


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        found = {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (outbox, events, sla_notices)
        }
        waiting = tickets.c.status == "waiting_customer"
        found["waiting_customer"] = conn.execute(
            select(func.count()).select_from(tickets).where(waiting)
        ).scalar_one()
    return found


def timed_tick(services, label: str) -> None:
    before = counts(services.engine)
    started = time.perf_counter()
    result = tick(services, NOW)
    elapsed = time.perf_counter() - started
    after = counts(services.engine)
    touched = {k: after[k] - before[k] for k in after}
    print(
        f"{label}: {elapsed:.2f} s; reminders {len(result['reminders'])}, closed "
        f"{len(result['closed'])}, sla warnings {len(result['sla_warnings'])}; rows added/changed: "
        + ", ".join(f"{k} {v:+d}" for k, v in touched.items()),
        flush=True,
    )


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--tickets", type=int, default=1_000_000)
    args.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args.add_argument("--seed", type=int, default=8)
    opts = args.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="maildesk-tick-") as tmp,
        database(opts.db, Path(tmp), "tick") as url,
    ):
        engine = db.connect(url)
        db.migrate(engine)
        engine.dispose()
        services = build(Config(database=DatabaseConfig(url)))  # creates the queue counters
        started = time.perf_counter()
        fill(services.engine, opts.tickets, opts.seed)
        print(f"built {opts.tickets} tickets ({opts.db}) in {time.perf_counter() - started:.1f} s")
        print(f"as of {NOW.isoformat()}: {counts(services.engine)}", flush=True)
        timed_tick(services, "first tick (all that is due at once)")
        timed_tick(services, "second tick (nothing new due: the scan alone)")
        services.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
