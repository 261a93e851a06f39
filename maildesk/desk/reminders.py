"""The waiting-for-the-customer ladder: reminder on day 10 and 15, closure on day 20.

Pure planning: `due` says which step a waiting ticket has reached, `plan` the effects that
take it. `maildesk.store.reminders` finds the waiting tickets and has the writer apply the
effects, each ticket in its own transaction; the conditions the effects carry, with the
outbox's unique (cause, recipient, template), send a reminder at most once per waiting
period however late, often, or on however many instances the scheduler runs. When the
scheduler was late, only the latest due step is taken (no day-10 reminder on day 16).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from maildesk.config import RemindersConfig
from maildesk.desk import status as st
from maildesk.desk.effects import (
    AUTO_GENERATED,
    SYSTEM,
    CountReminder,
    Effect,
    Notify,
    SetStatus,
)
from maildesk.desk.view import TicketRef

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


def cause_of(step: str, key: str, waiting_since: datetime) -> str:
    """One cause per step and waiting period: the outbox sends each only once."""
    return f"{step}:{key}:{waiting_since.isoformat()}"


def plan(
    ticket: TicketRef,
    step: str,
    stored_waiting_since: datetime,
    reminders_sent: int,
    cause: str,
    cfg: RemindersConfig,
) -> tuple[Effect, ...]:
    """The effects of taking `step` on a ticket still waiting for its customer; none when it
    no longer waits. `stored_waiting_since` is the value as read, compared as stored."""
    if ticket.status != st.WAITING_CUSTOMER:
        return ()
    days = {REMINDER_1: cfg.first_days, REMINDER_2: cfg.second_days, CLOSE: cfg.close_days}[step]
    note = Notify(
        step,
        ticket.requester,
        ticket.requester_name,
        ticket.key,
        auto_submitted=AUTO_GENERATED,
        cause=cause,
        extra=(("days", days), ("close_after_days", cfg.close_days)),
    )
    if step == CLOSE:
        reason = f"no answer for {days} days"
        closing = SetStatus(ticket.key, st.WAITING_CUSTOMER, st.CLOSED, SYSTEM, reason, "no_answer")
        return (closing, note)
    sent = 1 if step == REMINDER_1 else 2
    count = CountReminder(ticket.key, stored_waiting_since, reminders_sent, sent, step, days)
    return (count, note)
