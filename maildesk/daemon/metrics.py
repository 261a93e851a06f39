"""Prometheus metrics (`[metrics] listen`): what this instance did, and the shared queues.

Served with prometheus_client on its own registry at http://LISTEN/metrics. Counters and
histograms count what *this instance* did; with several instances each serves its own and
a monitoring system sums them. The queue gauges (spool and outbox backlog, oldest pending
age, quarantined, dead) are read from the shared database at each scrape, so every
instance reports the same values: they carry `scope="cluster"`, to be aggregated with
max(), never summed.

Worker processes (`[processing] workers`) are forked, and prometheus_client keeps its
values in the memory of the process that counts. Rather than its multiprocess mode (an
environment variable to set before import, a directory of memory-mapped files to clean
at every start, gauges that need a mode of their own), each worker sends one small tuple
per processed message (outcome, seconds) over a multiprocessing queue to the main
process, which counts it: one process owns every value, and nothing outlives it.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from maildesk import logs
from maildesk.clock import system_now, utc
from maildesk.store.db import reading
from maildesk.store.models import inbound, outbox

log = logging.getLogger("maildesk.metrics")
PROCESSING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
ACK_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)


class Metrics:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.registry = r = CollectorRegistry()
        self.accepted = Counter(
            "maildesk_mail_accepted",
            "Mail committed to the spool, by source",
            ["source"],
            registry=r,
        )
        self.rejected = Counter(
            "maildesk_mail_rejected",
            "SMTP replies refusing something (4xx, 5xx), by code",
            ["code"],
            registry=r,
        )
        self.processed = Counter(
            "maildesk_mail_processed", "Spooled mail processed, by outcome", ["outcome"], registry=r
        )
        self.notifications = Counter(
            "maildesk_notifications",
            "Notifications that reached a final state (sent, dead), by template",
            ["template", "state"],
            registry=r,
        )
        self.processing_seconds = Histogram(
            "maildesk_processing_seconds",
            "Time to process one spooled message",
            buckets=PROCESSING_BUCKETS,
            registry=r,
        )
        self.ack_seconds = Histogram(
            "maildesk_ack_delivery_seconds",
            "From a request's acceptance to its acknowledgement's delivery to the relay",
            buckets=ACK_BUCKETS,
            registry=r,
        )
        self.mailbox = Gauge(
            "maildesk_imap_connected",
            "IMAP mailbox state: 1 connected, 0 failing",
            ["mailbox"],
            registry=r,
        )
        self.last_tick = Gauge(
            "maildesk_time_rules_last_run_timestamp_seconds",
            "When this instance last ran the time rules (Unix time)",
            registry=r,
        )
        r.register(QueueCollector(engine))
        self._server: Any = None
        self.tally: Any = None  # the queue worker processes count into

    # --- what the daemon's parts report ------------------------------------------------

    def on_accepted(self, source: str) -> None:
        self.accepted.labels(source=source).inc()

    def on_reply(self, code: int) -> None:
        self.rejected.labels(code=str(code)).inc()

    def on_processed(self, outcome: str, seconds: float) -> None:
        self.processed.labels(outcome=outcome).inc()
        self.processing_seconds.observe(seconds)

    def on_mailbox(self, name: str, state: str) -> None:
        self.mailbox.labels(mailbox=name).set(1 if state == "connected" else 0)

    def mailbox_hooks(self) -> dict[str, Callable]:
        return {"on_state": self.on_mailbox, "on_accepted": self.on_accepted}

    def on_tick(self, at: datetime) -> None:
        self.last_tick.set(at.timestamp())

    def on_final(self, row: Any, state: str) -> None:
        """A notification was sent or given up; an acknowledgement's delay is observed."""
        self.notifications.labels(template=row.template, state=state).inc()
        if state != "sent" or row.template != "ack" or not row.cause.startswith("inbound:"):
            return
        try:
            inbound_id = int(row.cause.partition(":")[2])
            with reading(self.engine) as conn:
                received = conn.execute(
                    select(inbound.c.received_at).where(inbound.c.id == inbound_id)
                ).scalar()
        except Exception:  # noqa: BLE001 - a metric must never fail a delivery
            return
        if received is not None:
            self.ack_seconds.observe(max(0.0, (system_now() - utc(received)).total_seconds()))

    # --- worker processes --------------------------------------------------------------

    def open_tally(self, context: Any) -> Any:
        """The queue forked workers count into (made before the fork)."""
        self.tally = context.Queue()
        return self.tally

    def drain(self, stop: threading.Event) -> threading.Thread:
        """Count what the worker processes send, until `stop` (then what is left)."""

        def run() -> None:
            while True:
                try:
                    outcome, seconds = self.tally.get(timeout=0.5)
                except queue.Empty:
                    if stop.is_set():
                        return
                    continue
                except (EOFError, OSError):
                    return
                self.on_processed(outcome, seconds)

        thread = threading.Thread(target=run, name="metrics-tally", daemon=True)
        thread.start()
        return thread

    # --- the endpoint ------------------------------------------------------------------

    def serve(self, host: str, port: int) -> None:
        self._server, _thread = start_http_server(port, addr=host, registry=self.registry)
        logs.decision(log, action="serving", listen=f"{host}:{port}", path="/metrics")

    def close(self, stop: threading.Event | None = None) -> None:
        """Stop serving (once `stop` is set, when given)."""
        if stop is not None:
            stop.wait()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def child_counter(tally: Any) -> Callable[[Any, float], None]:
    """In a worker process: send each result's outcome and duration to the main process."""

    def observe(result: Any, seconds: float) -> None:
        with contextlib.suppress(ValueError, OSError):  # closed: the daemon is stopping
            tally.put_nowait((result.outcome, seconds))

    return observe


class QueueCollector(Collector):
    """The shared queues, read from the database at each scrape (`scope="cluster"`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self):
        now = system_now()
        with reading(self.engine) as conn:
            spool = dict(
                conn.execute(
                    select(inbound.c.status, func.count()).group_by(inbound.c.status)
                ).all()
            )
            spool_oldest = conn.execute(
                select(func.min(inbound.c.received_at)).where(inbound.c.status == "received")
            ).scalar()
            out = dict(
                conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status)).all()
            )
            out_oldest = conn.execute(
                select(func.min(outbox.c.created_at)).where(
                    outbox.c.status.in_(("pending", "failed", "sending"))
                )
            ).scalar()
        labels = ["scope"]
        backlog = GaugeMetricFamily(
            "maildesk_backlog",
            "Waiting to be processed or sent, by queue",
            labels=[*labels, "queue"],
        )
        backlog.add_metric(["cluster", "spool"], spool.get("received", 0))
        backlog.add_metric(
            ["cluster", "outbox"], sum(out.get(s, 0) for s in ("pending", "failed", "sending"))
        )
        yield backlog
        oldest = GaugeMetricFamily(
            "maildesk_oldest_pending_age_seconds",
            "Age of the oldest waiting item, by queue (0: none)",
            labels=[*labels, "queue"],
        )
        for name, at in (("spool", spool_oldest), ("outbox", out_oldest)):
            oldest.add_metric(["cluster", name], _age(now, at))
        yield oldest
        quarantined = GaugeMetricFamily(
            "maildesk_quarantined", "Quarantined inbound mail", labels=labels
        )
        quarantined.add_metric(["cluster"], spool.get("quarantined", 0))
        yield quarantined
        dead = GaugeMetricFamily("maildesk_dead_notifications", "Dead notifications", labels=labels)
        dead.add_metric(["cluster"], out.get("dead", 0))
        yield dead


def _age(now: datetime, at: datetime | None) -> float:
    return max(0.0, (now - utc(at)).total_seconds()) if at is not None else 0.0
