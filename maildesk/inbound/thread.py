"""Find the ticket a message answers, under one trust rule for every source.

Three sources name a ticket, in this order: one of our own signed Message-IDs in
In-Reply-To/References (then the ID of our own notification), a `[SUP-123]` tag in the
subject, and the Message-ID of an earlier inbound mail in In-Reply-To/References. None of
them proves who is writing: a tag is text anyone can type, and a Message-ID of ours
travels with every forwarded or leaked acknowledgement. So each is honoured only when
the sender may write into the ticket it names (`trust`): a participant of that ticket,
staff, or someone of the requester's own mail domain when that domain is not a public
one. The first source whose ticket accepts the sender wins; when a source names a
ticket but none accepts the sender, the message opens a new ticket linked to the first
one named, and the trace says which reference was refused and why.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
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
    via: str  # own-message-id | subject-tag | known-message-id | untrusted-reference | none
    linked_to: str | None = None  # the first ticket named by a reference the sender may not use
    reason: str = ""


@dataclass(frozen=True)
class Candidate:
    """A ticket some part of the mail names, before the trust rule is applied."""

    ticket: TicketRef
    via: str
    what: str  # the reference itself, in words for the trace


def thread(
    parsed: Parsed, view: View, ids: MessageIds, prefixes: frozenset[str], staff: frozenset[str]
) -> Threading:
    refused: list[Candidate] = []
    for candidate in candidates(parsed, view, ids, prefixes):
        why = trust(parsed.sender, candidate.ticket, staff)
        if why:
            return Threading(candidate.ticket, candidate.via, reason=f"{candidate.what}; {why}")
        refused.append(candidate)
    if refused:
        first = refused[0].ticket
        named = "; ".join(f"{c.via} {c.what} -> {c.ticket.key}" for c in refused)
        why = (
            f"sender {parsed.sender or '(none)'} is not a participant of {first.key}, staff, "
            f"or of the requester's own mail domain; refused: {named}"
        )
        return Threading(None, "untrusted-reference", linked_to=first.key, reason=why)
    return Threading(None, "none", reason="no reference to a known ticket")


def candidates(
    parsed: Parsed, view: View, ids: MessageIds, prefixes: frozenset[str]
) -> Iterator[Candidate]:
    """Every ticket the mail names, source by source in order of precedence, each ticket
    once per source. Lazy: the usual reply is settled by its first candidate, before the
    costlier lookups run."""
    seen: set[tuple[int, str]] = set()
    for candidate in _named(parsed, view, ids, prefixes):
        if (candidate.ticket.id, candidate.via) not in seen:
            seen.add((candidate.ticket.id, candidate.via))
            yield candidate


def _named(
    parsed: Parsed, view: View, ids: MessageIds, prefixes: frozenset[str]
) -> Iterator[Candidate]:
    for header, refs in (("in-reply-to", parsed.in_reply_to), ("references", parsed.references)):
        for ref in refs:
            key = ids.ticket_key(ref)
            ticket = view.ticket_by_key(key) if key else None
            if ticket:
                yield Candidate(ticket, "own-message-id", f"{header} {ref}")
    for prefix, number in TAG_RE.findall(parsed.subject):
        if prefix.upper() in prefixes:
            named = view.ticket_by_key(f"{prefix.upper()}-{int(number)}")
            if named:
                yield Candidate(named, "subject-tag", f"tag [{named.key}]")
    known = view.ticket_by_message_ids(parsed.in_reply_to + parsed.references)
    if known:
        yield Candidate(known, "known-message-id", "references an earlier message")


def trust(sender: str, ticket: TicketRef, staff: frozenset[str]) -> str:
    """Why `sender` may write into `ticket`, or "" when they may not: the one rule every
    threading source and every new participant goes through."""
    if not sender:
        return ""
    if sender in ticket.participants:
        return f"{sender} is a participant"
    if sender in staff:
        return f"{sender} is staff"
    domain = domain_of(sender)
    if domain == domain_of(ticket.requester) and domain not in PUBLIC_DOMAINS:
        return f"{sender} shares the requester's mail domain {domain}"
    return ""


def trusted(sender: str, ticket: TicketRef, staff: frozenset[str]) -> bool:
    return bool(trust(sender, ticket, staff))
