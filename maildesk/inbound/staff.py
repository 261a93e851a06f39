"""A consultant's answer by mail: strip the quotes, read the commands, relay the rest.

Only the new text reaches the customer (quoted history and our staff notification are
stripped), from the queue's address with the consultant's name, attachments kept. A
`#note` is stored and never sent; an unknown or refused command relays nothing and
tells the consultant what was wrong and what is valid.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from maildesk import status as st
from maildesk.effects import (
    AppendMessage,
    Effect,
    MarkFirstResponse,
    Notify,
    RecordEvent,
    SetAttribute,
)
from maildesk.inbound import commands
from maildesk.inbound.quotes import strip_reply, strip_reply_html
from maildesk.lifecycle import plan
from maildesk.outbound.compose import AUTO_REPLIED

if TYPE_CHECKING:
    from maildesk.inbound.pipeline import Context, Draft
    from maildesk.inbound.view import TicketRef


def staff_reply(draft: Draft, ctx: Context, ticket: TicketRef) -> Draft:
    p = draft.parsed
    if p.text_from_html and p.html_source:
        new_text = strip_reply_html(p.html_source)  # the quote markers live in the HTML
    else:
        new_text = strip_reply(p.text_body)
    given = commands.parse(new_text, p.sender)
    if given.language and given.language not in ctx.config.languages.enabled:
        enabled = ", ".join(ctx.config.languages.enabled)
        given = replace(
            given, errors=(*given.errors, f"#language: {given.language} is not enabled ({enabled})")
        )
    if given.errors:
        return _refuse(draft, ticket, given.errors)
    language = _language_change(ticket, given, p.sender)
    only_language = set(given.given) == {"language"} and not given.text.strip()
    if given.note or only_language:
        why = "internal note: stored, never sent to the customer"
        if only_language:
            why = f"language set to {given.language}: stored, nothing sent to the customer"
        effects = (
            AppendMessage(ticket.key, _message(draft, "note", p.text_body)),
            RecordEvent(ticket.key, "note", p.sender, ""),
            *language,
        )
        return draft.note("staff", "note", why).finish("appended", why, ticket.key, *effects)
    default = st.WAITING_CUSTOMER if ticket.status != st.WAITING_CUSTOMER else None
    # The relayed answer itself tells the customer; only a lowered criticality adds a mail.
    change = replace(given.change, status=given.change.status or default, notify_customer=False)
    try:
        changes = plan(ticket, change, p.sender)
    except ValueError as exc:  # includes TransitionRefused
        return _refuse(draft, ticket, (str(exc),))
    if not given.text.strip():
        return _refuse(
            draft,
            ticket,
            (
                "the reply has no text for the customer; write one, or "
                "start the mail with #note for an internal note",
            ),
        )
    name = p.sender_name or p.sender.partition("@")[0]
    relay = tuple(
        Notify(
            "reply",
            address,
            person,
            ticket.key,
            auto_submitted=None,
            extra=(
                ("body", given.text),
                ("consultant", {"name": name, "address": p.sender}),
                ("from_name", name),
            ),
            attachments_from=-1,
        )
        for person, address in _customers(ticket)
    )
    effects: list[Effect] = [
        AppendMessage(ticket.key, _message(draft, "staff", given.text)),
        RecordEvent(ticket.key, "staff-reply", p.sender, ",".join(given.given)),
        *language,  # before the relay, which is then written in the new language
        *changes,
        MarkFirstResponse(ticket.key),
        *relay,
    ]
    why = f"relayed to {len(relay)} customer(s)" + (
        f"; commands {','.join(given.given)}" if given.given else ""
    )
    return draft.note("staff", "relay", why).finish("appended", why, ticket.key, *effects)


def _language_change(ticket: TicketRef, given: commands.Commands, actor: str) -> tuple:
    """`#language de`: the ticket's language, recorded as an event that also makes it the
    requester's language for later requests (`View.requester_language`)."""
    if not given.language:
        return ()
    why = "set by a consultant"
    return (SetAttribute(ticket.key, "language", ticket.language, given.language, actor, why),)


def _refuse(draft: Draft, ticket: TicketRef, errors: tuple[str, ...]) -> Draft:
    p = draft.parsed
    why = "command refused, nothing relayed: " + "; ".join(errors)
    answer = Notify(
        "command_error",
        p.sender,
        p.sender_name,
        ticket.key,
        auto_submitted=AUTO_REPLIED,
        in_reply_to=p.message_id,
        extra=(("errors", list(errors)), ("valid_commands", list(commands.VALID))),
    )
    effects = (
        AppendMessage(ticket.key, _message(draft, "refused", p.text_body)),
        RecordEvent(ticket.key, "command-refused", p.sender, "; ".join(errors)[:1000]),
        answer,
    )
    return draft.note("staff", "refused", why).finish("appended", why, ticket.key, *effects)


def _customers(ticket: TicketRef) -> list[tuple[str, str]]:
    people = [(ticket.requester_name, ticket.requester)]
    people += [("", a) for a in sorted(ticket.participants) if a != ticket.requester]
    return [(n, a) for n, a in people if a]


def _message(draft: Draft, kind: str, text: str):
    from maildesk.inbound.decide import message_of

    return message_of(draft, kind=kind, text=text)
