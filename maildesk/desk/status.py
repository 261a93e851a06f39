"""Ticket statuses and the one table of allowed transitions.

Every status change anywhere (mail commands, `tickets set`, the scheduler, customer
replies) goes through `check`, so a transition this table does not list is refused with
a message that says what is allowed.
"""

from __future__ import annotations

NEW = "new"
QUALIFIED = "qualified"
IN_PROGRESS = "in_progress"
WAITING_CUSTOMER = "waiting_customer"
CLOSED = "closed"
ESCALATIONS = ("escalated_spc", "escalated_rpc", "escalated_l2", "consulting", "waiting_patch")
STATUSES = (NEW, QUALIFIED, IN_PROGRESS, WAITING_CUSTOMER, CLOSED, *ESCALATIONS)
RESOLUTIONS = ("solved", "no_answer")
_WORKING = (QUALIFIED, IN_PROGRESS, WAITING_CUSTOMER, *ESCALATIONS)

# from -> the statuses it may move to. Closed tickets stay closed except for an explicit
# reopen (a consultant's decision, or a queue configured with closed_reply = "reopen").
TRANSITIONS: dict[str, frozenset[str]] = {
    NEW: frozenset({QUALIFIED, IN_PROGRESS, WAITING_CUSTOMER, CLOSED, *ESCALATIONS}),
    QUALIFIED: frozenset({IN_PROGRESS, WAITING_CUSTOMER, CLOSED, *ESCALATIONS}),
    IN_PROGRESS: frozenset({QUALIFIED, WAITING_CUSTOMER, CLOSED, *ESCALATIONS}),
    WAITING_CUSTOMER: frozenset({IN_PROGRESS, QUALIFIED, CLOSED, *ESCALATIONS}),
    CLOSED: frozenset({IN_PROGRESS}),
    **{
        e: frozenset({IN_PROGRESS, WAITING_CUSTOMER, CLOSED, *(x for x in ESCALATIONS if x != e)})
        for e in ESCALATIONS
    },
}


class TransitionRefused(ValueError):
    """A status change the transition table does not allow, worded for a person."""


def check(current: str, target: str, resolution: str | None = None) -> None:
    if target not in STATUSES:
        raise TransitionRefused(f"unknown status {target!r}; statuses: {', '.join(STATUSES)}")
    if target == current:
        raise TransitionRefused(f"the ticket is already {target}")
    allowed = TRANSITIONS.get(current, frozenset())
    if target not in allowed:
        options = ", ".join(s for s in STATUSES if s in allowed) or "none"
        raise TransitionRefused(f"{current} cannot become {target}; from {current}: {options}")
    if target == CLOSED and resolution not in RESOLUTIONS:
        raise TransitionRefused(f"closing needs a resolution: {' or '.join(RESOLUTIONS)}")


CRITICALITIES = ("low", "medium", "high", "critical")
REQUEST_TYPES = ("assistance", "patch", "solva_flex")


def is_lower(new: str, old: str) -> bool:
    return CRITICALITIES.index(new) < CRITICALITIES.index(old)
