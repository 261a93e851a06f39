"""Tickets opened by a consultant on a customer's behalf: a forward, or a phone call.

A trusted consultant (see `trust.new_mail_verdict`) who forwards a customer's mail to the
support address opens the ticket for the original sender: requester, fields read from
the original text, the original attachments; the forwarder is assigned. A new mail that
starts with `#requester alice@acme.example` (a phone call) opens a ticket for that
customer with the consultant's text (`#note`: kept internal). A customer forwarding
their own mail is just a customer writing: only staff mail is read this way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from maildesk.addresses import normalise_address
from maildesk.inbound import forward
from maildesk.inbound.trust import new_mail_verdict

if TYPE_CHECKING:
    from maildesk.inbound.draft import Context, Draft
    from maildesk.inbound.parse import Parsed

_REQUESTER = re.compile(
    r"^#\s*(?:requester|demandeur|kunde|anfragender)[ \t:]+(\S+)\s*$", re.IGNORECASE
)
_NOTE = re.compile(r"^#\s*note\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Behalf:
    parsed: Parsed  # the mail as the customer's: their address, subject, text, files
    consultant: str
    consultant_name: str
    via: str  # forward-inline | forward-attached | requester
    internal: bool = False  # #note: the consultant's text stays on the ticket only


def on_behalf(draft: Draft, ctx: Context) -> Behalf | None:
    """The customer this new staff mail is about, or None (not staff, not trusted, or
    neither a forward nor a #requester)."""
    p = draft.parsed
    staff = ctx.config.staff.addresses
    if p.sender not in staff:
        return None
    ours = set(staff) | ctx.config.own_addresses
    requested = _requester(p.text_body)
    original = None if requested else _original(p)
    if requested is None and (original is None or original.sender in ours):
        return None
    trusted, _why = new_mail_verdict(
        p, staff, ctx.config.staff.trusted_authserv_ids, draft.envelope_from
    )
    if not trusted:
        return None
    if requested is not None:
        address, internal, text = requested
        if address in ours:
            return None
        as_customer = replace(p, sender=address, sender_name="", cc=(), text_body=text)
        return Behalf(as_customer, p.sender, p.sender_name, "requester", internal)
    assert original is not None
    via = "forward-attached" if p.attached is not None else "forward-inline"
    as_customer = replace(
        p,
        sender=original.sender,
        sender_name=original.sender_name,
        subject=original.subject or forward.from_subject(p.subject),
        text_body=original.text,
        cc=(),
    )
    return Behalf(as_customer, p.sender, p.sender_name, via)


def _requester(text: str) -> tuple[str, bool, str] | None:
    """(address, internal, the rest of the text) of a mail starting with #requester."""
    lines = text.splitlines()
    address, internal, i = "", False, 0
    while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
        line = lines[i].strip()
        i += 1
        if not line:
            continue
        match = _REQUESTER.match(line)
        if match:
            address = normalise_address(match.group(1).strip("<>")) or ""
        elif _NOTE.match(line):
            internal = True
        else:
            return None  # another command: not a request opened by phone
    if not address:
        return None
    return address, internal, "\n".join(lines[i:]).strip()


def _original(p: Parsed) -> forward.Forwarded | None:
    attached = p.attached
    if attached is not None and attached.sender:
        return forward.Forwarded(
            attached.sender,
            attached.sender_name,
            attached.subject,
            attached.text_body,
            "",
        )
    return forward.inline(p.text_body)
