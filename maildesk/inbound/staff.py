"""A consultant's answer by mail: strip the quotes, read the commands, relay the rest.

Only the new text reaches the customer (quoted history and our staff notification are
stripped), from the queue's address with the consultant's name, attachments kept. A
`#note` is stored and never sent; an unknown or refused command relays nothing and
tells the consultant what was wrong and what is valid.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from maildesk.desk import status as st
from maildesk.desk.effects import (
    AUTO_GENERATED,
    AUTO_REPLIED,
    AppendMessage,
    Effect,
    MarkFirstResponse,
    Notify,
    RecordEvent,
    SetAttribute,
)
from maildesk.desk.lifecycle import history_for, plan
from maildesk.inbound import commands
from maildesk.inbound.draft import message_of
from maildesk.inbound.quotes import strip_reply, strip_reply_html

if TYPE_CHECKING:
    from maildesk.desk.view import TicketRef
    from maildesk.inbound.draft import Context, Draft


def staff_reply(draft: Draft, ctx: Context, ticket: TicketRef) -> Draft:
    p = draft.parsed
    given = commands.parse(_new_text(draft), p.sender)
    if given.language and given.language not in ctx.config.languages.enabled:
        enabled = ", ".join(ctx.config.languages.enabled)
        given = replace(
            given, errors=(*given.errors, f"#language: {given.language} is not enabled ({enabled})")
        )
    if given.errors:
        return _refuse(draft, ticket, given.errors)
    if given.requests:
        return requests(draft, ticket, given)
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


def requests(draft: Draft, ticket: TicketRef, given: commands.Commands) -> Draft:
    """`#history` / `#files`: answered by mail to the consultant who asked. Other commands
    of the same mail are applied; nothing of it reaches the customer (a signature under a
    request is no answer). The mail is kept on the ticket as a `command`."""
    p = draft.parsed
    try:
        changes = () if given.only_requests else plan(ticket, given.change, p.sender)
    except ValueError as exc:  # includes TransitionRefused
        return _refuse(draft, ticket, (str(exc),))
    answers = tuple(_answer(name, ticket.key, p.sender, p.message_id) for name in given.requests)
    effects = (
        AppendMessage(ticket.key, _message(draft, "command", p.text_body)),
        RecordEvent(ticket.key, "staff-request", p.sender, ",".join(given.given)),
        *changes,
        *answers,
    )
    why = f"answered {','.join(given.requests)} to {p.sender}; nothing relayed"
    return draft.note("staff", "request", why).finish("appended", why, ticket.key, *effects)


def _language_change(ticket: TicketRef, given: commands.Commands, actor: str) -> tuple:
    """`#language de`: the ticket's language, recorded as an event that also makes it the
    requester's language for later requests (`View.requester_language`)."""
    if not given.language:
        return ()
    why = "set by a consultant"
    return (SetAttribute(ticket.key, "language", ticket.language, given.language, actor, why),)


def read_only_request(draft: Draft) -> commands.Commands | None:
    """The commands of a new mail when they only ask to read the ticket (#history,
    #files), else None. Such a request is answered to the staff address itself, never to
    anyone the mail names, so a forged one only sends a consultant their own ticket."""
    given = commands.parse(_new_text(draft), draft.parsed.sender)
    return given if given.only_requests and not given.errors else None


def _answer(name: str, key: str, sender: str, message_id: str) -> Notify:
    if name == "history":
        return history_for(key, sender, message_id)
    return Notify(
        "staff_files", sender, "", key, auto_submitted=AUTO_GENERATED, in_reply_to=message_id
    )


def _new_text(draft: Draft) -> str:
    p = draft.parsed
    if p.text_from_html and p.html_source:
        return strip_reply_html(p.html_source)  # the quote markers live in the HTML
    return strip_reply(p.text_body)


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
    return message_of(draft, kind=kind, text=text)
