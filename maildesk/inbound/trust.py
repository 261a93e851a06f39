"""Is a mail from a staff address really from staff? A From header alone is easy to forge.

Staff rights (relaying to customers, commands) need the mail to answer one of our signed
Message-IDs that was sent to a consultant (a customer answering their own acknowledgement
does not qualify) and, where configured, a passing DKIM or DMARC verdict for the
sender's own domain from our receiving server (RFC 8601 Authentication-Results, from a
trusted authserv-id). Anything else is customer mail.
"""

from __future__ import annotations

from collections.abc import Callable

from maildesk.addresses import domain_of
from maildesk.inbound.parse import Parsed
from maildesk.msgid import MessageIds


def staff_verdict(
    parsed: Parsed,
    ids: MessageIds,
    staff: tuple[str, ...],
    authserv_ids: tuple[str, ...],
    recipient_of: Callable[[str], str | None],
) -> tuple[bool, str]:
    """(trusted, why) for a mail whose sender is a staff address."""
    if parsed.sender not in staff:
        return False, "not a staff address"
    refs = (*parsed.in_reply_to, *parsed.references)
    answered = [r for r in refs if ids.ticket_key(r) and recipient_of(r) in staff]
    if not answered:
        return False, "does not answer a notification we sent to staff"
    if not authserv_ids:
        return True, f"answers our staff notification {answered[0]}"
    return _authenticated(parsed, authserv_ids, "answers our staff notification; ")


def new_mail_verdict(
    parsed: Parsed, staff: tuple[str, ...], authserv_ids: tuple[str, ...], envelope_from: str | None
) -> tuple[bool, str]:
    """(trusted, why) for a new mail (no notification answered) from a staff address, as
    needed to open a ticket on a customer's behalf: a passing DKIM/DMARC verdict where
    `trusted_authserv_ids` is set, else at least an envelope sender that agrees."""
    if parsed.sender not in staff:
        return False, "not a staff address"
    if authserv_ids:
        return _authenticated(parsed, authserv_ids, "")
    if (envelope_from or "").lower() != parsed.sender:
        return False, "the envelope sender is not the From address"
    return True, "staff address, envelope sender agrees (no trusted_authserv_ids set)"


def _authenticated(parsed: Parsed, authserv_ids: tuple[str, ...], said: str) -> tuple[bool, str]:
    domain = domain_of(parsed.sender)
    for header in parsed.auth_results:
        authserv, _, results = header.partition(";")
        if authserv.strip().split()[:1] and authserv.split()[0].lower() in authserv_ids:
            if passes(results, domain):
                return True, f"{said}{authserv.split()[0]} passes"
            return False, f"{authserv.split()[0]} reports no dkim/dmarc pass for {domain}"
    return False, "no Authentication-Results from a trusted authserv-id"


def passes(results: str, domain: str) -> bool:
    """A dkim=pass signed by `domain` (header.d) or a dmarc=pass for it (header.from)."""
    for result in results.split(";"):
        words = result.strip().lower().split()
        if not words:
            continue
        props = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        if words[0] == "dkim=pass" and props.get("header.d") == domain:
            return True
        if words[0] == "dmarc=pass" and props.get("header.from") == domain:
            return True
    return False
