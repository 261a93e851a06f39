"""Run the waiting ladder (maildesk.desk.reminders) over the tickets that have a step due.

Each ticket in its own transaction: the planned effects go through the one writer, whose
conditions make a second scheduler's attempt a `Conflict` that writes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, union_all

from maildesk import logs
from maildesk.clock import utc
from maildesk.config import Config, RemindersConfig
from maildesk.desk import status as st
from maildesk.desk.reminders import Done, cause_of, due, plan
from maildesk.store.db import reading
from maildesk.store.models import tickets
from maildesk.store.outbox import Notifier
from maildesk.store.sql_view import SqlView
from maildesk.store.writer import Conflict, apply_effects

log = logging.getLogger("maildesk.reminders")


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
    engine: Engine, config: Config, notifier: Notifier, row, step: str, now: datetime
) -> bool:
    cause = cause_of(step, row.key, utc(row.waiting_since))
    try:
        with engine.begin() as conn:
            ticket = SqlView(conn).ticket_by_key(row.key)
            if ticket is None:
                return False
            effects = plan(
                ticket, step, row.waiting_since, row.reminders_sent, cause, config.reminders
            )
            if not effects:
                return False
            apply_effects(conn, effects, now, notifier, cause)
    except Conflict:
        return False  # another scheduler got there first
    logs.decision(log, ticket=row.key, action=step, reason=cause)
    return True
