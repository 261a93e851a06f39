"""The time rules, run once as of `now`: reminders, automatic closure, SLA warnings.

The daemon's scheduler calls this every `[scheduler] tick_seconds`; `maildesk tick
--now ...` calls it once, for cron deployments and for tests that never sleep.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from maildesk import reminders, sla_watch
from maildesk.clock import utc

if TYPE_CHECKING:
    from maildesk.app import Services


def tick(services: Services, now: datetime) -> dict[str, Any]:
    now = utc(now)  # SQLite keeps no offset: every stored instant is UTC
    done = reminders.run(services.engine, services.config, services.notifier, now)
    warned = sla_watch.run(
        services.engine, services.config, services.calendar, services.notifier, now
    )
    return {
        "now": now.isoformat(),
        "reminders": [
            {"ticket": d.ticket, "template": d.action} for d in done if d.action != reminders.CLOSE
        ],
        "closed": [d.ticket for d in done if d.action == reminders.CLOSE],
        "sla_warnings": [
            {"ticket": w.ticket, "objective": w.objective, "state": w.state} for w in warned
        ],
    }
