"""Find the ticket a message answers: our Message-IDs, then a subject tag, then known IDs.

A `[SUP-123]` tag is text anyone can type, so it is honoured only for a participant,
staff, or someone from the requester's own (non-public) mail domain; otherwise the
message opens a new ticket linked to the one it named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from maildesk.addresses import domain_of
from maildesk.desk.view import TicketRef, View
from maildesk.inbound.parse import Parsed
from maildesk.msgid import MessageIds

TAG_RE = re.compile(r"\[\s*([A-Z][A-Z0-9]{1,9})-(\d{1,12})\s*\]", re.IGNORECASE)
# Sharing one of these domains with a requester proves nothing about who you are.
PUBLIC_DOMAINS = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "yahoo.fr",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "gmx.ch",
        "gmx.de",
        "gmx.net",
        "gmx.at",
        "web.de",
        "bluewin.ch",
        "sunrise.ch",
        "hispeed.ch",
        "proton.me",
        "protonmail.com",
        "protonmail.ch",
        "orange.fr",
        "free.fr",
        "wanadoo.fr",
        "laposte.net",
        "t-online.de",
        "freenet.de",
        "yandex.com",
        "mail.com",
        "zoho.com",
    ]
)


@dataclass(frozen=True)
class Threading:
    ticket: TicketRef | None
    via: str  # own-message-id | subject-tag | known-message-id | none | untrusted-tag
    linked_to: str | None = None  # a ticket named by an untrusted tag
    reason: str = ""


def thread(
    parsed: Parsed, view: View, ids: MessageIds, prefixes: frozenset[str], staff: frozenset[str]
) -> Threading:
    refs = parsed.in_reply_to + parsed.references
    for ref in refs:
        key = ids.ticket_key(ref)
        ticket = view.ticket_by_key(key) if key else None
        if ticket:
            return Threading(ticket, "own-message-id", reason=f"in-reply-to {ref}")
    named: TicketRef | None = None
    for prefix, number in TAG_RE.findall(parsed.subject):
        if prefix.upper() in prefixes:
            named = view.ticket_by_key(f"{prefix.upper()}-{int(number)}")
            if named:
                break
    if named and trusted(parsed.sender, named, staff):
        return Threading(named, "subject-tag", reason=f"tag [{named.key}]")
    known = view.ticket_by_message_ids(refs)
    if known and trusted(parsed.sender, known, staff):
        return Threading(known, "known-message-id", reason="references an earlier message")
    suspect = named or known
    if suspect:
        why = f"sender {parsed.sender or '(none)'} is not a participant of {suspect.key}"
        return Threading(None, "untrusted-reference", linked_to=suspect.key, reason=why)
    return Threading(None, "none", reason="no reference to a known ticket")


def trusted(sender: str, ticket: TicketRef, staff: frozenset[str]) -> bool:
    if not sender:
        return False
    if sender in ticket.participants or sender in staff:
        return True
    domain = domain_of(sender)
    return domain == domain_of(ticket.requester) and domain not in PUBLIC_DOMAINS
