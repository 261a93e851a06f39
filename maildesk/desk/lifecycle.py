"""Plan a change to a ticket (status, criticality, type, assignee) as effects, purely.

Who asks (a consultant's mail command, `tickets set`, a customer's reply, the scheduler)
does not matter: every change is checked against the status table and produces the same
events and notifications. Lowering the criticality needs a reason, which the customer is
told (domain rule §3).
"""

from __future__ import annotations

from dataclasses import dataclass

from maildesk.desk import status as st
from maildesk.desk.effects import AUTO_GENERATED, Effect, Notify, SetAttribute, SetStatus
from maildesk.desk.labels import label
from maildesk.desk.view import TicketRef

# Status changes the customer is told about with `status_changed` (the others are either
# internal steps or have a notification of their own).
TOLD = frozenset({st.IN_PROGRESS, st.CLOSED, *st.ESCALATIONS})


@dataclass(frozen=True)
class Change:
    status: str | None = None
    resolution: str | None = None
    criticality: str | None = None
    request_type: str | None = None
    assignee: str | None = None
    reason: str = ""
    notify_customer: bool = True


def plan(ticket: TicketRef, change: Change, actor: str) -> tuple[Effect, ...]:
    """Effects for `change`; raises TransitionRefused/ValueError when it is not allowed."""
    effects: list[Effect] = []
    if change.criticality and change.criticality != ticket.criticality:
        effects += _criticality(ticket, change, actor)
    if change.request_type and change.request_type != ticket.request_type:
        if change.request_type not in st.REQUEST_TYPES:
            raise ValueError(
                f"unknown type {change.request_type!r}; types: {', '.join(st.REQUEST_TYPES)}"
            )
        effects.append(
            SetAttribute(
                ticket.key,
                "request_type",
                ticket.request_type,
                change.request_type,
                actor,
                change.reason,
            )
        )
    assigned = change.assignee is not None and change.assignee != ticket.assignee
    if assigned:
        effects.append(
            SetAttribute(
                ticket.key, "assignee", ticket.assignee, change.assignee, actor, change.reason
            )
        )
    if change.status:
        resolution = change.resolution or ("solved" if change.status == st.CLOSED else None)
        st.check(ticket.status, change.status, resolution)
        effects.append(
            SetStatus(ticket.key, ticket.status, change.status, actor, change.reason, resolution)
        )
        if change.notify_customer and change.status in TOLD:
            effects.append(
                _tell(
                    ticket,
                    "status_changed",
                    label("status", ticket.status, ticket.language),
                    label("status", change.status, ticket.language),
                    change.reason,
                )
            )
    if assigned and change.assignee:
        # The new assignee gets the whole ticket by mail, rendered after every change above.
        effects.append(history_for(ticket.key, change.assignee))
    return tuple(effects)


def history_for(key: str | None, address: str, in_reply_to: str | None = None) -> Notify:
    """The `#history` mail: rendered from the stored ticket where notifications are."""
    return Notify(
        "staff_history",
        address,
        "",
        key,
        auto_submitted=AUTO_GENERATED,
        in_reply_to=in_reply_to,
        attachments_capped=True,
    )


def _criticality(ticket: TicketRef, change: Change, actor: str) -> list[Effect]:
    new = change.criticality or ""
    if new not in st.CRITICALITIES:
        raise ValueError(f"unknown criticality {new!r}; levels: {', '.join(st.CRITICALITIES)}")
    effects: list[Effect] = [
        SetAttribute(ticket.key, "criticality", ticket.criticality, new, actor, change.reason)
    ]
    if st.is_lower(new, ticket.criticality):
        if not change.reason.strip():
            raise ValueError("lowering the criticality needs a reason: the customer is told it")
        effects.append(
            _tell(
                ticket,
                "criticality_lowered",
                label("criticality", ticket.criticality, ticket.language),
                label("criticality", new, ticket.language),
                change.reason,
            )
        )
    return effects


def _tell(ticket: TicketRef, template: str, old: str, new: str, reason: str) -> Notify:
    return Notify(
        template,
        ticket.requester,
        ticket.requester_name,
        ticket.key,
        auto_submitted=AUTO_GENERATED,
        extra=(("old_label", old), ("new_label", new), ("reason", reason)),
    )
