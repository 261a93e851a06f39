"""Request quality inside the pipeline: what a new request tells us, what a reply adds.

The assessment itself (`assess.py`) is pure text analysis; this module turns it into
ticket details and, when a reply supplies what was missing, into an update and one short
confirmation. It never blocks a request: incomplete tickets are created all the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maildesk.desk.effects import Notify, RecordEvent, UpdateDetails
from maildesk.desk.labels import label
from maildesk.inbound.quality.assess import Assessment, Reading, conclude, merge_reply, read

if TYPE_CHECKING:
    from maildesk.config import Config
    from maildesk.desk.view import TicketRef
    from maildesk.inbound.draft import Context, Draft
    from maildesk.inbound.parse import Parsed


def assessment(draft: Draft, ctx: Context) -> Assessment:
    """The request's assessment: what the mail says (read ahead when the draft carries it),
    weighed with the requester's earlier language."""
    p = draft.parsed
    ahead = draft.ahead.reading if draft.ahead and draft.ahead.of(draft) else None
    found = ahead if ahead is not None else reading(p, ctx.config)
    known = ctx.view.requester_language(p.sender) if p.sender else None
    return conclude(
        found,
        previous_language=known[0] if known else "",
        language_chosen=bool(known and known[1]),
    )


def reading(p: Parsed, config: Config) -> Reading:
    """What the mail alone says (`assess.read`): pure, so it may run ahead of the pipeline,
    outside the write transaction or in another process (`maildesk import`)."""
    return read(
        p.subject,
        p.text_body,
        p.attachments,
        config.quality,
        enabled=config.languages.enabled,
        content_language=p.headers.get("content-language", ""),
    )


def details(found: Assessment) -> tuple[tuple[str, object], ...]:
    """Ticket details for a new request, as stored by `CreateTicket`."""
    fields = dict(found.fields)
    if found.criticality_defaulted:
        fields["criticality_defaulted"] = "yes"
    return (
        ("language", found.language),
        ("criticality", found.fields.get("criticality", "medium")),
        ("request_type", found.fields.get("type", "assistance")),
        ("fields", fields),
        ("missing_fields", list(found.missing)),
        ("subject_quality", {"ok": found.subject.ok, "reasons": list(found.subject.reasons)}),
    )


def verdict(found: Assessment) -> str:
    subject = "ok" if found.subject.ok else "weak(" + ",".join(found.subject.reasons) + ")"
    missing = ",".join(found.missing) or "none"
    why = f" ({found.language_reason})" if found.language_reason else ""
    return f"subject={subject} missing={missing} lang={found.language}{why}"


def on_reply(draft: Draft, ctx: Context, ticket: TicketRef) -> tuple[tuple, Draft]:
    """Merge fields a customer's reply supplies; confirm once what was received."""
    if not ticket.missing_fields:
        return (), draft
    reply = assessment(draft, ctx)  # assess cuts quoted history itself; signatures count
    merged, still, supplied = merge_reply(
        dict(ticket.fields), ticket.missing_fields, reply, ctx.config.quality
    )
    if not supplied:
        return (), draft.note("qualify", "nothing-new", f"still missing: {','.join(still)}")
    lang = ticket.language
    shown = {label("field", k, lang): v for k, v in supplied.items()}
    p = draft.parsed
    effects = (
        UpdateDetails(ticket.key, tuple(merged.items()), still),
        RecordEvent(
            ticket.key,
            "fields-supplied",
            p.sender,
            ",".join(supplied),
            ",".join(ticket.missing_fields),
            ",".join(still),
        ),
        Notify(
            "info_received",
            p.sender,
            p.sender_name,
            ticket.key,
            in_reply_to=p.message_id,
            references=(*p.references, p.message_id),
            extra=(("supplied", shown),),
        ),
    )
    why = f"supplied={','.join(supplied)} still-missing={','.join(still) or 'none'}"
    return effects, draft.note("qualify", "fields-supplied", why)
