"""The queues as an admin sees and repairs them: the inbound spool and the outbox.

Listing, showing and exporting only read. Each repair is one conditional UPDATE (a row
changes only from the state the admin meant: quarantined, dead), so it is safe beside
running daemons, on SQLite and PostgreSQL, with several instances: a worker or sender
never holds a quarantined or dead row, and a row requeued twice is requeued once. Every
repair leaves its trace: a decision on the spool row, an event on the notification's
ticket, saying who and when.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from maildesk.inbound.lenient import HEAD_LIMIT, glance
from maildesk.store.db import reading
from maildesk.store.history import record_event
from maildesk.store.models import decisions, inbound, outbox, tickets

SPOOL_STATES = {"pending": "received", "quarantined": "quarantined", "done": "done"}
_STATE_OF = {v: k for k, v in SPOOL_STATES.items()}


def list_spool(engine: Engine, state: str | None = None, limit: int = 200) -> list[dict]:
    """Spool rows, oldest first, with what their headers say (read leniently)."""
    query = select(
        inbound.c.id,
        inbound.c.received_at,
        inbound.c.source,
        inbound.c.mail_from,
        inbound.c.rcpt_tos,
        inbound.c.status,
        inbound.c.attempts,
        inbound.c.outcome,
        inbound.c.ticket_key,
        inbound.c.reason,
        func.length(inbound.c.raw).label("size"),
        func.substr(inbound.c.raw, 1, HEAD_LIMIT).label("head"),
    ).order_by(inbound.c.id)
    if state:
        query = query.where(inbound.c.status == SPOOL_STATES[state])
    with reading(engine) as conn:
        rows = conn.execute(query.limit(limit)).all()
    return [_summary(row) for row in rows]


def _summary(row: Any) -> dict:
    seen = glance(bytes(row.head))
    return {
        "id": row.id,
        "state": _STATE_OF.get(row.status, row.status),
        "received_at": row.received_at,
        "source": row.source,
        "envelope_from": row.mail_from,
        "rcpt_tos": list(row.rcpt_tos or ()),
        "from": seen.sender,
        "subject": seen.subject,
        "message_id": None if seen.message_id_derived else seen.message_id,
        "size": row.size,
        "attempts": row.attempts,
        "outcome": row.outcome,
        "ticket": row.ticket_key,
        "reason": row.reason,
    }


def show_spool(engine: Engine, inbound_id: int) -> dict | None:
    """One spool row in full: envelope, headers read leniently, state, and its trace."""
    with reading(engine) as conn:
        row = conn.execute(select(inbound).where(inbound.c.id == inbound_id)).first()
        if row is None:
            return None
        steps = conn.execute(
            select(decisions).where(decisions.c.inbound_id == inbound_id).order_by(decisions.c.id)
        ).all()
    seen = glance(row.raw)
    return {
        "id": row.id,
        "state": _STATE_OF.get(row.status, row.status),
        "received_at": row.received_at,
        "source": row.source,
        "source_key": row.source_key,
        "envelope_from": row.mail_from,
        "rcpt_tos": list(row.rcpt_tos or ()),
        "from": seen.sender,
        "to": list(seen.to),
        "subject": seen.subject,
        "date": seen.date,
        "message_id": row.message_id or seen.message_id,
        "size": len(row.raw),
        "sha256": row.sha256,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at,
        "outcome": row.outcome,
        "ticket": row.ticket_key,
        "reason": row.reason,
        "processed_at": row.processed_at,
        "trace": [
            {
                "at": s.at,
                "step": s.step,
                "action": s.action,
                "ticket": s.ticket_key,
                "reason": s.reason,
            }
            for s in steps
        ],
    }


def raw_message(engine: Engine, inbound_id: int) -> bytes | None:
    with reading(engine) as conn:
        return conn.execute(select(inbound.c.raw).where(inbound.c.id == inbound_id)).scalar()


def retry_spool(
    engine: Engine, ids: list[int] | None, actor: str, now: datetime
) -> tuple[list[int], list[str]]:
    """Quarantined rows back to pending (attempts reset), each with a decision saying who
    and when. `ids` None: every quarantined row. Returns (requeued ids, notes on the rest)."""
    picked = inbound.c.status == "quarantined"
    if ids is not None:
        picked = picked & inbound.c.id.in_(ids)
    with engine.begin() as conn:
        done = _requeue(conn, picked, {}, "requeued", f"requeued by {actor}", now)
        notes = _not_requeued(conn, ids, set(done), inbound, "quarantined")
    return done, notes


SPAM_REASON = "spam: %"  # the outcome reason of mail the trusted relay marked as spam


def release_spam(
    engine: Engine, ids: list[int], actor: str, now: datetime
) -> tuple[list[int], list[str]]:
    """Mail kept as spam (`ignored`, `spam: …`) back to the worker as a person's mail: the
    relay's verdict is no longer believed for it (its row no longer counts as from a
    trusted relay), so it opens or joins a ticket and is answered like any other. Each
    release is a decision in its trace saying who and when."""
    picked = (
        (inbound.c.status == "done")
        & (inbound.c.outcome == "ignored")
        & inbound.c.reason.like(SPAM_REASON)
        & inbound.c.id.in_(ids)
    )
    with engine.begin() as conn:
        why = f"released from spam by {actor}: the relay's verdict is not believed"
        done = _requeue(conn, picked, {"relay_trusted": False}, "released", why, now)
        notes = _not_requeued(conn, ids, set(done), inbound, "ignored as spam")
    return done, notes


def _requeue(conn, picked, extra: dict, action: str, reason: str, now: datetime) -> list[int]:
    """Rows matching `picked` back to pending, attempts reset, with a decision each."""
    done = sorted(
        conn.execute(
            update(inbound)
            .where(picked)
            .values(
                status="received",
                attempts=0,
                next_attempt_at=None,
                outcome=None,
                reason=None,
                processed_at=None,
                **extra,
            )
            .returning(inbound.c.id, inbound.c.message_id)
        ).all()
    )
    if done:
        conn.execute(
            insert(decisions),
            [
                {
                    "inbound_id": row.id,
                    "message_id": row.message_id,
                    "at": now,
                    "step": "admin",
                    "action": action,
                    "reason": reason,
                    "ticket_key": None,
                }
                for row in done
            ],
        )
    return [row.id for row in done]


def _not_requeued(conn, ids, done: set[int], table, wanted: str) -> list[str]:
    if ids is None:
        return []
    rest = [i for i in ids if i not in done]
    found = dict(conn.execute(select(table.c.id, table.c.status).where(table.c.id.in_(rest))).all())
    return [_why(i, found.get(i), wanted, table is outbox) for i in rest]


def _why(row_id: int, status: str | None, wanted: str, notification: bool) -> str:
    if status is None:
        return f"{row_id}: no such row"
    if notification and status in ("dead", "failed"):  # no bytes: its render failed
        return f"{row_id}: nothing to send (its template failed to render)"
    if status in wanted.split(" or "):
        return f"{row_id}: changed meanwhile (it is {status} now)"
    return f"{row_id}: not {wanted} (it is {status})"


def show_outbox(engine: Engine, outbox_id: int) -> dict | None:
    with reading(engine) as conn:
        row = conn.execute(
            select(outbox, tickets.c.key.label("ticket"))
            .outerjoin(tickets, tickets.c.id == outbox.c.ticket_id)
            .where(outbox.c.id == outbox_id)
        ).first()
    if row is None:
        return None
    out = {k: v for k, v in row._mapping.items() if k not in ("raw", "ticket_id")}
    out["size"] = len(row.raw)
    head = glance(row.raw) if row.raw else None
    out["date"] = head.date if head else None
    return out


def retry_outbox(
    engine: Engine,
    ids: list[int] | None,
    actor: str,
    now: datetime,
    since: datetime | None = None,
) -> tuple[list[int], list[str]]:
    """Dead (or failing) notifications due again now, attempts reset, with an event on
    their ticket. `ids` None: every dead one (queued since `since`, when given). A row
    whose template failed to render has nothing to send and is left dead."""
    if ids is None:
        picked = outbox.c.status == "dead"
        if since is not None:
            picked = picked & (outbox.c.created_at >= since)
    else:
        picked = outbox.c.status.in_(("dead", "failed")) & outbox.c.id.in_(ids)
    picked = picked & (func.length(outbox.c.raw) > 0)
    with engine.begin() as conn:
        done = conn.execute(
            update(outbox)
            .where(picked)
            .values(status="pending", attempts=0, next_attempt_at=now)
            .returning(outbox.c.id, outbox.c.ticket_id, outbox.c.template, outbox.c.recipient)
        ).all()
        for row in done:
            if row.ticket_id is not None:
                record_event(
                    conn,
                    row.ticket_id,
                    now,
                    actor,
                    "notification-retry",
                    f"{row.template}: sent again, requeued by {actor}",
                    None,
                    row.recipient,
                )
        notes = _not_requeued(conn, ids, {row.id for row in done}, outbox, "dead or failed")
    return sorted(row.id for row in done), notes
