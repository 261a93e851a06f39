"""What flows through the pipeline: the frozen `Draft` each step returns anew, and the
`Context` every step may consult. Plain values: nothing here reads or writes anything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from maildesk.config import Config, Queue
from maildesk.desk.effects import Decision, Effect, NewMessage, Outcome
from maildesk.desk.view import View
from maildesk.inbound.parse import Parsed
from maildesk.inbound.quality.assess import Reading
from maildesk.inbound.relays import Origin
from maildesk.inbound.screen import Screening
from maildesk.inbound.thread import Threading
from maildesk.msgid import MessageIds


@dataclass(frozen=True)
class Context:
    """What every step may consult: configuration, the read-only view, our Message-IDs."""

    config: Config
    view: View
    ids: MessageIds
    now: datetime


@dataclass(frozen=True)
class Ahead:
    """The costly readings of a mail that depend on nothing but the mail, its envelope
    sender and the configuration: its screening and its request-quality reading. Plain
    values: they cross a process boundary."""

    # The message they were read from: a step uses them only for that very message (a
    # forward's original, put in the draft's place, is read anew). One object, kept as one
    # when the pair (Parsed, Ahead) is pickled between processes.
    parsed: Parsed | None = None
    envelope_from: str | None = None  # the envelope sender the screening was read with
    screening: Screening | None = None
    reading: Reading | None = None

    def of(self, draft: Draft) -> bool:
        """Were these read from this draft's message (and, for the screening, envelope)?"""
        return self.parsed is draft.parsed


@dataclass(frozen=True)
class Draft:
    parsed: Parsed
    rcpt_tos: tuple[str, ...] = ()
    envelope_from: str | None = None
    origin: Origin = field(default_factory=Origin)  # client, trusted relay, TLS (intake)
    screening: Screening | None = None
    queue: Queue | None = None
    threading: Threading | None = None
    decisions: tuple[Decision, ...] = ()
    effects: tuple[Effect, ...] = ()
    outcome: Outcome | None = field(default=None)
    flags: tuple[str, ...] = ()  # oddities carried into the outcome's reason
    # What the steps read from the mail alone, when it was read ahead of the pipeline
    # (`pipeline.read_ahead`: an import does it in other processes); None: read in the steps.
    ahead: Ahead | None = None

    def note(self, step: str, action: str, reason: str = "") -> Draft:
        return replace(self, decisions=(*self.decisions, Decision(step, action, reason)))

    def finish(self, outcome: str, reason: str, ticket_key: str | None, *effects: Effect) -> Draft:
        if self.flags:
            reason = f"{reason} ({', '.join(self.flags)})"
        result = Outcome(outcome, reason, ticket_key, self.parsed.message_id)
        return replace(self, effects=(*self.effects, *effects), outcome=result)


Step = Callable[[Draft, Context], Draft]


def message_of(
    draft: Draft, *, automatic: bool = False, kind: str = "customer", text: str | None = None
) -> NewMessage:
    """The inbound message as it is stored on a ticket (`text` replaces the body, e.g. a
    consultant's answer without its commands)."""
    p = draft.parsed
    return NewMessage(
        message_id=p.message_id,
        dedup_key=p.dedup_key,
        sender=p.sender,
        sender_name=p.sender_name,
        subject=p.subject,
        text_body=p.text_body if text is None else text,
        html_body=p.html_body,
        attachments=p.attachments,
        automatic=automatic,
        kind=kind,
    )
