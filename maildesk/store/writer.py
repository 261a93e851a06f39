"""The only writer of tickets, messages, events and the decision trace.

`apply` runs inside the caller's transaction: the ticket change, the spool row's final
status and the trace of decisions commit together or not at all.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update

from maildesk.clock import utc
from maildesk.desk import status
from maildesk.desk.effects import (
    AppendMessage,
    CountReminder,
    CreateTicket,
    Decision,
    Effect,
    MarkFirstResponse,
    NewMessage,
    Notify,
    Outcome,
    RecordBounce,
    RecordDigestDay,
    RecordEvent,
    RecordSlaNotice,
    ScheduleSlaCheck,
    SendDigest,
    SetAttribute,
    SetStatus,
    UpdateDetails,
)
from maildesk.store.history import SYSTEM, record_event
from maildesk.store.models import (
    attachments,
    decisions,
    inbound,
    messages,
    outbox,
    participants,
    queue_counters,
    settings,
    sla_notices,
    ticket_details,
    tickets,
)
from maildesk.store.outbox import Notifier


class Closing:
    """The spool rows a batch marks done and their traces, written in one statement each
    when the batch's transaction ends (`flush`): no step of the pipeline reads them, so
    they need not be written message by message."""

    def __init__(self) -> None:
        self.done: list[dict] = []
        self.trace: list[dict] = []

    def flush(self, conn: Connection) -> None:
        if self.done:
            conn.execute(_INBOUND_DONE, self.done)
        if self.trace:
            conn.execute(insert(decisions), self.trace)
        self.done, self.trace = [], []


def apply(
    conn: Connection,
    inbound_id: int,
    outcome: Outcome,
    effects: tuple[Effect, ...],
    trace: tuple[Decision, ...],
    now: datetime,
    notifier: Notifier,
    closing: Closing | None = None,
) -> str | None:
    """Write `effects`, mark the spool row done, store the trace; return the ticket key.
    With `closing`, the last two are left to its `flush`, in the same transaction."""
    created = apply_effects(conn, effects, now, notifier, f"inbound:{inbound_id}", inbound_id)
    key = created or outcome.ticket_key
    done = {
        "row": inbound_id,
        "status": "done",
        "outcome": outcome.outcome,
        "reason": outcome.reason,
        "ticket_key": key,
        "message_id": outcome.message_id,
        "processed_at": now,
        "last_error": None,
    }
    rows = _trace_rows(inbound_id, outcome.message_id, trace, key, now)
    if closing is None:
        conn.execute(_INBOUND_DONE, done)
        if rows:
            conn.execute(insert(decisions), rows)
    else:
        closing.done.append(done)
        closing.trace.extend(rows)
    return key


def apply_effects(
    conn: Connection,
    effects: tuple[Effect, ...],
    now: datetime,
    notifier: Notifier,
    cause: str,
    inbound_id: int | None = None,
) -> str | None:
    """Write `effects` in the caller's transaction; return the key of a ticket created."""
    created: str | None = None
    ids: dict[str, int] = {}  # ticket key -> id, looked up once per key

    def _ticket_id(key: str) -> int:
        if key not in ids:
            ids[key] = ticket_id_of(conn, key)
        return ids[key]

    for effect in effects:
        if isinstance(effect, CreateTicket):
            created, ids[created] = _create(conn, inbound_id, effect, now)
            continue
        if isinstance(effect, SendDigest):
            notifier.enqueue_digest(conn, effect, now)
            continue
        if isinstance(effect, RecordDigestDay):
            conn.execute(
                insert(settings).values(name=f"digest:{effect.day}", value=now.isoformat())
            )
            continue
        key = getattr(effect, "ticket_key", None) or created
        if isinstance(effect, RecordBounce):
            _bounce(conn, effect, now)
        elif isinstance(effect, Notify):
            assert key is not None, "a notification needs a ticket"
            note = effect
            if note.attachments_from == -1:  # "the inbound message being applied"
                note = replace(note, attachments_from=inbound_id)
            notifier.enqueue(conn, _ticket_id(key), note, note.cause or cause, now)
        else:
            assert key is not None, f"{type(effect).__name__} needs a ticket"
            _HANDLERS[type(effect)](conn, _ticket_id(key), effect, now, inbound_id)
    return created


def _record(
    conn: Connection, ticket_id: int, effect: RecordEvent, now: datetime, _inbound: int | None
) -> None:
    record_event(
        conn,
        ticket_id,
        now,
        effect.actor,
        effect.kind,
        effect.reason,
        effect.from_value,
        effect.to_value,
    )


def _set_status(
    conn: Connection, ticket_id: int, effect: SetStatus, now: datetime, _inbound: int | None
) -> None:
    waiting = effect.to_status == status.WAITING_CUSTOMER
    closed = effect.to_status == status.CLOSED
    done = conn.execute(
        update(tickets)
        .where(tickets.c.id == ticket_id, tickets.c.status == effect.from_status)
        .values(
            status=effect.to_status,
            resolution=effect.resolution if closed else None,
            waiting_since=now if waiting else None,
            reminders_sent=0,
            closed_at=now if closed else None,
            updated_at=now,
            sla_check_at=None if closed else now,  # service levels: look again
        )
    ).rowcount
    if done != 1:
        raise Conflict(f"ticket changed meanwhile (expected status {effect.from_status})")
    reason = effect.reason or (f"resolution: {effect.resolution}" if closed else "")
    record_event(
        conn, ticket_id, now, effect.actor, "status", reason, effect.from_status, effect.to_status
    )


def _set_attribute(
    conn: Connection, ticket_id: int, effect: SetAttribute, now: datetime, _inbound: int | None
) -> None:
    if effect.name == "assignee":
        conn.execute(
            update(tickets)
            .where(tickets.c.id == ticket_id)
            .values(assignee=effect.to_value, updated_at=now)
        )
    else:
        values: dict[str, object] = {effect.name: effect.to_value}
        if effect.name == "criticality":  # other objectives apply: look at them again
            conn.execute(
                update(tickets)
                .where(tickets.c.id == ticket_id, tickets.c.status != status.CLOSED)
                .values(sla_check_at=now)
            )
        if effect.name == "criticality":  # chosen by a person now, no longer a default
            fields = conn.execute(
                select(ticket_details.c.fields).where(ticket_details.c.ticket_id == ticket_id)
            ).scalar_one()
            values["fields"] = {k: v for k, v in fields.items() if k != "criticality_defaulted"}
        conn.execute(
            update(ticket_details).where(ticket_details.c.ticket_id == ticket_id).values(values)
        )
    record_event(
        conn,
        ticket_id,
        now,
        effect.actor,
        effect.name,
        effect.reason,
        effect.from_value,
        effect.to_value,
    )


def _first_response(
    conn: Connection,
    ticket_id: int,
    _effect: MarkFirstResponse,
    now: datetime,
    _inbound: int | None,
) -> None:
    conn.execute(
        update(tickets)
        .where(tickets.c.id == ticket_id, tickets.c.first_response_at.is_(None))
        .values(first_response_at=now, sla_check_at=now)
    )


def _update_details(
    conn: Connection, ticket_id: int, effect: UpdateDetails, _now: datetime, _inbound: int | None
) -> None:
    update_details(conn, ticket_id, effect)


def _append_effect(
    conn: Connection, ticket_id: int, effect: AppendMessage, now: datetime, inbound_id: int | None
) -> None:
    _append(conn, inbound_id, ticket_id, effect, now)


def _count_reminder(
    conn: Connection, ticket_id: int, effect: CountReminder, now: datetime, _inbound: int | None
) -> None:
    counted = conn.execute(
        update(tickets)
        .where(
            tickets.c.id == ticket_id,
            tickets.c.status == status.WAITING_CUSTOMER,
            tickets.c.waiting_since == effect.waiting_since,
            tickets.c.reminders_sent == effect.sent_before,
        )
        .values(reminders_sent=effect.sent)
    ).rowcount
    if counted != 1:
        raise Conflict("the ticket no longer waits as read (another scheduler got there first)")
    record_event(conn, ticket_id, now, SYSTEM, "reminder", f"day {effect.days}", None, effect.step)


def _sla_notice(
    conn: Connection, ticket_id: int, effect: RecordSlaNotice, now: datetime, _inbound: int | None
) -> None:
    # A second instance warning for the same state fails here (IntegrityError): its caller
    # rolls back, and the warning goes out once.
    conn.execute(
        insert(sla_notices).values(
            ticket_id=ticket_id, objective=effect.objective, state=effect.state, at=now
        )
    )


def _schedule_sla(
    conn: Connection, ticket_id: int, effect: ScheduleSlaCheck, _now: datetime, _inb: int | None
) -> None:
    conn.execute(
        update(tickets)
        .where(tickets.c.id == ticket_id, tickets.c.sla_check_at == effect.expected)
        .values(sla_check_at=utc(effect.when) if effect.when else None)  # SQLite keeps no offset
    )


class Conflict(RuntimeError):
    """The ticket changed between reading and writing: retry with fresh data."""


_HANDLERS = {
    RecordEvent: _record,
    SetStatus: _set_status,
    SetAttribute: _set_attribute,
    MarkFirstResponse: _first_response,
    UpdateDetails: _update_details,
    AppendMessage: _append_effect,
    CountReminder: _count_reminder,
    RecordSlaNotice: _sla_notice,
    ScheduleSlaCheck: _schedule_sla,
}


def record_trace(
    conn: Connection,
    inbound_id: int,
    message_id: str | None,
    trace: tuple[Decision, ...],
    key: str | None,
    now: datetime,
) -> None:
    if trace:
        conn.execute(insert(decisions), _trace_rows(inbound_id, message_id, trace, key, now))


def _trace_rows(
    inbound_id: int,
    message_id: str | None,
    trace: tuple[Decision, ...],
    key: str | None,
    now: datetime,
) -> list[dict]:
    return [
        {
            "inbound_id": inbound_id,
            "message_id": message_id,
            "at": now,
            "step": d.step,
            "action": d.action,
            "reason": d.reason,
            "ticket_key": key,
        }
        for d in trace
    ]


def next_number(conn: Connection, queue: str) -> int:
    """Allocate the queue's next ticket number; the row lock serialises concurrent writers."""
    number = conn.execute(_NEXT_NUMBER, {"name": queue}).scalar()
    if number is None:
        raise LookupError(f"queue {queue!r} has no counter (is it configured?)")
    return number


def _create(
    conn: Connection, inbound_id: int | None, effect: CreateTicket, now: datetime
) -> tuple[str, int]:
    number = next_number(conn, effect.queue)
    key = f"{effect.key_prefix}-{number}"
    linked = ticket_id_of(conn, effect.linked_to) if effect.linked_to else None
    ticket_id = conn.execute(
        _INSERT_TICKET,
        {
            "key": key,
            "queue": effect.queue,
            "number": number,
            "subject": effect.subject,
            "requester": effect.requester,
            "requester_name": effect.requester_name,
            "status": "new",
            "linked_ticket_id": linked,
            "created_at": now,
            "updated_at": now,
            "sla_check_at": now,
        },
    ).scalar_one()
    _add_participants(conn, ticket_id, effect.participants, first_is_requester=True)
    details = dict(effect.details)
    conn.execute(
        _INSERT_DETAILS,
        {
            "ticket_id": ticket_id,
            "language": details.get("language", "fr"),
            "criticality": details.get("criticality", "medium"),
            "request_type": details.get("request_type", "assistance"),
            "fields": details.get("fields", {}),
            "missing_fields": details.get("missing_fields", []),
            "subject_quality": details.get("subject_quality", {"ok": True, "reasons": []}),
        },
    )
    _insert_message(conn, ticket_id, inbound_id, effect.message, now)
    record_event(conn, ticket_id, now, effect.requester or SYSTEM, "created", "", None, "new")
    if effect.linked_to:
        record_event(
            conn, ticket_id, now, SYSTEM, "linked", effect.link_reason, None, effect.linked_to
        )
    return key, ticket_id


def _append(
    conn: Connection, inbound_id: int | None, ticket_id: int, effect: AppendMessage, now: datetime
) -> None:
    _add_participants(conn, ticket_id, effect.participants, first_is_requester=False)
    _insert_message(conn, ticket_id, inbound_id, effect.message, now)
    if not effect.message.automatic:  # an auto-reply is no activity on the ticket
        conn.execute(_TOUCH_TICKET, {"row": ticket_id, "updated_at": now})


def _insert_message(
    conn: Connection, ticket_id: int, inbound_id: int | None, m: NewMessage, now: datetime
) -> int:
    message_pk = conn.execute(
        _INSERT_MESSAGE,
        {
            "ticket_id": ticket_id,
            "inbound_id": inbound_id,
            "direction": m.direction,
            "message_id": m.message_id,
            "dedup_key": m.dedup_key,
            "sender": m.sender,
            "sender_name": m.sender_name,
            "subject": m.subject,
            "text_body": m.text_body,
            "html_body": m.html_body,
            "automatic": m.automatic,
            "kind": m.kind,
            "created_at": now,
        },
    ).scalar_one()
    if m.attachments:
        conn.execute(
            insert(attachments),
            [
                {
                    "message_id": message_pk,
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "size": a.size,
                }
                for a in m.attachments
            ],
        )
    return message_pk


def _add_participants(
    conn: Connection, ticket_id: int, people: tuple[tuple[str, str], ...], first_is_requester: bool
) -> None:
    """Those of `people` not yet on the ticket, in one statement (`first_is_requester`: the
    ticket is being created, so it has none yet)."""
    known = (
        set()
        if first_is_requester
        else set(conn.execute(_PARTICIPANTS, {"ticket": ticket_id}).scalars())
    )
    rows = []
    for i, (name, address) in enumerate(people):
        if address in known:
            continue
        role = "requester" if first_is_requester and i == 0 else "cc"
        rows.append({"ticket_id": ticket_id, "address": address, "name": name, "role": role})
        known.add(address)
    if rows:
        conn.execute(_INSERT_PARTICIPANT, rows)


def ticket_id_of(conn: Connection, key: str) -> int:
    return conn.execute(_TICKET_ID, {"ticket_key": key}).scalar_one()


# The statements of the per-message path, built once: building a statement object costs
# more than running it on SQLite (bench/README.md, "Performance figures").
_INBOUND_DONE = update(inbound).where(inbound.c.id == bindparam("row"))
_NEXT_NUMBER = (
    update(queue_counters)
    .where(queue_counters.c.queue == bindparam("name"))
    .values(last_number=queue_counters.c.last_number + 1)
    .returning(queue_counters.c.last_number)
)
_INSERT_TICKET = insert(tickets).returning(tickets.c.id)
_INSERT_DETAILS = insert(ticket_details)
_INSERT_MESSAGE = insert(messages).returning(messages.c.id)
_INSERT_PARTICIPANT = insert(participants)
_PARTICIPANTS = select(participants.c.address).where(
    participants.c.ticket_id == bindparam("ticket")
)
_TICKET_ID = select(tickets.c.id).where(tickets.c.key == bindparam("ticket_key"))
_TOUCH_TICKET = update(tickets).where(tickets.c.id == bindparam("row"))


def _bounce(conn: Connection, effect: RecordBounce, now: datetime) -> None:
    row = conn.execute(
        select(outbox.c.id, outbox.c.ticket_id, outbox.c.recipient, outbox.c.template).where(
            outbox.c.message_id == effect.outbox_message_id
        )
    ).one()
    conn.execute(
        update(outbox)
        .where(outbox.c.id == row.id)
        .values(bounced_at=now, bounce_reason=effect.reason)
    )
    if row.ticket_id is not None:
        record_event(
            conn,
            row.ticket_id,
            now,
            SYSTEM,
            "notification-bounced",
            f"{row.template} to {row.recipient}: {effect.reason}",
            None,
            row.recipient,
        )


def update_details(conn: Connection, ticket_id: int, effect: UpdateDetails) -> None:
    conn.execute(
        update(ticket_details)
        .where(ticket_details.c.ticket_id == ticket_id)
        .values(fields=dict(effect.fields), missing_fields=list(effect.missing_fields))
    )
