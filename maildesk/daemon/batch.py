"""Batches of spooled mail: claimed together, parsed outside the write lock, applied in one
transaction; one row at a time again as soon as anything goes wrong.

- Only rows never tried before (`attempts = 0`) are batched. Claiming counts an attempt
  for every row of the batch; if the batch kills the process (a crash, an out-of-memory
  kill), each of its rows is then run alone (`attempts > 1`), so only the row that kills
  the process again reaches `max_attempts`.
- A message the parser refuses is run alone at once (and quarantined there).
- When the batch's transaction fails, nothing of it is written, and each of its rows is
  run again alone, in its own transaction: a poison message is retried and quarantined
  alone, and its neighbours are applied without a second counted attempt.

Within the batch every message reads the tickets, messages and notifications the earlier
messages of the same batch wrote (one transaction, one connection), so a reply threads
onto a request of the same batch exactly as it would one message at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Set
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, update

from maildesk import logs
from maildesk.clock import utc
from maildesk.inbound.parse import parse
from maildesk.store.db import reading
from maildesk.store.models import inbound
from maildesk.store.sql_view import SqlView
from maildesk.store.writer import Closing

log = logging.getLogger("maildesk.worker")
LEASE = timedelta(seconds=60)  # a claimed row is retried after this if its worker died
Worker = Any  # maildesk.daemon.worker.Worker, which imports this module
Result = Any
# A message parsed and read ahead: (Parsed, its pipeline.Ahead or None), or (None, None)
# when the parser refused it (then it runs alone, where the refusal is recorded).
Prepared = tuple[Any, Any]

_DUE = inbound.c.next_attempt_at.is_(None) | (inbound.c.next_attempt_at <= bindparam("now"))
_FRESH = (
    select(inbound.c.id)
    .where(inbound.c.status == "received", inbound.c.attempts == 0, _DUE)
    .order_by(inbound.c.id)
    .limit(bindparam("most"))
    .with_for_update(skip_locked=True)
)
_THESE = (
    select(inbound.c.id)
    .where(inbound.c.status == "received", inbound.c.id.in_(bindparam("rows", expanding=True)))
    .order_by(inbound.c.id)
    .with_for_update(skip_locked=True)
)
_COUNT = (
    update(inbound)
    .where(inbound.c.id.in_(bindparam("rows", expanding=True)))
    .values(attempts=inbound.c.attempts + 1, next_attempt_at=bindparam("lease"))
    .returning(inbound.c.id, inbound.c.attempts)
)
_ROWS = (
    select(inbound)
    .where(inbound.c.id.in_(bindparam("rows", expanding=True)))
    .order_by(inbound.c.id)
)
_ROWS_WITHOUT_RAW = (
    select(*(c for c in inbound.c if c.name != "raw"))
    .where(inbound.c.id.in_(bindparam("rows", expanding=True)))
    .order_by(inbound.c.id)
)


def claim_fresh(engine: Engine, now: datetime, most: int) -> list[tuple[int, int]]:
    """Claim up to `most` due rows never tried before: [(id, attempts)], in id order."""
    with engine.begin() as conn:
        return _claim_fresh(conn, now, most)


def _claim_fresh(conn: Connection, now: datetime, most: int) -> list[tuple[int, int]]:
    picked = list(conn.execute(_FRESH, {"now": now, "most": most}).scalars())
    if not picked:
        return []
    counted = conn.execute(_COUNT, {"rows": picked, "lease": now + LEASE}).all()
    return sorted((r.id, r.attempts) for r in counted)


def claim_these(engine: Engine, rows: list[int], now: datetime) -> list[tuple[int, int]]:
    """Claim those of `rows` still waiting (due or not): [(id, attempts)], in id order."""
    if not rows:
        return []
    with engine.begin() as conn:
        picked = list(conn.execute(_THESE, {"rows": rows}).scalars())
        if not picked:
            return []
        counted = conn.execute(_COUNT, {"rows": picked, "lease": now + LEASE}).all()
    return sorted((r.id, r.attempts) for r in counted)


def run_batch(
    worker: Worker,
    claimed: list[tuple[int, int]],
    now: datetime,
    claim_next: int = 0,
    prepared: Mapping[int, Prepared] | None = None,
) -> tuple[list[Result], list[tuple[int, int]]]:
    """Process claimed rows: the first attempts together, the others alone, in id order.

    With `claim_next`, the transaction that applies the batch also claims up to that many
    fresh rows, returned for the next call (one write transaction per batch). `prepared`
    holds rows already parsed and read elsewhere (`maildesk import`), by spool id; the
    others are parsed here, before the transaction."""
    attempts = dict(claimed)
    alone = [i for i, n in claimed if n > 1]
    fresh = [i for i, n in claimed if n <= 1]
    batch, refused = _parsed(worker, fresh, prepared or {})
    alone.extend(refused)
    results: dict[int, Result] = {}
    following: list[tuple[int, int]] = []
    if batch:
        queued = worker.notifier.hold_logs()  # said after each decision, once committed
        try:
            with worker.engine.begin() as conn:
                view = SqlView(conn)
                closing = Closing()
                done = [
                    (
                        row.id,
                        *worker.apply_one(conn, view, row, parsed, now, found, closing),
                        parsed,
                    )
                    for row, parsed, found in batch
                ]
                closing.flush(conn)
                if claim_next:
                    following = _claim_fresh(conn, now, claim_next)
        except Exception as exc:  # noqa: BLE001 - nothing was written: each row alone
            logs.decision(
                log,
                logging.WARNING,
                action="batch-failed",
                rows=len(batch),
                reason=f"{type(exc).__name__}: {exc}"[:500],
            )
            alone.extend(row.id for row, _, _ in batch)
            queued = []
        else:
            for inbound_id, key, draft, parsed in done:
                results[inbound_id] = worker.finished(inbound_id, key, draft, parsed)
        finally:
            worker.notifier.release_logs()
        worker.notifier.say_queued(queued)
    for inbound_id in sorted(alone):
        results[inbound_id] = worker.alone(inbound_id, attempts[inbound_id], now)
    return [results[i] for i in sorted(results)], following


def _parsed(
    worker: Worker, fresh: list[int], prepared: Mapping[int, Prepared]
) -> tuple[list[tuple[Any, Any, Any]], list[int]]:
    """(row, Parsed, Ahead or None) of each row the parser reads, in id order, and the
    ids of those it refuses (they run alone, where the refusal is recorded)."""
    if not fresh:
        return [], []
    ahead = [i for i in fresh if i in prepared]
    unread = [i for i in fresh if i not in prepared]
    with reading(worker.engine) as conn:
        rows = conn.execute(_ROWS, {"rows": unread}).all() if unread else []
        if ahead:  # the bytes were parsed already: the rest of the row will do
            rows += conn.execute(_ROWS_WITHOUT_RAW, {"rows": ahead}).all()
    batch, refused = [], []
    for row in sorted(rows, key=lambda r: r.id):
        parsed, found = prepared.get(row.id, (None, None))
        if parsed is None and row.id not in prepared:
            try:  # pure and costly: before the transaction, so no lock is held meanwhile
                parsed = parse(row.raw, worker.limits)
            except Exception:  # noqa: BLE001 - run alone, where the refusal is recorded
                parsed = None
            else:
                found = _read_ahead(worker, row, parsed)
        if parsed is None:
            refused.append(row.id)
        else:
            batch.append((row, parsed, found))
    return batch, refused


def _read_ahead(worker: Worker, row, parsed):
    try:
        return worker.read_ahead(row, parsed)
    except Exception:  # noqa: BLE001 - the pipeline reads it again, and fails there if it must
        return None


def process_rows(
    worker: Worker,
    rows: list[int],
    now: datetime,
    prepared: Mapping[int, Prepared] | None = None,
    claimed: Set[int] = frozenset(),
) -> list[Result]:
    """Process exactly these spool rows (those still waiting), in batches of
    `[processing] batch_size`, retrying a failed one at once up to `max_attempts` times,
    as `maildesk ingest` does. For `maildesk import` (`prepared`: see `run_batch`;
    `claimed`: rows stored claimed by this process, one attempt counted)."""
    now = utc(now)
    size = worker.config.processing.batch_size
    results: list[Result] = []
    for start in range(0, len(rows), size):
        part = rows[start : start + size]
        ours = [(i, 1) for i in part if i in claimed]
        taken = claim_these(worker.engine, [i for i in part if i not in claimed], now)
        results.extend(run_batch(worker, sorted(ours + taken), now, prepared=prepared)[0])
    for n in range(len(results)):
        for _ in range(worker.config.processing.max_attempts):
            if results[n].outcome != "retry":
                break
            results[n] = worker.process(results[n].inbound_id, now, force=True)
    return results
