"""Composition root: build the engine, migrate, and run listener + worker until SIGTERM.

Everything is constructed here and passed down; nothing below reads globals. The worker
runs in its own thread (plain synchronous code); only the SMTP listener is async.
"""

from __future__ import annotations

import logging
import multiprocessing
import secrets
import signal
import socket
import ssl
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from maildesk import __version__, logs
from maildesk.clock import system_now
from maildesk.config import Config
from maildesk.daemon import memory
from maildesk.daemon.cluster import Membership, run_beats
from maildesk.daemon.doorbell import Closing, Doorbell
from maildesk.daemon.imap import start_all
from maildesk.daemon.metrics import Metrics, child_counter
from maildesk.daemon.notify import notify, start_watchdog
from maildesk.daemon.sender import Sender
from maildesk.daemon.smtp import IntakeHandler, controller, listen, reload_certificate
from maildesk.daemon.worker import Worker
from maildesk.desk.business_hours import BusinessCalendar
from maildesk.inbound.parse import parse
from maildesk.inbound.pipeline import read_ahead
from maildesk.inbound.quality.language import preload
from maildesk.msgid import MessageIds
from maildesk.outbound.render import TemplateError, TemplateSet
from maildesk.store import db
from maildesk.store.db import reading
from maildesk.store.models import queue_counters, settings
from maildesk.store.outbox import Notifier


def _shipped_templates() -> Path:
    """The templates shipped with maildesk: package data when installed from the wheel
    (`maildesk/templates/emails`), else the checkout's top-level `templates/emails`."""
    installed = Path(str(resources.files("maildesk"))) / "templates" / "emails"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2] / "templates" / "emails"


SHIPPED_TEMPLATES = _shipped_templates()

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
    return TemplateSet.load(
        directory, config.languages.enabled, default=config.templates.default_language
    )


class TemplatesOnFirstUse:
    """The template set, loaded and checked when first used: for `maildesk import`, whose
    notifications are recorded as withheld, never rendered, so it need not compile every
    template of every language (a second of CPU) before the first message. Mail imported
    with `--notify` is rendered live; that import loads the set at start, as the daemon."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._set: TemplateSet | None = None

    def __getattr__(self, name: str):
        if self._set is None:
            self._set = load_templates(self._config)
        return getattr(self._set, name)


def build(
    config: Config,
    *,
    migrate: bool = True,
    processes_mail: bool = True,
    templates: TemplateSet | TemplatesOnFirstUse | None = None,
) -> Services:
    """Connect, migrate, make sure every queue has a counter, load secret and templates.

    `processes_mail=False`: this process only takes mail in, sends and ticks (forked
    workers process the spool), so its connections keep small page caches. `templates`:
    a set already loaded and checked (a forked worker takes its parent's)."""
    templates = templates or load_templates(config)
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


def warm(services: Services) -> None:
    """Load now what processing would load on the first mail (the language model, the
    parser's lazy imports), in the parent: forked workers share it, and the first requests
    after a start are answered as fast as the next ones."""
    sample = b"From: a@example.com\r\nSubject: Bonjour\r\n\r\nBonjour, merci.\r\n"
    preload(services.config.languages.enabled)
    read_ahead(parse(sample), services.config, services.ids)


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


class _Generations:
    """Counters the main process bumps after a SIGHUP and the forked workers follow:
    `logs` (reopen the log file) and `templates` (reload them: the set was checked)."""

    def __init__(self, context) -> None:
        self.logs = context.Value("i", 0, lock=False)
        self.templates = context.Value("i", 0, lock=False)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
HANDLED = {*STOP_SIGNALS, signal.SIGHUP}


def run(config: Config, clock: Callable[[], datetime] = system_clock) -> int:
    """The daemon, until SIGTERM or SIGINT: 0; a start-up failure: one line and 2 (templates)
    or 69 (EX_UNAVAILABLE: the database or the listener address), before any fork."""
    memory.limit_arenas()  # before any thread exists; the forked workers inherit it
    place = db.where(config.database.url)
    address = f"{config.smtp.host}:{config.smtp.port}"
    try:
        services = build(config, processes_mail=config.processing.workers == 0)
    except TemplateError as exc:
        return _fatal(f"template error: {exc}", 2)
    except Exception as exc:  # noqa: BLE001 - one line for the admin, and a code for systemd
        return _fatal(f"cannot open the database {place}: {type(exc).__name__}: {exc}", 69)
    warm(services)  # before the port answers: the first mail waits for no lazy loading
    try:
        listener = listen(config.smtp.host, config.smtp.port)
    except OSError as exc:
        services.dispose()
        return _fatal(f"cannot listen on {address}: {exc.strerror or exc}", 69)
    daemon = _Daemon(config, clock, services, listener)
    daemon.fork_workers()
    try:
        daemon.start()
        logs.decision(
            log,
            action="started",
            smtp=address,
            database=place,
            outbound=_outbound(config),
            templates=services.templates.directory,
            workers=len(daemon.children),
            config=config.source,
            version=__version__,
        )
        notify("READY=1")
        start_watchdog(daemon.stop)
        daemon.serve()
    finally:
        daemon.shutdown()
        logs.decision(log, action="stopped")
        # Stopping is done: a second stop signal (sent to the whole group, as `timeout`
        # and systemd do) must not kill the exit itself. Python resets its own handlers to
        # the default while it finalises, but leaves an ignored signal ignored.
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
    return 0


class _Daemon:
    """The running parts of `maildesk run`, started in order and stopped in reverse."""

    def __init__(
        self,
        config: Config,
        clock: Callable[[], datetime],
        services: Services,
        listener: socket.socket,
    ) -> None:
        self.config, self.clock, self.services, self.listener = config, clock, services, listener
        self.context = multiprocessing.get_context("fork")
        self.stop = threading.Event()
        self.hangup = threading.Event()  # SIGHUP: reopen the log, reload the templates
        self.quit_children = Closing()  # closed when this process stops (or by its death)
        self.wake = Doorbell()  # a message was spooled
        self.send_wake = Doorbell()  # notifications were queued
        self.generations = _Generations(self.context)
        services.sender_wake = self.send_wake.set
        self.children: list = []
        self.smtp: Controller | None = None
        self.member: Membership | None = None
        self.threads: list[threading.Thread] = []
        self.mailboxes: list[threading.Thread] = []
        self.scheduler = None
        self.metrics: Metrics | None = None
        self.tally: object = None

    def fork_workers(self) -> None:
        """Worker processes are forked before any thread exists in this process, so that
        processing (CPU-bound Python) runs beside intake instead of sharing its interpreter.
        The signals are blocked across the fork: a worker never runs our handlers, and a
        signal that arrives meanwhile waits for them."""
        config = self.config
        self.metrics, self.tally = _metrics(config, self.services, self.context)
        self.children = [
            self.context.Process(
                target=_worker_process,
                args=(
                    config,
                    self.clock,
                    self.wake,
                    self.send_wake,
                    self.quit_children,
                    self.generations,
                    self.listener,
                    self.tally,
                    self.services.templates,
                ),
                name=f"maildesk-worker-{i}",
            )
            for i in range(config.processing.workers)
        ]
        # No connection may cross the fork: a child holding a copy of a pooled SQLite
        # connection (and of its writer-lock file) would keep a lock of ours alive after
        # we die.
        self.services.dispose()
        signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
        try:
            for child in self.children:
                child.start()
        finally:
            for signum in STOP_SIGNALS:
                signal.signal(signum, self._on_stop)
            signal.signal(signal.SIGHUP, lambda _n, _f: self.hangup.set())
            signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)

    def _on_stop(self, signum: int, _frame: object) -> None:
        if self.stop.is_set():
            return  # once: the same signal may come to us and to the whole group
        logs.decision(log, action="stopping", signal=signal.Signals(signum).name)
        notify("STOPPING=1")
        self.stop.set()
        self.wake.set()
        self.hangup.set()

    def start(self) -> None:
        config, services, clock, stop = self.config, self.services, self.clock, self.stop
        handler = IntakeHandler(services.spool, config, clock, on_stored=lambda _i: self.wake.set())
        _count_into(self.metrics, services, handler, stop)
        self.smtp = controller(handler, config, self.listener)
        self.smtp.start()
        member = Membership(
            services.engine,
            clock,
            f"{config.smtp.host}:{config.smtp.port}",
            config.cluster.lease_seconds,
            [a.name for a in config.imap],
            config.cluster.forget_after,
        )
        member.join()
        self.member = member
        member.beat()
        self.threads.append(run_beats(member, stop))
        memory.start_trimming(stop)
        hooks = {} if self.metrics is None else self.metrics.mailbox_hooks()
        self.mailboxes = start_all(config.imap, services, clock, stop, member.holds, **hooks)
        tls = self.smtp.listener_tls
        self._thread(_reloads, config, services, self.hangup, stop, self.generations, tls)
        poll = config.processing.poll_seconds
        self._thread(loop, services.sender.flush, clock, self.send_wake, stop, poll, None)
        ran = self.metrics.on_tick if self.metrics else None
        self.scheduler = start_scheduler(services, clock, ran)

    def _thread(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=target.__name__)
        thread.start()
        self.threads.append(thread)

    def serve(self) -> None:
        if self.children:
            self.stop.wait()
            return
        step = self.services.worker.process_due
        poll = self.config.processing.poll_seconds
        loop(step, self.clock, self.wake, self.stop, poll, self.send_wake)

    def shutdown(self) -> None:
        """No new mail first, then let the workers finish what they hold, then the rest."""
        self.stop.set()
        self.hangup.set()
        if self.smtp is not None:
            self.smtp.stop()
        else:
            self.listener.close()
        self.quit_children.close()
        for child in self.children:
            child.join(timeout=60)
            if child.is_alive():  # stuck: never leave a process behind
                child.kill()
                child.join()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
        self.send_wake.set()
        timeout = max((a.timeout_seconds for a in self.config.imap), default=1) + 5
        for mailbox in self.mailboxes:
            mailbox.join(timeout=timeout)
        for thread in self.threads:
            thread.join(timeout=30)
        if self.member is not None:
            self.member.leave()
        self.services.dispose()


def _fatal(message: str, code: int) -> int:
    """A start-up failure: one line on stderr (and in the log file, if there is one)."""
    logs.decision(log, logging.ERROR, action="cannot-start", reason=message)
    if any(isinstance(h, logging.FileHandler) for h in logging.getLogger("maildesk").handlers):
        print(f"maildesk: {message}", file=sys.stderr)
    return code


def _outbound(config: Config) -> str:
    out = config.outbound
    if out.host:
        return f"relay {out.host}:{out.port} tls={out.tls}"
    return f"pickup {Path(out.pickup_dir).resolve()}"


def _reloads(
    config: Config,
    services: Services,
    hangup: threading.Event,
    stop: threading.Event,
    generations: _Generations,
    tls: ssl.SSLContext | None = None,
) -> None:
    """On SIGHUP: reopen the log file, load the listener's certificate again (`tls`: its
    live context) and reload the templates; a bad certificate or a broken set is refused
    (logged) and the one in use stays. Never stops the daemon."""
    while True:
        hangup.wait()
        if stop.is_set():
            return
        hangup.clear()
        reopened = logs.reopen()
        generations.logs.value += 1
        if tls is not None:
            reload_certificate(tls, config.smtp.tls_cert_file, config.smtp.tls_key_file)
        try:
            templates = load_templates(config)
        except Exception as exc:  # noqa: BLE001 - a broken set must never stop the daemon
            logs.decision(
                log,
                logging.ERROR,
                action="reload-refused",
                templates=services.templates.directory,
                reason=f"{type(exc).__name__}: {exc}",
            )
            continue
        services.templates = services.notifier.templates = templates
        generations.templates.value += 1
        logs.decision(
            log, action="reloaded", signal="SIGHUP", templates=templates.directory, log=reopened
        )


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
        metrics.drain(stop)  # what the worker processes count
    # Mail is processed here too, without worker processes or as an IMAP watcher takes it in.
    services.worker.observe = lambda result, seconds: metrics.on_processed(result.outcome, seconds)
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
    generations: _Generations,
    listener: socket.socket,
    tally: object = None,
    templates: TemplateSet | None = None,
) -> None:
    """A forked worker: its own engines (and its parent's templates, checked already),
    processing until the parent stops or dies.

    It ignores SIGTERM, SIGINT and SIGHUP, which a service manager or a terminal may
    send to the whole process group: the parent decides when to stop and what to reload."""
    for signum in HANDLED:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)
    listener.close()  # the parent's: a worker must not keep the port bound after it dies
    quit_children.child_side()
    services = build(config, migrate=False, templates=templates)
    memory.for_bulk_work()  # a worker processes message after message, like an import
    if tally is not None:
        services.worker.observe = child_counter(tally)
    stop = threading.Event()
    seen = (generations.logs.value, generations.templates.value)

    def watch_parent() -> None:
        nonlocal seen
        while not quit_children.closed(1.0):
            now_seen = (generations.logs.value, generations.templates.value)
            if now_seen[0] != seen[0]:
                logs.reopen()
            if now_seen[1] != seen[1]:
                try:
                    services.notifier.templates = load_templates(config)
                except Exception as exc:  # noqa: BLE001 - keep the set in use
                    logs.decision(log, logging.ERROR, action="reload-refused", reason=str(exc))
            seen = now_seen
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
