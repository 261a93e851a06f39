"""The health of a desk as `maildesk status` reports it: Nagios plugin exit codes.

0 OK, 1 WARNING, 2 CRITICAL (3 UNKNOWN: the check itself could not run). The thresholds
are `[status]` in the configuration. The summary comes first, the details after it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from maildesk.clock import utc
from maildesk.config import Config

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}


def health(found: dict[str, Any], config: Config, now: datetime) -> tuple[int, str]:
    """The worst state found and the one-line summary that says why."""
    limits = config.status
    problems: list[tuple[int, str]] = []
    alive = sum(1 for m in found["instances"] if m["alive"])
    if not alive:
        problems.append((CRITICAL, "no live instance"))
    for what, part in (("mail", found["spool"]), ("notification", found["outbox"])):
        if part["oldest_pending"] is None:
            continue
        minutes = (now - utc(part["oldest_pending"])).total_seconds() / 60
        if minutes > limits.pending_critical_minutes:
            level, limit = CRITICAL, limits.pending_critical_minutes
        elif minutes > limits.pending_warning_minutes:
            level, limit = WARNING, limits.pending_warning_minutes
        else:
            continue
        problems.append((level, f"oldest pending {what} {minutes:.0f} min old (above {limit:g})"))
    quarantined, dead = found["spool"]["quarantined"], found["outbox"]["dead"]
    if quarantined > limits.quarantined_warning:
        problems.append(
            (WARNING, f"{quarantined} quarantined (above {limits.quarantined_warning})")
        )
    if dead > limits.dead_warning:
        problems.append((WARNING, f"{dead} dead notifications (above {limits.dead_warning})"))
    code = max((level for level, _ in problems), default=OK)
    counts = (
        f"{alive} instance(s) alive, {found['spool']['pending']} mail and "
        f"{found['outbox']['pending']} notification(s) pending, {quarantined} quarantined, "
        f"{dead} dead"
    )
    reasons = "; ".join(text for _, text in sorted(problems, key=lambda p: -p[0]))
    return code, f"MAILDESK {NAMES[code]} - {reasons + ' | ' if reasons else ''}{counts}"
