"""Composition root: build the engine, migrate, and run listener + worker until SIGTERM.

Everything is constructed here and passed down; nothing below reads globals. The worker
runs in its own thread (plain synchronous code); only the SMTP listener is async.
"""

from __future__ import annotations

import logging
import multiprocessing
import secrets
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from maildesk import logs
from maildesk.clock import system_now
from maildesk.config import Config, redact_url
from maildesk.daemon import memory
from maildesk.daemon.cluster import Membership, run_beats
from maildesk.daemon.doorbell import Closing, Doorbell
from maildesk.daemon.imap import start_all
from maildesk.daemon.metrics import Metrics, child_counter
from maildesk.daemon.sender import Sender
from maildesk.daemon.smtp import IntakeHandler, controller
from maildesk.daemon.worker import Worker
from maildesk.desk.business_hours import BusinessCalendar
from maildesk.msgid import MessageIds
from maildesk.outbound.render import TemplateSet
from maildesk.store import db
from maildesk.store.db import reading
from maildesk.store.models import queue_counters, settings
from maildesk.store.outbox import Notifier

SHIPPED_TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "emails"

log = logging.getLogger("maildesk.app")


def system_clock() -> datetime:
    return system_now()


@dataclass
class Services:
    config: Config
    engine: Engine  # processing, notifications, queries
    ids: MessageIds
    worker: Worker
    sender: Sender
    templates: TemplateSet
    notifier: Notifier
    calendar: BusinessCalendar
    sender_wake: Callable[[], None] = lambda: None
    intake: Engine | None = None  # spool inserts: every commit on disk before `250`

    @property
    def spool(self) -> Engine:
        return self.intake or self.engine

    def dispose(self) -> None:
        self.engine.dispose()
        if self.intake is not None:
            self.intake.dispose()


def load_templates(config: Config) -> TemplateSet:
    """Every template compiled and trial-rendered now: a broken one stops start-up."""
    directory = (
        Path(config.templates.directory) if config.templates.directory else SHIPPED_TEMPLATES
    )
    return TemplateSet.load(directory, default=config.templates.default_language)


def build(config: Config, *, migrate: bool = True, processes_mail: bool = True) -> Services:
    """Connect, migrate, make sure every queue has a counter, load secret and templates.

    `processes_mail=False`: this process only takes mail in, sends and ticks (forked
    workers process the spool), so its connections keep small page caches."""
    templates = load_templates(config)
    intake = db.connect(config.database.url)
    if migrate:
        db.migrate(intake)
    engine = db.connect(config.database.url, durable=False, small_cache=not processes_mail)
    ensure_queues(engine, config)
    ids = MessageIds(config.outbound.message_id_secret or instance_secret(engine))
    notifier = Notifier(config, templates, ids)
    worker = Worker(engine, config, ids, notifier)
    return Services(
        config,
        engine,
        ids,
        worker,
        Sender(engine, config.outbound),
        templates,
        notifier,
        BusinessCalendar(config.business_hours),
        intake=intake,
    )


def ensure_queues(engine: Engine, config: Config) -> None:
    for queue in config.queues:
        _insert_once(engine, queue_counters, {"queue": queue.name, "last_number": 0})


def instance_secret(engine: Engine) -> str:
    """The secret that signs our Message-IDs: generated once, shared by every instance."""
    _insert_once(engine, settings, {"name": "message_id_secret", "value": secrets.token_hex(32)})
    with reading(engine) as conn:
        return conn.execute(
            select(settings.c.value).where(settings.c.name == "message_id_secret")
        ).scalar_one()


def _insert_once(engine: Engine, table, values: dict) -> None:
    pk = next(iter(table.primary_key.columns))
    with engine.begin() as conn:
        exists = conn.execute(select(pk).where(pk == values[pk.name])).first()
        if exists:
            return
    try:
        with engine.begin() as conn:
            conn.execute(insert(table).values(**values))
    except IntegrityError:
        pass  # another instance inserted it first: the same outcome


def run(config: Config, clock: Callable[[], datetime] = system_clock) -> int:
    memory.limit_arenas()  # before any thread exists; the forked workers inherit it
    services = build(config, processes_mail=config.processing.workers == 0)
    context = multiprocessing.get_context("fork")
    stop = threading.Event()
    quit_children = Closing()  # closed by this process when it stops (or by its death)
    wake = Doorbell()  # a message was spooled
    send_wake = Doorbell()  # notifications were queued
    services.sender_wake = send_wake.set
    metrics, tally = _metrics(config, services, context)
    # Worker processes are forked first, before any thread exists in this process, so that
    # processing (CPU-bound Python) runs beside intake instead of sharing its interpreter.
    children = [
        context.Process(
            target=_worker_process,
            args=(config, clock, wake, send_wake, quit_children, tally),
            name=f"maildesk-worker-{i}",
        )
        for i in range(config.processing.workers)
    ]
    # No connection may cross the fork: a child holding a copy of a pooled SQLite
    # connection (and of its writer-lock file) would keep a lock of ours alive after we die.
    services.dispose()
    for child in children:
        child.start()
    handler = IntakeHandler(services.spool, config, clock, on_stored=lambda _id: wake.set())
    _count_into(metrics, services, handler, stop)
    smtp = controller(handler, config)
    smtp.start()
    member = Membership(
        services.engine,
        clock,
        f"{config.smtp.host}:{config.smtp.port}",
        config.cluster.lease_seconds,
        [a.name for a in config.imap],
    )
    member.join()
    member.beat()
    beats = run_beats(member, stop)
    memory.start_trimming(stop)
    mailboxes = start_all(
        config.imap,
        services,
        clock,
        stop,
        member.holds,
        **({} if metrics is None else metrics.mailbox_hooks()),
    )
    logs.decision(
        log,
        action="started",
        smtp=f"{config.smtp.host}:{config.smtp.port}",
        database=redact_url(config.database.url),
        workers=len(children),
        config=config.source,
    )

    def _stop(signum: int, _frame: object) -> None:
        logs.decision(log, action="stopping", signal=signal.Signals(signum).name)
        stop.set()
        wake.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sending = threading.Thread(
        target=loop,
        name="sender",
        args=(services.sender.flush, clock, send_wake, stop, config.processing.poll_seconds, None),
    )
    sending.start()
    scheduler = start_scheduler(services, clock, metrics.on_tick if metrics else None)
    try:
        if children:
            stop.wait()
        else:
            loop(
                services.worker.process_due,
                clock,
                wake,
                stop,
                config.processing.poll_seconds,
                send_wake,
            )
    finally:
        smtp.stop()  # no new mail first, then let the workers finish what they hold
        quit_children.close()
        for child in children:
            child.join(timeout=60)
        scheduler.shutdown(wait=True)
        send_wake.set()
        sending.join()
        for mailbox in mailboxes:
            mailbox.join(timeout=max((a.timeout_seconds for a in config.imap), default=1) + 5)
        beats.join(timeout=5)
        member.leave()
        services.dispose()
        logs.decision(log, action="stopped")
    return 0


def _metrics(config: Config, services: Services, context) -> tuple[Metrics | None, object]:
    """The metrics when `[metrics] listen` is set, and the queue forked workers count into."""
    if config.metrics.address is None:
        return None, None
    metrics = Metrics(services.engine)
    return metrics, metrics.open_tally(context) if config.processing.workers else None


def _count_into(
    metrics: Metrics | None, services: Services, handler: IntakeHandler, stop: threading.Event
) -> None:
    """Connect the daemon's parts to the metrics and serve them (after the fork: threads)."""
    if metrics is None:
        return
    stored = handler.on_stored

    def on_stored(inbound_id: int) -> None:
        metrics.on_accepted("smtp")
        stored(inbound_id)

    handler.on_stored = on_stored
    handler.on_refusal = metrics.on_reply
    services.sender.on_final = metrics.on_final
    if metrics.tally is not None:
        metrics.drain(stop)
    else:
        services.worker.observe = lambda result, seconds: metrics.on_processed(
            result.outcome, seconds
        )
    address = services.config.metrics.address
    assert address is not None
    metrics.serve(*address)
    threading.Thread(target=metrics.close, args=(stop,), name="metrics-stop", daemon=True).start()


def _worker_process(
    config: Config,
    clock: Callable[[], datetime],
    wake: Doorbell,
    sent: Doorbell,
    quit_children: Closing,
    tally: object = None,
) -> None:
    """A forked worker: its own engines, processing until the parent stops or dies (and
    counting each processed message into `tally` for the parent's metrics, when served)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    quit_children.child_side()
    services = build(config, migrate=False)
    if tally is not None:
        services.worker.observe = child_counter(tally)
    stop = threading.Event()

    def watch_parent() -> None:
        while not quit_children.closed(1.0):
            pass
        stop.set()  # the parent stopped or died: mail not yet processed stays in the spool
        wake.set()

    threading.Thread(target=watch_parent, daemon=True).start()
    memory.start_trimming(stop)
    try:
        loop(services.worker.process_due, clock, wake, stop, config.processing.poll_seconds, sent)
    finally:
        services.dispose()


def loop(
    step: Callable[[datetime], list],
    clock: Callable[[], datetime],
    wake: Doorbell | threading.Event,
    stop: threading.Event,
    poll_seconds: float,
    then: Doorbell | threading.Event | None,
) -> None:
    """Run `step` until it finds nothing to do, then sleep until woken or polled."""
    while not stop.is_set():
        wake.clear()
        try:
            while step(clock()) and not stop.is_set():
                if then is not None:
                    then.set()
        except Exception as exc:  # noqa: BLE001 - e.g. database down: keep the daemon alive, retry later
            logs.decision(
                log,
                logging.ERROR,
                action="loop-error",
                step=step.__qualname__,
                reason=f"{type(exc).__name__}: {exc}",
            )
        wake.wait(poll_seconds)


def start_scheduler(
    services: Services,
    clock: Callable[[], datetime],
    ran: Callable[[datetime], None] | None = None,
):
    """APScheduler runs the time rules; one run at a time, a missed run is simply folded in.
    `ran(at)` is told of each successful run (the metrics)."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from maildesk.daemon.tick import tick

    def job() -> None:
        try:
            result = tick(services, clock())
        except Exception as exc:  # noqa: BLE001 - tick is idempotent: the next run retries
            logs.decision(
                log, logging.ERROR, action="tick-error", reason=f"{type(exc).__name__}: {exc}"
            )
            return
        if ran is not None:
            ran(clock())
        if result["reminders"] or result["closed"] or result["sla_warnings"]:
            services.sender_wake()

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        job,
        "interval",
        seconds=services.config.scheduler.tick_seconds,
        id="tick",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
        next_run_time=clock(),
    )
    scheduler.start()
    return scheduler
