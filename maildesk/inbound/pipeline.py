"""The processing pipeline: small pure steps over a frozen `Draft`, ending in effects.

    STEPS = (dedupe, screen_step, spam_step, route_step, thread_step, decide)

Each step reads the draft (and the read-only `View`), adds its decision to the trace and
returns a new draft; a step that settles the outcome stops the run. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import replace

from maildesk.config import Config
from maildesk.inbound import decide as decide_module
from maildesk.inbound import request_quality as qualify
from maildesk.inbound import spam
from maildesk.inbound.draft import Ahead, Context, Draft, Step
from maildesk.inbound.parse import Parsed
from maildesk.inbound.route import route
from maildesk.inbound.screen import Screening, screen
from maildesk.inbound.thread import thread
from maildesk.msgid import MessageIds

__all__ = ["STEPS", "Ahead", "Context", "Draft", "Step", "read_ahead", "run"]


def dedupe(draft: Draft, ctx: Context) -> Draft:
    parsed = draft.parsed
    key = ctx.view.ticket_of_duplicate(parsed.dedup_key)
    if key is not None:
        reason = "the same message (Message-ID, sender, subject, text) is already stored"
        return draft.note("dedupe", "duplicate", reason).finish("duplicate", reason, key)
    if not parsed.message_id_synthesized and ctx.view.message_id_known(parsed.message_id):
        # RFC 5322 says a Message-ID is unique; this one is not. Keep both, say so.
        why = f"{parsed.message_id} already names a different message"
        return replace(draft, flags=(*draft.flags, "message_id_collision")).note(
            "dedupe", "message_id_collision", why
        )
    return draft.note("dedupe", "new", "message not seen before")


def screen_step(draft: Draft, ctx: Context) -> Draft:
    ahead = draft.ahead
    if (
        ahead is not None
        and ahead.of(draft)
        and ahead.screening
        and ahead.envelope_from == draft.envelope_from
    ):
        result = ahead.screening
    else:
        result = screen(
            draft.parsed,
            ctx.config.own_addresses,
            draft.envelope_from,
            lambda message_id: ctx.ids.ticket_key(message_id) is not None,
        )
    return replace(draft, screening=result).note("screen", result.kind, result.reason)


def read_ahead(
    parsed: Parsed, config: Config, ids: MessageIds, envelope_from: str | None = None
) -> Ahead:
    """What `screen_step` and the request-quality reading would find, read before the
    pipeline runs: pure, so it may run outside the write transaction or in another process."""
    return Ahead(
        parsed,
        envelope_from,
        screen(
            parsed,
            config.own_addresses,
            envelope_from,
            lambda message_id: ids.ticket_key(message_id) is not None,
        ),
        qualify.reading(parsed, config),
    )


def spam_step(draft: Draft, ctx: Context) -> Draft:
    """After screening: a mail the trusted relay marked as spam is screened as `spam`.

    Like automatic mail it then opens no ticket and gets no answer (decide), and is kept
    on the ticket it threads onto, flagged with a `spam` event, with no staff notice. The
    same headers from any other client are noted in the trace and ignored."""
    read = ctx.config.processing.spam_headers
    found = spam.verdict(draft.parsed.spam_headers, read) if read else None
    if found is None:
        return draft
    if not draft.origin.relay_trusted:
        why = f"{found}: not believed, the mail did not come from a trusted relay"
        return draft.note("spam", "not-believed", why)
    screening = Screening(spam.SPAM, found)
    return replace(draft, screening=screening).note("spam", spam.SPAM, f"{found} (trusted relay)")


def route_step(draft: Draft, ctx: Context) -> Draft:
    queue, how = route(draft.parsed, draft.rcpt_tos, ctx.config)
    return replace(draft, queue=queue).note("route", queue.name, how)


def thread_step(draft: Draft, ctx: Context) -> Draft:
    prefixes = frozenset(q.key_prefix for q in ctx.config.queues)
    staff = frozenset(ctx.config.staff.addresses)
    result = thread(draft.parsed, ctx.view, ctx.ids, prefixes, staff)
    target = result.ticket.key if result.ticket else (result.linked_to or "")
    return replace(draft, threading=result).note(
        "thread", result.via, f"{target} {result.reason}".strip()
    )


def parse_notes(draft: Draft) -> Draft:
    """What the parser found odd goes into the trace; a part that could not be decoded is
    also named in the outcome's reason, so staff see that an attachment is missing."""
    defects = draft.parsed.defects
    if not defects:
        return draft
    draft = draft.note("parse", "defects", ", ".join(defects)[:1000])
    undecodable = tuple(d for d in defects if d.startswith("undecodable-part"))
    return replace(draft, flags=(*draft.flags, *undecodable)) if undecodable else draft


STEPS: tuple[Step, ...] = (
    dedupe,
    screen_step,
    spam_step,
    route_step,
    thread_step,
    decide_module.decide,
)


def intake_notes(draft: Draft) -> Draft:
    """How an SMTP mail reached us (client, trusted relay, TLS version and cipher)."""
    if draft.origin.peer is None:
        return draft
    return draft.note("intake", "smtp", draft.origin.describe())


def run(draft: Draft, ctx: Context) -> Draft:
    draft = parse_notes(intake_notes(draft))
    for step in STEPS:
        draft = step(draft, ctx)
        if draft.outcome is not None:
            break
    return draft
