"""Time the sender draining a backlog of notifications, against a bare smtplib loop.

A burst leaves tens of thousands of notifications waiting in the outbox while intake and
processing run ahead of the relay. This fills a throw-away database (SQLite file, or a
PostgreSQL database dropped at the end) with `--backlog` pending rows, then in one run:

1. times the claim's select over that backlog, as the sender runs it (each claimable
   status from its own index range) and as one query over the three statuses ordered by
   id through a status-only index (what a claim cost before it read index ranges);
2. lets `maildesk.daemon.sender.Sender` send every row to an aiosmtpd sink running in a
   process of its own, and samples this process's anonymous resident memory;
3. sends the same bytes to the same sink with a bare `smtplib` loop on one connection
   (the floor: no database, no bookkeeping).

    python bench/drain.py [--backlog N] [--db sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import os
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from measure import field_mb, quarter_means, wait_for_port
from run import database
from sink import free_port
from sqlalchemy import and_, bindparam, insert, or_, select, text

from maildesk.config import from_mapping
from maildesk.daemon import memory
from maildesk.daemon.app import build
from maildesk.daemon.sender import CLAIM_QUERIES
from maildesk.store.models import outbox

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
QUEUE = "support@example.com"
BATCH = 2_000


def _raw(i: int) -> bytes:
    """A notification of about 3 KB, lines as the composer writes them."""
    head = (
        f"From: Support <{QUEUE}>\r\nTo: c{i}@example.org\r\nSubject: [SUP-{i}] received\r\n"
        f"Message-ID: <{i}.drain@example.com>\r\nAuto-Submitted: auto-replied\r\n\r\n"
    )
    return head.encode() + b"Your request is registered under the reference above.\r\n" * 55


def _fill(engine, backlog: int) -> None:
    for start in range(0, backlog, BATCH):
        rows = [
            {
                "cause": f"inbound:{i}",
                "template": "ack",
                "language": "en",
                "mail_from": QUEUE,
                "recipient": f"c{i}@example.org",
                "subject": f"[SUP-{i}] received",
                "message_id": f"<{i}.drain@example.com>",
                "automatic": True,
                "raw": _raw(i),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": NOW - timedelta(seconds=backlog - i),
                "created_at": NOW - timedelta(seconds=backlog - i),
            }
            for i in range(start, min(backlog, start + BATCH))
        ]
        with engine.begin() as conn:
            conn.execute(insert(outbox), rows)


def _one_query_claim(engine):
    """The claim's select before it read index ranges: all three statuses, ordered by id.

    On SQLite it is read through the status-only index it had then (created here, in this
    throw-away database): the wider index would spare it the table rows."""
    if engine.dialect.name != "sqlite":  # locked as the sender's own selects are
        waiting = and_(outbox.c.status.in_(("pending", "failed")), outbox.c.next_attempt_at <= NOW)
        expired = and_(outbox.c.status == "sending", outbox.c.next_attempt_at <= NOW)
        query = select(outbox.c.id).where(or_(waiting, expired)).order_by(outbox.c.id).limit(1)
        return query.with_for_update(skip_locked=True)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_outbox_status ON outbox (status)")
    return text(
        "SELECT id FROM outbox INDEXED BY ix_outbox_status"
        " WHERE (status IN ('pending', 'failed') AND next_attempt_at <= :now)"
        " OR (status = 'sending' AND next_attempt_at <= :now) ORDER BY id LIMIT 1"
    ).bindparams(bindparam("now", NOW, type_=outbox.c.next_attempt_at.type))


def _time_claims(engine, repeat: int) -> tuple[float, float]:
    """Mean seconds of one claim's select(s), per-status ranges and one query."""
    old = _one_query_claim(engine)
    with engine.connect() as conn:
        began = time.perf_counter()
        for _ in range(repeat):
            for pick in CLAIM_QUERIES:
                conn.execute(pick, {"now": NOW, "limit": 1}).all()
        ranges = (time.perf_counter() - began) / repeat
        began = time.perf_counter()
        for _ in range(repeat):
            conn.execute(old).all()
        single = (time.perf_counter() - began) / repeat
        conn.rollback()
    if engine.dialect.name == "sqlite":  # the drain runs on the schema as migrated
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP INDEX ix_outbox_status")
    return ranges, single


def _drain(services, backlog: int) -> tuple[float, tuple[float, ...]]:
    """Seconds to send the backlog, and the mean anonymous RSS in each quarter of it."""
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.5):
            samples.append((time.monotonic(), field_mb(os.getpid(), "RssAnon:")))

    watcher = threading.Thread(target=watch, daemon=True)
    stop = threading.Event()
    memory.start_trimming(stop)  # as the daemon's main process does
    began = time.monotonic()
    watcher.start()
    sent = 0
    while sent < backlog:
        batch = services.sender.flush(NOW, batch=500)
        if not batch:
            break
        sent += sum(d.status == "sent" for d in batch)
    took = time.monotonic() - began
    done.set()
    stop.set()
    watcher.join()
    if sent != backlog:
        sys.exit(f"only {sent} of {backlog} notifications were sent")
    return took, quarter_means(samples, began, began + took)


def _floor(port: int, backlog: int) -> float:
    began = time.monotonic()
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        for i in range(backlog):
            smtp.sendmail(QUEUE, [f"c{i}@example.org"], _raw(i))
    return time.monotonic() - began


def _config(url: str, port: int):
    return from_mapping(
        {
            "database": {"url": url},
            "outbound": {"host": "127.0.0.1", "port": port, "message_id_secret": "b" * 64},
            "queues": [{"name": "support", "key_prefix": "SUP", "addresses": [QUEUE]}],
            "staff": {"addresses": []},
        }
    )


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--backlog", type=int, default=20_000)
    args.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args.add_argument("--repeat", type=int, default=200, help="claims timed for the mean")
    opts = args.parse_args()
    memory.limit_arenas()
    port = free_port()
    argv = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"]
    sink = subprocess.Popen([*argv, "-c", "aiosmtpd.handlers.Sink"])  # noqa: S603 - ours
    try:
        wait_for_port(port)
        with (
            tempfile.TemporaryDirectory(prefix="maildesk-drain-") as tmp,
            database(opts.db, Path(tmp), "drain") as url,
        ):
            services = build(_config(url, port), processes_mail=False)
            _fill(services.engine, opts.backlog)
            ranges, single = _time_claims(services.engine, opts.repeat)
            took, quarters = _drain(services, opts.backlog)
            services.dispose()
        floor = _floor(port, opts.backlog)
    finally:
        sink.terminate()
        sink.wait(30)
    rate, floor_rate = opts.backlog / took, opts.backlog / floor
    print(f"db: {opts.db}, backlog {opts.backlog} notifications of {len(_raw(0))} bytes")
    print(
        f"claim select over the backlog: {ranges * 1000:.2f} ms (per-status index ranges) "
        f"against {single * 1000:.2f} ms (one query over the three statuses by id, as before)"
    )
    print(
        f"drain: maildesk {rate:.0f}/s, floor (bare smtplib) {floor_rate:.0f}/s, "
        f"ratio {rate / floor_rate:.2f}"
    )
    print("anonymous RSS by quarter of the drain: " + "/".join(f"{q:.1f}" for q in quarters))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
