"""The waiting-for-the-customer ladder: reminder on day 10 and 15, closure on day 20.

`due` is pure. `run` applies it to every waiting ticket, each in its own transaction,
guarded by a conditional UPDATE on (status, waiting_since, reminders_sent) and by the
outbox's unique (cause, recipient, template): a reminder is sent at most once per waiting
period however late, often, or on however many instances the scheduler runs. When the
scheduler was late, only the latest due step is taken (no day-10 reminder on day 16).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, union_all, update

from maildesk import logs
from maildesk import status as st
from maildesk.apply import Conflict, apply_effects
from maildesk.clock import utc
from maildesk.config import Config, RemindersConfig
from maildesk.db import reading
from maildesk.effects import Notify, SetStatus
from maildesk.history import SYSTEM, record_event
from maildesk.inbound.view import SqlView
from maildesk.models import tickets
from maildesk.outbound.compose import AUTO_GENERATED
from maildesk.outbound.notify import Notifier

log = logging.getLogger("maildesk.reminders")
REMINDER_1, REMINDER_2, CLOSE = "reminder_1", "reminder_2", "auto_closed"


def due(
    waiting_since: datetime, reminders_sent: int, now: datetime, cfg: RemindersConfig
) -> str | None:
    elapsed = now - waiting_since
    if elapsed >= timedelta(days=cfg.close_days):
        return CLOSE
    if elapsed >= timedelta(days=cfg.second_days) and reminders_sent < 2:
        return REMINDER_2
    if elapsed >= timedelta(days=cfg.first_days) and reminders_sent < 1:
        return REMINDER_1
    return None


@dataclass(frozen=True)
class Done:
    ticket: str
    action: str  # reminder_1 | reminder_2 | auto_closed


def run(engine: Engine, config: Config, notifier: Notifier, now: datetime) -> list[Done]:
    with reading(engine) as conn:
        candidates = conn.execute(due_query(config.reminders, now)).all()
    done: list[Done] = []
    for row in candidates:
        step = due(utc(row.waiting_since), row.reminders_sent, now, config.reminders)
        if step and _take(engine, config, notifier, row, step, now):
            done.append(Done(row.key, step))
    return done


def due_query(cfg: RemindersConfig, now: datetime):
    """Only tickets with a step due: three index range scans on (status, reminders_sent,
    waiting_since), never a walk over every waiting ticket."""
    cols = (tickets.c.id, tickets.c.key, tickets.c.waiting_since, tickets.c.reminders_sent)
    waiting = tickets.c.status == st.WAITING_CUSTOMER

    def older(days: int):
        return tickets.c.waiting_since <= now - timedelta(days=days)

    return union_all(
        select(*cols).where(
            waiting, tickets.c.reminders_sent == 0, older(cfg.first_days), ~older(cfg.close_days)
        ),
        select(*cols).where(
            waiting, tickets.c.reminders_sent == 1, older(cfg.second_days), ~older(cfg.close_days)
        ),
        select(*cols).where(
            waiting, tickets.c.reminders_sent.in_((0, 1, 2)), older(cfg.close_days)
        ),
    )


def _take(
    engine: Engine,
    config: Config,
    notifier: Notifier,
    row,
    step: str,
    now: datetime,
) -> bool:
    cause = f"{step}:{row.key}:{utc(row.waiting_since).isoformat()}"
    try:
        with engine.begin() as conn:
            ticket = SqlView(conn).ticket_by_key(row.key)
            if ticket is None or ticket.status != st.WAITING_CUSTOMER:
                return False
            days = {
                REMINDER_1: config.reminders.first_days,
                REMINDER_2: config.reminders.second_days,
                CLOSE: config.reminders.close_days,
            }[step]
            note = Notify(
                step,
                ticket.requester,
                ticket.requester_name,
                row.key,
                auto_submitted=AUTO_GENERATED,
                cause=cause,
                extra=(("days", days), ("close_after_days", config.reminders.close_days)),
            )
            if step == CLOSE:
                effects = (
                    SetStatus(
                        row.key,
                        st.WAITING_CUSTOMER,
                        st.CLOSED,
                        SYSTEM,
                        f"no answer for {days} days",
                        "no_answer",
                    ),
                    note,
                )
                apply_effects(conn, effects, now, notifier, cause)
            else:
                sent = 1 if step == REMINDER_1 else 2
                claimed = conn.execute(
                    update(tickets)
                    .where(
                        tickets.c.id == row.id,
                        tickets.c.status == st.WAITING_CUSTOMER,
                        tickets.c.waiting_since == row.waiting_since,
                        tickets.c.reminders_sent == row.reminders_sent,
                    )
                    .values(reminders_sent=sent)
                ).rowcount
                if claimed != 1:
                    return False
                record_event(conn, row.id, now, SYSTEM, "reminder", f"day {days}", None, step)
                apply_effects(conn, (note,), now, notifier, cause)
    except Conflict:
        return False  # another scheduler got there first
    logs.decision(log, ticket=row.key, action=step, reason=cause)
    return True
