"""The last pipeline step: turn what the earlier steps found into effects and an outcome.

Automatic mail is stored on the ticket it threads onto, or only in the spool, and never
opens a ticket or gets an answer (RFC 3834). A person's new request opens a ticket and
is acknowledged; a reply is appended and the consultants are told. Automatic answers to
one address are capped per hour, so a misbehaving robot cannot start a loop; so are the
new tickets one address may open, so a robot with a fresh subject each time cannot flood
the queue.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from maildesk.desk import status as st
from maildesk.desk.effects import (
    AUTO_GENERATED,
    AppendMessage,
    CreateTicket,
    Effect,
    NewMessage,
    Notify,
    RecordBounce,
    RecordEvent,
    SetAttribute,
    SetStatus,
)
from maildesk.desk.view import TicketRef
from maildesk.inbound import request_quality as qualify
from maildesk.inbound.behalf import Behalf, on_behalf
from maildesk.inbound.draft import Context, Draft, message_of
from maildesk.inbound.screen import BOUNCE
from maildesk.inbound.spam import SPAM
from maildesk.inbound.staff import read_only_request, requests, staff_reply
from maildesk.inbound.thread import trusted
from maildesk.inbound.trust import staff_verdict

# Addresses that never read answers: the request is kept, but nothing is sent back.
NO_REPLY_LOCALPARTS = frozenset(
    (
        *("noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply"),
        *("root", "abuse"),
    )
)


def decide(draft: Draft, ctx: Context) -> Draft:
    screening, threading = draft.screening, draft.threading
    assert screening is not None, "screen runs before decide"
    assert threading is not None, "thread runs before decide"
    assert draft.queue is not None, "route runs before decide"
    if not screening.answerable:
        return _automatic(draft, ctx)
    people = _people(draft, ctx.config.own_addresses | set(ctx.config.staff.addresses))
    ticket = threading.ticket
    if ticket is None:
        behalf = on_behalf(draft, ctx)
        if behalf is not None:
            return _create_for_customer(draft, ctx, behalf)
        link = threading.reason if threading.linked_to else ""
        return _create(draft, ctx, people, threading.linked_to, link)
    return _on_ticket(draft, ctx, ticket, people)


def _on_ticket(draft: Draft, ctx: Context, ticket: TicketRef, people: tuple) -> Draft:
    """A mail threaded onto `ticket`: a consultant's, or a customer's reply."""
    threading = draft.threading
    assert threading is not None, "thread runs before decide"
    if draft.parsed.sender in ctx.config.staff.addresses:
        trusted, why = staff_verdict(
            draft.parsed,
            ctx.ids,
            ctx.config.staff.addresses,
            ctx.config.staff.trusted_authserv_ids,
            ctx.view.recipient_of,
        )
        if trusted and ctx.config.staff.trusted_authserv_ids and _past_the_relays(draft, ctx):
            trusted, why = False, "Authentication-Results not believed: not from a trusted relay"
        if trusted:
            return staff_reply(draft.note("trust", "staff", why), ctx, ticket)
        asked = read_only_request(draft) if threading.via == "subject-tag" else None
        if asked is not None:
            why = "a read-only request by subject tag: answered to the staff address only"
            return requests(draft.note("trust", "staff-request", why), ticket, asked)
        draft = draft.note("trust", "suspected-forgery", f"staff sender not trusted: {why}")
    if ticket.status == st.CLOSED:
        return _closed(draft, ctx, ticket, people)
    return _on_reply(draft, ctx, ticket, people)


def _past_the_relays(draft: Draft, ctx: Context) -> bool:
    """An SMTP mail that did not come through a `[smtp] trusted_relays` MTA, where some are
    set: nobody checked its Authentication-Results, so whatever they say is the sender's."""
    origin = draft.origin
    return (
        bool(ctx.config.smtp.trusted_relays)
        and origin.peer is not None
        and not origin.relay_trusted
    )


def _automatic(draft: Draft, ctx: Context) -> Draft:
    """RFC 3834: never answered, never a ticket; kept on the ticket it threads onto."""
    screening, ticket = draft.screening, draft.threading.ticket if draft.threading else None
    assert screening is not None, "screen runs before decide"
    if screening.kind == BOUNCE:
        bounced = _bounced(draft, ctx)
        if bounced is not None:
            mid, key = bounced
            why = f"bounce of our notification {mid}"
            return draft.note("decide", "bounce-recorded", why).finish(
                "ignored", why, key, RecordBounce(mid, screening.reason)
            )
    why = f"{screening.kind}: {screening.reason}"
    if ticket is None:
        return draft.note("decide", "ignored", why).finish("ignored", why, None)
    effects: tuple[Effect, ...] = (AppendMessage(ticket.key, _message(draft, automatic=True)),)
    if screening.kind == SPAM:  # flagged on the ticket: no notice, but staff can see it
        effects += (RecordEvent(ticket.key, "spam", draft.parsed.sender, screening.reason),)
    return draft.note("decide", "stored-automatic", why).finish(
        "ignored", why, ticket.key, *effects
    )


def _closed(draft: Draft, ctx: Context, ticket: TicketRef, people: tuple) -> Draft:
    """A reply to a closed ticket, handled as its queue says (`closed_reply`)."""
    mode = ctx.config.queue_named(ticket.queue).closed_reply
    if mode == "new_ticket":
        return _create(draft, ctx, people, ticket.key, f"reply to closed ticket {ticket.key}")
    if mode == "reopen":
        return _on_reply(draft, ctx, ticket, people)
    return _closed_bounce(draft, ctx, ticket)


def _on_reply(draft: Draft, ctx: Context, ticket: TicketRef, people: tuple) -> Draft:
    parsed, via = draft.parsed, draft.threading.via if draft.threading else ""
    merged, draft = qualify.on_reply(draft, ctx, ticket)
    # A reply adds nobody it merely Cc's, and its sender only when the sender is one the
    # threading rules trust (a participant or a colleague): holding a Message-ID of ours
    # must not be enough to start receiving the ticket's mail.
    staff = frozenset(ctx.config.staff.addresses)
    joining = tuple(
        (name, address)
        for name, address in people
        if address == parsed.sender and trusted(parsed.sender, ticket, staff)
    )
    effects: list[Effect] = [
        AppendMessage(ticket.key, _message(draft), joining),
        RecordEvent(ticket.key, "message-in", parsed.sender, via),
        *merged,
    ]
    if ticket.status in (st.WAITING_CUSTOMER, st.CLOSED):
        # Any answer from the customer stops the clock and goes back to a consultant (§8);
        # a reply to a closed ticket only gets here when the queue reopens tickets.
        why = "customer answered" if ticket.status == st.WAITING_CUSTOMER else "reopened by reply"
        effects.append(SetStatus(ticket.key, ticket.status, st.IN_PROGRESS, parsed.sender, why))
        draft = draft.note("decide", "status", f"{ticket.status}->in_progress: {why}")
    effects += _tell_staff(ctx, "staff_customer_reply", ticket, draft)
    return draft.note("decide", "append", via).finish("appended", via, ticket.key, *effects)


def _closed_bounce(draft: Draft, ctx: Context, ticket: TicketRef) -> Draft:
    """§9: kept and linked to the closed ticket, never reopening it; the customer is told."""
    p = draft.parsed
    why = f"{ticket.key} is closed: kept on it, customer asked to open a new request"
    effects: list[Effect] = [
        AppendMessage(ticket.key, _message(draft), ()),
        RecordEvent(ticket.key, "reply-to-closed", p.sender, "kept; closed_reply sent"),
    ]
    draft = draft.note("decide", "closed-ticket", why)
    answer, draft = _answer(
        draft, ctx, "closed_reply", ticket.key, (("old_ticket_key", ticket.key),)
    )
    return draft.finish("appended", why, ticket.key, *effects, *answer)


def _create(
    draft: Draft, ctx: Context, people: tuple, linked_to: str | None, link_reason: str
) -> Draft:
    parsed, queue = draft.parsed, draft.queue
    assert queue is not None, "route runs before decide"
    capped = _past_new_ticket_cap(draft, ctx)
    if capped is not None:
        return capped
    found = qualify.assessment(draft, ctx)
    create = CreateTicket(
        queue=queue.name,
        key_prefix=queue.key_prefix,
        subject=parsed.subject,
        requester=parsed.sender,
        requester_name=parsed.sender_name,
        participants=people,
        message=_message(draft),
        linked_to=linked_to,
        link_reason=link_reason,
        details=qualify.details(found),
    )
    draft = draft.note(
        "assess",
        "complete" if found.subject.ok and not found.missing else "incomplete",
        qualify.verdict(found),
    )
    draft = draft.note("decide", "create", "new request")
    ack, draft = _answer(draft, ctx, "ack", None)
    reason = "new request" if not linked_to else f"new request linked to {linked_to}"
    return draft.finish(
        "created", reason, None, create, *ack, *_tell_staff(ctx, "staff_new_ticket", None, draft)
    )


def _create_for_customer(draft: Draft, ctx: Context, behalf: Behalf) -> Draft:
    """A ticket a consultant opens for a customer: theirs as requester, acknowledged to
    them; the consultant assigned. The phone call's text is stored as the consultant's."""
    p = behalf.parsed
    why = f"opened by {behalf.consultant} for {p.sender} ({behalf.via})"
    customer = replace(draft, parsed=p).note("behalf", behalf.via, why)
    done = _create(customer, ctx, ((p.sender_name, p.sender),), None, "")
    if done.outcome is None or done.outcome.outcome != "created":
        return done
    effects = list(done.effects)
    if behalf.via == "requester":  # the text is the consultant's, not the customer's
        kind = "note" if behalf.internal else "customer"
        effects = [
            replace(
                e,
                message=replace(
                    e.message,
                    sender=behalf.consultant,
                    sender_name=behalf.consultant_name,
                    kind=kind,
                ),
            )
            if isinstance(e, CreateTicket)
            else e
            for e in effects
        ]
    effects += [
        RecordEvent(None, "opened-on-behalf", behalf.consultant, behalf.via, None, p.sender),
        SetAttribute(None, "assignee", None, behalf.consultant, behalf.consultant, behalf.via),
    ]
    return replace(done, effects=tuple(effects))


def _past_new_ticket_cap(draft: Draft, ctx: Context) -> Draft | None:
    """Past the sender's new-ticket cap, the mail joins their newest open ticket of the hour.

    A robot that answers each mail with a fresh subject (a non-compliant auto-responder, a
    monitoring script) would otherwise open a ticket per mail, each with its own
    acknowledgement and staff notices. A support team wants nothing lost, no ticket flood
    and no mail flood: so the mail is appended to the sender's newest ticket of the last
    hour that is still open, with an event saying why, and nobody is mailed. No
    acknowledgement (it would feed the loop) and no staff notice (the flood would only move
    to the consultants' inboxes): the ticket, the trace and the log line show it. When the
    consultants have already closed every ticket of that hour, the mail is kept in the
    spool only (outcome `ignored`, in `maildesk trace`): a flood never reopens a ticket.
    Returns None under the cap, or when the cap is 0 (off). On PostgreSQL, processes that
    decide about the same sender at the same moment do not see each other's new ticket, so
    the cap may be passed by one ticket per such process; SQLite serialises them.
    """
    limit = ctx.config.processing.new_tickets_per_sender_per_hour
    if not limit:
        return None
    sender = draft.parsed.sender
    since = ctx.now - timedelta(hours=1)
    opened = ctx.view.tickets_opened_since(sender, since)
    if opened < limit:
        return None
    why = f"new-ticket cap: {sender} opened {opened} tickets in the last hour (limit {limit})"
    ticket = ctx.view.latest_open_ticket_since(sender, since)
    if ticket is None:
        why += "; all of them are closed: kept in the spool only"
        return draft.note("decide", "new-ticket-cap", why).finish("ignored", why, None)
    why += f"; appended to {ticket.key}, no acknowledgement, no staff notice"
    effects = (
        AppendMessage(ticket.key, _message(draft)),
        RecordEvent(ticket.key, "new-ticket-cap", sender, why),
    )
    return draft.note("decide", "new-ticket-cap", why).finish("appended", why, ticket.key, *effects)


def _bounced(draft: Draft, ctx: Context) -> tuple[str, str | None] | None:
    """Which of our notifications a bounce is about: by quoted Message-ID, else recipient."""
    p, screening = draft.parsed, draft.screening
    quoted = screening.quoted_ids if screening else ()
    failed = screening.failed_recipients if screening else ()
    for mid in dict.fromkeys((*p.quoted_message_ids, *quoted, *p.in_reply_to, *p.references)):
        if ctx.ids.ticket_key(mid):
            found = ctx.view.notification(mid)
            if found:
                return found
    for rcpt in dict.fromkeys((*p.failed_recipients, *failed)):
        mid = ctx.view.last_notification_to(rcpt)
        if mid:
            return ctx.view.notification(mid)
    return None


def _answer(
    draft: Draft,
    ctx: Context,
    template: str,
    key: str | None,
    extra: tuple[tuple[str, object], ...] = (),
) -> tuple[tuple, Draft]:
    """An automatic answer to the sender, unless that would feed a loop."""
    p = draft.parsed
    if p.sender in ctx.config.own_addresses or p.sender in ctx.config.staff.addresses:
        return (), draft.note("notify", "suppressed", f"{template}: sender is one of ours")
    if p.sender.partition("@")[0] in NO_REPLY_LOCALPARTS:
        return (), draft.note("notify", "suppressed", f"{template}: a no-reply address")
    limit = ctx.config.outbound.auto_replies_per_hour
    recent = ctx.view.automatic_count_since(p.sender, ctx.now - timedelta(hours=1))
    if recent >= limit:
        why = f"{template}: {recent} automatic mails to {p.sender} in the last hour (limit {limit})"
        return (), draft.note("notify", "rate-limited", why)
    note = Notify(
        template,
        p.sender,
        p.sender_name,
        key,
        in_reply_to=p.message_id,
        references=(*p.references, p.message_id),
        extra=extra,
    )
    return (note,), draft.note("notify", template, p.sender)


def _tell_staff(
    ctx: Context, template: str, ticket: TicketRef | None, draft: Draft
) -> tuple[Notify, ...]:
    """Consultants hear of new tickets and customer replies: the assignee, else all staff."""
    key = ticket.key if ticket else None
    staff = (ticket.assignee,) if ticket and ticket.assignee else ctx.config.staff.addresses
    body = (("body", draft.parsed.text_body[:20000]),)
    return tuple(
        Notify(
            template,
            address,
            "",
            key,
            auto_submitted=AUTO_GENERATED,
            extra=body,  # in the consultant's language: the notifier picks it
            attachments_from=-1,  # the customer's files travel with the notice
            attachments_capped=True,
        )
        for address in staff
        if address != draft.parsed.sender
    )


def _people(draft: Draft, own: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """Requester first, then Cc'd people: the customers who should hear about this ticket."""
    parsed = draft.parsed
    seen: dict[str, str] = {}
    for name, address in ((parsed.sender_name, parsed.sender), *parsed.cc):
        if address and address not in own and address not in seen:
            seen[address] = name
    return tuple((name, address) for address, name in seen.items())


def _message(draft: Draft, automatic: bool = False) -> NewMessage:
    return message_of(draft, automatic=automatic)
