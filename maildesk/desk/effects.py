"""Effects: what the pure pipeline wants done, as plain values.

Only `maildesk.store.writer` turns these into writes, all in one transaction, so a
decision is either fully recorded (ticket, message, events, trace, spool status) or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# RFC 3834 §5: "auto-replied" answers a message; "auto-generated" is mail we start ourselves.
AUTO_REPLIED = "auto-replied"
AUTO_GENERATED = "auto-generated"

SYSTEM = "maildesk"  # the actor of changes nobody in particular made

# `None` as a ticket key in an effect means "the ticket created in this same unit of work".
NEW_TICKET = None


@dataclass(frozen=True)
class Decision:
    step: str
    action: str
    reason: str = ""


@dataclass(frozen=True)
class Attachment:
    """One attachment as staff see it. Nothing is ever written to disk under its name."""

    filename: str  # display name: no path parts, no control or bidi characters, <= 255 bytes
    content_type: str  # the type presented: the declared one unless the bytes contradict it
    size: int
    declared_type: str = ""  # the part's Content-Type as the sender wrote it
    sniffed_type: str = ""  # what the first bytes are, "" when not recognised
    undecodable: bool = False  # its transfer encoding is broken: the bytes are not the file


@dataclass(frozen=True)
class NewMessage:
    message_id: str
    dedup_key: str
    sender: str
    sender_name: str
    subject: str
    text_body: str
    html_body: str | None
    attachments: tuple[Attachment, ...]
    automatic: bool = False
    direction: str = "in"
    kind: str = "customer"  # customer | staff | note | refused


@dataclass(frozen=True)
class CreateTicket:
    queue: str
    key_prefix: str
    subject: str
    requester: str
    requester_name: str
    participants: tuple[tuple[str, str], ...]
    message: NewMessage
    linked_to: str | None = None
    link_reason: str = ""
    details: tuple[tuple[str, object], ...] = ()  # language, criticality, fields, ...


@dataclass(frozen=True)
class AppendMessage:
    ticket_key: str
    message: NewMessage
    participants: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RecordEvent:
    ticket_key: str | None
    kind: str
    actor: str
    reason: str = ""
    from_value: str | None = None
    to_value: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The final word on one inbound message: what `ingest` prints and the spool keeps."""

    outcome: str  # created | appended | duplicate | ignored | quarantined
    reason: str
    ticket_key: str | None = NEW_TICKET
    message_id: str = ""
    decisions: tuple[Decision, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Notify:
    """Queue one notification; `apply` renders it and stores it in the outbox."""

    template: str
    recipient: str
    recipient_name: str = ""
    ticket_key: str | None = NEW_TICKET
    auto_submitted: str | None = AUTO_REPLIED  # None only for a person's relayed answer
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    language: str | None = None  # None: the ticket's language
    extra: tuple[tuple[str, object], ...] = ()  # template values beyond the ticket's own
    cause: str | None = None  # None: the inbound message being processed
    attachments_from: int | None = None  # relay the attachments of this inbound message
    # Staff copies: every file of `attachments_from` (inline images inline) up to
    # `[staff] attachments_max_bytes`, the rest listed with their sizes.
    attachments_capped: bool = False


@dataclass(frozen=True)
class RecordBounce:
    """A bounce of one of our notifications: marked on the outbox row and its ticket."""

    outbox_message_id: str
    reason: str


@dataclass(frozen=True)
class UpdateDetails:
    """New values for what maildesk knows of a request (fields, what is still missing)."""

    ticket_key: str
    fields: tuple[tuple[str, str], ...]
    missing_fields: tuple[str, ...]


@dataclass(frozen=True)
class SetStatus:
    """Move a ticket from `from_status` (checked again when written) to `to_status`."""

    ticket_key: str
    from_status: str
    to_status: str
    actor: str
    reason: str = ""
    resolution: str | None = None


@dataclass(frozen=True)
class SetAttribute:
    """Change criticality, request type or assignee, with an event saying who and why."""

    ticket_key: str
    name: str  # criticality | request_type | assignee | language
    from_value: str | None
    to_value: str | None
    actor: str
    reason: str = ""


@dataclass(frozen=True)
class MarkFirstResponse:
    ticket_key: str


@dataclass(frozen=True)
class CountReminder:
    """A reminder of the waiting ladder goes out: count it on the ticket, but only if the
    ticket still waits as it was read (status, since when, reminders sent), so that a second
    scheduler running the same step writes nothing (`Conflict`)."""

    ticket_key: str
    waiting_since: datetime  # as read: the stored value, compared as stored
    sent_before: int
    sent: int
    step: str  # reminder_1 | reminder_2
    days: int


@dataclass(frozen=True)
class RecordSlaNotice:
    """A service-level warning (objective, state) is given: once per ticket and state, which
    the primary key of `sla_notices` enforces across restarts and instances."""

    ticket_key: str
    objective: str  # first_response | resolution
    state: str  # at_risk | breached


@dataclass(frozen=True)
class ScheduleSlaCheck:
    """When the time rules look at this ticket's service levels next (None: never), unless
    the stored instant changed since it was read (`expected`)."""

    ticket_key: str
    expected: datetime | None
    when: datetime | None


@dataclass(frozen=True)
class SendDigest:
    """A consultant's morning digest: no ticket of its own; `cause` makes it once a day."""

    recipient: str
    language: str
    cause: str
    digest: dict


@dataclass(frozen=True)
class RecordDigestDay:
    """Every digest of `day` is planned: later runs that day read nothing more."""

    day: str


Effect = (
    CreateTicket
    | AppendMessage
    | RecordEvent
    | Notify
    | RecordBounce
    | UpdateDetails
    | SetStatus
    | SetAttribute
    | MarkFirstResponse
    | CountReminder
    | RecordSlaNotice
    | ScheduleSlaCheck
    | SendDigest
    | RecordDigestDay
)
