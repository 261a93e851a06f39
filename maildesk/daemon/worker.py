"""Process spooled mail: claim a row, run the pipeline, apply its effects, or quarantine.

The attempt counter is committed *before* processing, so a message that crashes the
process is still counted; after `max_attempts` it is quarantined with its reason and raw
bytes kept, and the worker goes on with the next one (never retried forever).

Batches: up to `[processing] batch_size` rows never tried before are claimed together and
applied in one transaction (`maildesk/daemon/batch.py`). When that transaction fails,
each of its rows is run again on its own, so one poison message is retried and
quarantined alone; a row whose earlier attempt never finished (its batch killed the
process) is only ever run on its own.

Imported rows (`maildesk import`, spool source `import`/`import-notify`) are processed as
of their own `received_at` (the message's Date), and `import` rows have their
notifications recorded as withheld instead of sent, whichever process takes them.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from maildesk import logs
from maildesk.clock import utc
from maildesk.config import Config
from maildesk.daemon.batch import LEASE, claim_fresh, run_batch
from maildesk.desk.effects import Decision
from maildesk.inbound.lenient import Glance, glance
from maildesk.inbound.limits import MimeLimits
from maildesk.inbound.parse import Unprocessable, parse
from maildesk.inbound.pipeline import Ahead, Context, Draft, read_ahead, run
from maildesk.inbound.relays import Origin
from maildesk.msgid import MessageIds
from maildesk.store.db import reading
from maildesk.store.models import inbound
from maildesk.store.outbox import Notifier, WithheldNotifier
from maildesk.store.spool import IMPORT_SOURCES, IMPORTED
from maildesk.store.sql_view import SqlView
from maildesk.store.writer import Closing, apply, record_trace

log = logging.getLogger("maildesk.worker")
_ROW = select(inbound).where(inbound.c.id == bindparam("row"))


def _pick(inbound_id: int | None = None, *, force: bool = False):
    """The next received row due at `:now` (or row `inbound_id`; with `force`, due or not),
    locked with FOR UPDATE SKIP LOCKED on PostgreSQL."""
    pick = select(inbound.c.id).where(inbound.c.status == "received")
    if inbound_id is not None:
        pick = pick.where(inbound.c.id == inbound_id)
    if not force:
        due = inbound.c.next_attempt_at.is_(None) | (inbound.c.next_attempt_at <= bindparam("now"))
        pick = pick.where(due)
    return pick.order_by(inbound.c.id).limit(1).with_for_update(skip_locked=True)


_NEXT_DUE = _pick()
_COUNT_ATTEMPT = (
    update(inbound)
    .where(inbound.c.id == bindparam("row"))
    .values(attempts=inbound.c.attempts + 1)
    .returning(inbound.c.attempts)
)
_NOT_CLAIMED = object()  # the next message was not looked for (as opposed to: none is due)
Claim = tuple[int, int] | None | object


def _take(conn: Connection, pick, now: datetime) -> tuple[int, int] | None:
    """Claim the row `pick` selects: count the attempt and lease it, in `conn`'s transaction."""
    picked = conn.execute(pick, {"now": now}).scalar()
    if picked is None:
        return None
    attempts = conn.execute(
        _COUNT_ATTEMPT, {"row": picked, "next_attempt_at": now + LEASE}
    ).scalar_one()
    return picked, attempts


@dataclass(frozen=True)
class Result:
    inbound_id: int
    outcome: str  # created | appended | duplicate | ignored | quarantined | retry | busy
    ticket: str | None
    message_id: str | None
    reason: str | None

    def as_json(self) -> dict[str, str | None]:
        return {
            "outcome": self.outcome,
            "ticket": self.ticket,
            "message_id": self.message_id,
            "reason": self.reason,
        }


class Worker:
    def __init__(self, engine: Engine, config: Config, ids: MessageIds, notifier: Notifier) -> None:
        self.engine = engine
        self.config = config
        self.ids = ids
        self.notifier = notifier
        self.limits = MimeLimits.of(config.processing)
        # Told of each processed message and its duration: the metrics, when served.
        self.observe: Callable[[Result, float], None] | None = None
        self.withheld = WithheldNotifier(config, notifier.templates, ids)

    def when(self, row, now: datetime) -> datetime:
        """The instant a row is processed as of: an imported message's own Date, else now."""
        return utc(row.received_at) if row.source in IMPORT_SOURCES else now

    def notifier_for(self, row) -> Notifier:
        return self.withheld if row.source == IMPORTED else self.notifier

    def process_due(self, now: datetime, batch: int = 20) -> list[Result]:
        """Process up to `batch` due messages: first those never tried, `[processing]
        batch_size` at a time in one transaction each (`maildesk/daemon/batch.py`); when
        none is left, the others (retries, rows whose batch died) one at a time.

        One at a time, so that a message that kills the process is the only one whose
        attempt was counted (its neighbours are not pushed towards quarantine). The next
        message is claimed in the transaction that finishes the current one: one write
        transaction per message instead of two.
        """
        now = utc(now)
        size = min(batch, self.config.processing.batch_size)
        if size > 1:
            done: list[Result] = []
            fresh = claim_fresh(self.engine, now, size)
            while fresh:
                left = batch - len(done) - len(fresh)
                started = time.perf_counter()
                out, fresh = run_batch(self, fresh, now, claim_next=max(0, min(size, left)))
                self._observed(out, time.perf_counter() - started)
                done.extend(out)
            if done:
                # and one row that was tried before, if one is due: under a steady stream
                # of new mail, retries must not wait for the stream to stop.
                again = self._claim(now)
                if again is None:
                    return done
                started = time.perf_counter()
                retried = self._attempt(*again, now)[0]
                self._observed([retried], time.perf_counter() - started)
                return [*done, retried]
        results: list[Result] = []
        claimed = self._claim(now)
        while claimed is not None:
            more = len(results) + 1 < batch
            started = time.perf_counter()
            result, following = self._attempt(*claimed, now, claim_next=more)
            self._observed([result], time.perf_counter() - started)
            results.append(result)
            if not more:
                break
            claimed = self._claim(now) if following is _NOT_CLAIMED else following
        return results

    def _observed(self, results: list[Result], seconds: float) -> None:
        """Tell the metrics (when served) of each result; a batch's time is shared."""
        if self.observe is not None and results:
            for result in results:
                self.observe(result, seconds / len(results))

    def process(self, inbound_id: int, now: datetime, *, force: bool = False) -> Result:
        """Process one spooled message; `force` ignores the retry delay (for `ingest`)."""
        now = utc(now)
        claimed = self._claim(now, inbound_id, force=force)
        if claimed is None:
            return Result(inbound_id, "busy", None, None, "claimed elsewhere or already done")
        started = time.perf_counter()
        result = self._attempt(*claimed, now)[0]
        self._observed([result], time.perf_counter() - started)  # an IMAP watcher's mail too
        return result

    def alone(self, inbound_id: int, attempts: int, now: datetime) -> Result:
        """Run one row already claimed (attempt counted) in its own transaction."""
        return self._attempt(inbound_id, attempts, now)[0]

    def _attempt(
        self, inbound_id: int, attempts: int, now: datetime, *, claim_next: bool = False
    ) -> tuple[Result, Claim]:
        """Run one claimed message; with `claim_next`, also the claim of the next one."""
        if attempts > self.config.processing.max_attempts:
            # Its earlier attempts never finished: it killed the process each time (a crash,
            # an out-of-memory kill). Quarantine it without running it again.
            crashed = RuntimeError(f"the worker died {attempts - 1} times processing it")
            return self._failed(inbound_id, attempts - 1, crashed, now, final=True), _NOT_CLAIMED
        try:
            try:
                return self._run(inbound_id, now, claim_next)
            except Unprocessable as exc:  # deterministic: retrying cannot help
                failed = self._failed(inbound_id, attempts, exc, now, final=True)
                return failed, _NOT_CLAIMED
            except IntegrityError:
                # Another instance stored the same message a moment ago (two MX, or IMAP
                # and SMTP): run again at once; this time dedupe sees it.
                return self._run(inbound_id, now, claim_next)
        except Exception as exc:  # noqa: BLE001 - any fault: count the attempt, keep the mail
            return self._failed(inbound_id, attempts, exc, now), _NOT_CLAIMED

    def _claim(
        self, now: datetime, inbound_id: int | None = None, *, force: bool = False
    ) -> tuple[int, int] | None:
        """(id, attempts) of the row claimed for us, counted and leased before processing:
        the next due row, or `inbound_id` (due or, with `force`, at once).

        On PostgreSQL the row is first locked with FOR UPDATE SKIP LOCKED, so instances
        never wait on each other's rows (SQLite serialises writers anyway); then it is
        updated by id, since an UPDATE ... IN (SELECT ... LIMIT 1) may take more rows.
        """
        pick = _NEXT_DUE if inbound_id is None and not force else _pick(inbound_id, force=force)
        with self.engine.begin() as conn:
            return _take(conn, pick, now)

    def _run(
        self, inbound_id: int, now: datetime, claim_next: bool = False
    ) -> tuple[Result, Claim]:
        with reading(self.engine) as conn:
            row = conn.execute(_ROW, {"row": inbound_id}).one()
        parsed = parse(row.raw, self.limits)  # pure and the costliest: outside the write lock
        queued = self.notifier.hold_logs()  # said after the decision, once committed
        try:
            with self.engine.begin() as conn:
                key, draft = self.apply_one(conn, SqlView(conn), row, parsed, now)
                following = _take(conn, _NEXT_DUE, now) if claim_next else _NOT_CLAIMED
        finally:
            self.notifier.release_logs()
        result = self.finished(inbound_id, key, draft, parsed)
        self.notifier.say_queued(queued)
        return result, following

    def read_ahead(self, row, parsed) -> Ahead:
        """The screening and quality reading of a parsed row (pure: run it outside the
        transaction, so that the write lock is held for less time)."""
        return read_ahead(parsed, self.config, self.ids, _envelope_from(row))

    def apply_one(
        self,
        conn: Connection,
        view: SqlView,
        row,
        parsed,
        now: datetime,
        ahead=None,
        closing: Closing | None = None,
    ):
        """Run the pipeline on one parsed row and write its effects in `conn`'s transaction
        (`ahead`: what was read of it ahead, `maildesk.inbound.pipeline.read_ahead`;
        `closing`: the batch's, see `maildesk.store.writer.Closing`)."""
        when = self.when(row, now)
        origin = Origin(row.peer, bool(row.relay_trusted), row.tls)
        draft = Draft(parsed, tuple(row.rcpt_tos or ()), _envelope_from(row), origin, ahead=ahead)
        draft = run(draft, Context(self.config, view, self.ids, when))
        assert draft.outcome is not None, "the pipeline always ends with an outcome"
        notifier = self.notifier_for(row)
        key = apply(
            conn, row.id, draft.outcome, draft.effects, draft.decisions, when, notifier, closing
        )
        return key, draft

    def finished(self, inbound_id: int, key: str | None, draft: Draft, parsed) -> Result:
        """Log a committed message's steps (DEBUG) and outcome (INFO); its `Result`."""
        # Each step at DEBUG (all of them are in `maildesk trace`); the outcome at INFO.
        for d in draft.decisions if log.isEnabledFor(logging.DEBUG) else ():
            logs.decision(
                log,
                logging.DEBUG,
                ticket=key,
                msgid=parsed.message_id,
                inbound=inbound_id,
                step=d.step,
                action=d.action,
                reason=d.reason,
            )
        o = draft.outcome
        logs.decision(
            log,
            ticket=key,
            msgid=parsed.message_id,
            inbound=inbound_id,
            action=o.outcome,
            reason=o.reason,
            **{"from": parsed.sender or None},
            subject=parsed.subject,
        )
        return Result(inbound_id, o.outcome, key, parsed.message_id, o.reason)

    def _failed(
        self, inbound_id: int, attempts: int, exc: Exception, now: datetime, *, final: bool = False
    ) -> Result:
        """Count a failed attempt truly; quarantine on the last one (or at once: `final`)."""
        error = f"{type(exc).__name__}: {exc}"[:2000]
        final = final or attempts >= self.config.processing.max_attempts
        reason = error if attempts <= 1 else f"processing failed {attempts} times: {error}"
        values: dict[str, object] = {"last_error": traceback.format_exc()[-4000:]}
        if final:
            values |= {
                "status": "quarantined",
                "outcome": "quarantined",
                "reason": reason,
                "processed_at": now,
                "attempts": attempts,
            }
        else:
            values["next_attempt_at"] = now + timedelta(seconds=30 * 2 ** (attempts - 1))
        with self.engine.begin() as conn:
            seen = self._glance(conn, inbound_id)
            message_id = seen.message_id if seen else None
            values["message_id"] = message_id
            conn.execute(update(inbound).where(inbound.c.id == inbound_id).values(**values))
            action = "quarantined" if final else "retry-later"
            trace = (Decision("worker", action, reason),)
            record_trace(conn, inbound_id, message_id, trace, None, now)
        level = logging.ERROR if final else logging.WARNING
        logs.decision(
            log,
            level,
            inbound=inbound_id,
            attempt=attempts,
            msgid=message_id,
            action="quarantined" if final else "retry",
            **{"from": (seen.sender or None) if seen else None},
            subject=seen.subject if seen else None,
            reason=error,
        )
        return Result(inbound_id, "quarantined" if final else "retry", None, message_id, reason)

    def _glance(self, conn: Connection, inbound_id: int) -> Glance | None:
        """Sender, subject and Message-ID of the failed message, read leniently (the full
        parse may be what failed), so its log line and `maildesk trace` find it."""
        raw = conn.execute(select(inbound.c.raw).where(inbound.c.id == inbound_id)).scalar()
        if raw is None:
            return None
        seen = glance(raw)
        try:
            parsed = parse(raw, self.limits)
        except Exception:  # noqa: BLE001 - the parse may be what failed: the glance stands
            return seen
        return replace(seen, message_id=parsed.message_id)


def _envelope_from(row) -> str | None:
    """The SMTP envelope sender of a spool row (mail that came another way has none)."""
    return row.mail_from if row.source == "smtp" else None
