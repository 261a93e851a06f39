"""Effects: what the pure pipeline wants done, as plain values.

Only `apply.py` turns these into writes, all in one transaction, so a decision is either
fully recorded (ticket, message, events, trace, spool status) or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from maildesk.inbound.parse import Attachment

# `None` as a ticket key in an effect means "the ticket created in this same unit of work".
NEW_TICKET = None


@dataclass(frozen=True)
class Decision:
    step: str
    action: str
    reason: str = ""


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
    auto_submitted: str | None = "auto-replied"  # None only for a person's relayed answer
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    language: str | None = None  # None: the ticket's language
    extra: tuple[tuple[str, object], ...] = ()  # template values beyond the ticket's own
    cause: str | None = None  # None: the inbound message being processed
    attachments_from: int | None = None  # relay the attachments of this inbound message


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
)
