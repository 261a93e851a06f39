"""The time rules, run once as of `now`: reminders, automatic closure, SLA warnings, and
the consultants' morning digest.

The daemon's scheduler calls this every `[scheduler] tick_seconds`; `maildesk tick
--now ...` calls it once, for cron deployments and for tests that never sleep.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine

from maildesk.clock import utc
from maildesk.config import Config
from maildesk.desk import reminders as ladder
from maildesk.desk.business_hours import BusinessCalendar
from maildesk.store import digest, reminders, sla_warnings
from maildesk.store.outbox import Notifier


class TickParts(Protocol):
    """What one tick uses (the composition root's `Services` has these, and more)."""

    engine: Engine
    config: Config
    calendar: BusinessCalendar
    notifier: Notifier


def tick(parts: TickParts, now: datetime) -> dict[str, Any]:
    now = utc(now)  # SQLite keeps no offset: every stored instant is UTC
    done = reminders.run(parts.engine, parts.config, parts.notifier, now)
    warned = sla_warnings.run(parts.engine, parts.config, parts.calendar, parts.notifier, now)
    digests = digest.run(parts.engine, parts.config, parts.calendar, parts.notifier, now)
    return {
        "now": now.isoformat(),
        "reminders": [
            {"ticket": d.ticket, "template": d.action} for d in done if d.action != ladder.CLOSE
        ],
        "closed": [d.ticket for d in done if d.action == ladder.CLOSE],
        "sla_warnings": [
            {"ticket": w.ticket, "objective": w.objective, "state": w.state} for w in warned
        ],
        "digests": digests,
    }
