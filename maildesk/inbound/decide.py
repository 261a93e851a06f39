"""The last pipeline step: turn what the earlier steps found into effects and an outcome.

Automatic mail is stored on the ticket it threads onto, or only in the spool, and never
opens a ticket; anything else opens a ticket or is appended to the one it answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maildesk.effects import AppendMessage, CreateTicket, NewMessage, RecordEvent

if TYPE_CHECKING:
    from maildesk.inbound.pipeline import Context, Draft


def decide(draft: Draft, ctx: Context) -> Draft:
    parsed, screening, threading = draft.parsed, draft.screening, draft.threading
    assert screening is not None, "screen runs before decide"
    assert threading is not None, "thread runs before decide"
    assert draft.queue is not None, "route runs before decide"
    ticket = threading.ticket
    if not screening.answerable:
        why = f"{screening.kind}: {screening.reason}"
        if ticket is None:
            return draft.note("decide", "ignored", why).finish("ignored", why, None)
        effect = AppendMessage(ticket.key, _message(draft, automatic=True))
        return draft.note("decide", "stored-automatic", why).finish(
            "ignored", why, ticket.key, effect
        )
    people = _people(draft, ctx.config.own_addresses | set(ctx.config.staff.addresses))
    if ticket is not None:
        effects = (
            AppendMessage(ticket.key, _message(draft), people),
            RecordEvent(ticket.key, "message-in", parsed.sender, threading.via),
        )
        return draft.note("decide", "append", threading.via).finish(
            "appended", threading.via, ticket.key, *effects
        )
    create = CreateTicket(
        queue=draft.queue.name,
        key_prefix=draft.queue.key_prefix,
        subject=parsed.subject,
        requester=parsed.sender,
        requester_name=parsed.sender_name,
        participants=people,
        message=_message(draft),
        linked_to=threading.linked_to,
        link_reason=threading.reason if threading.linked_to else "",
    )
    reason = (
        "new request" if not threading.linked_to else f"new request linked to {threading.linked_to}"
    )
    return draft.note("decide", "create", reason).finish("created", reason, None, create)


def _people(draft: Draft, own: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """Requester first, then Cc'd people: the customers who should hear about this ticket."""
    parsed = draft.parsed
    seen: dict[str, str] = {}
    for name, address in ((parsed.sender_name, parsed.sender), *parsed.cc):
        if address and address not in own and address not in seen:
            seen[address] = name
    return tuple((name, address) for address, name in seen.items())


def _message(draft: Draft, automatic: bool = False) -> NewMessage:
    p = draft.parsed
    return NewMessage(
        message_id=p.message_id,
        dedup_key=p.dedup_key,
        sender=p.sender,
        sender_name=p.sender_name,
        subject=p.subject,
        text_body=p.text_body,
        html_body=p.html_body,
        attachments=p.attachments,
        automatic=automatic,
    )
