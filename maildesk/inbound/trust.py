"""Is a mail from a staff address really from staff? A From header alone is easy to forge.

Staff rights (relaying to customers, commands) need the mail to answer one of our signed
Message-IDs (only staff received those notifications) and, where configured, a passing
DKIM or DMARC verdict from our own receiving server (RFC 8601 Authentication-Results,
the topmost one carrying a trusted authserv-id). Anything else is customer mail.
"""

from __future__ import annotations

import re

from maildesk.inbound.parse import Parsed
from maildesk.msgid import MessageIds

_PASS = re.compile(r"\b(dkim|dmarc)\s*=\s*pass\b", re.IGNORECASE)


def staff_verdict(
    parsed: Parsed, ids: MessageIds, staff: tuple[str, ...], authserv_ids: tuple[str, ...]
) -> tuple[bool, str]:
    """(trusted, why) for a mail whose sender is a staff address."""
    if parsed.sender not in staff:
        return False, "not a staff address"
    refs = (*parsed.in_reply_to, *parsed.references)
    if not any(ids.ticket_key(ref) for ref in refs):
        return False, "no signed Message-ID of ours in References/In-Reply-To"
    if not authserv_ids:
        return True, "answers our signed Message-ID"
    for header in parsed.auth_results:
        authserv = header.split(";", 1)[0].strip().split()[0].lower() if header.strip() else ""
        if authserv in authserv_ids:
            if _PASS.search(header):
                return True, f"signed reference and {authserv} reports dkim/dmarc pass"
            return False, f"{authserv} reports no dkim/dmarc pass"
    return False, "no Authentication-Results from a trusted authserv-id"
