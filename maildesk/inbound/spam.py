"""The MTA's spam verdict: headers that a filter in front of maildesk wrote into the mail.

An MTA that filters spam (SpamAssassin, rspamd) rejects what is certainly spam and marks
what it lets through. Answering such mail sends acknowledgements to forged senders
(backscatter), so a marked mail opens no ticket and gets no answer. The thresholds are
the filter's: maildesk only reads its verdict, from the headers listed in
`[processing] spam_headers`, and only from a trusted relay. Anyone can write these
headers into a mail, so from any other client they mean nothing, either way: a
"not spam" header is never a reason to trust a mail.

Pure: the parser collects every occurrence of the known headers; this module decides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from maildesk.addresses import one_line

if TYPE_CHECKING:
    from maildesk.inbound.pipeline import Context, Draft

SPAM = "spam"  # the screening kind of a mail the trusted relay marked as spam

RSPAMD_SPAM_ACTIONS = ("add header", "rewrite subject", "soft reject", "reject")


def _yes(value: str) -> bool:
    return value.strip().lower().startswith("yes")


def _rspamd_action(value: str) -> bool:
    return value.strip().lower() in RSPAMD_SPAM_ACTIONS


def _rspamd_result(value: str) -> bool:
    # "default: True [7.60 / 6.00]; SYMBOL(1.00)...": True once the score reaches the
    # "add header" action's threshold (rspamd's own is_spam).
    metric = value.split(";", 1)[0]
    _name, _, verdict = metric.partition(":")
    return verdict.strip().lower().startswith("true")


# Header (lower-cased) -> does this value say "spam"? Every header maildesk can read.
RULES: dict[str, Callable[[str], bool]] = {
    "x-spam-flag": _yes,  # SpamAssassin: YES / NO
    "x-spam-status": _yes,  # SpamAssassin: "Yes, score=7.3 required=5.0 tests=..."
    "x-spam": _yes,  # rspamd milter_headers (x-spam), and several appliances: Yes
    "x-rspamd-action": _rspamd_action,  # rspamd: no action | add header | rewrite subject ...
    "x-spamd-result": _rspamd_result,  # rspamd: "default: True [score / threshold]; ..."
}
# The canonical spelling, for messages and the configuration's error text.
NAMES = {
    "x-spam-flag": "X-Spam-Flag",
    "x-spam-status": "X-Spam-Status",
    "x-spam": "X-Spam",
    "x-rspamd-action": "X-Rspamd-Action",
    "x-spamd-result": "X-Spamd-Result",
}
DEFAULT_HEADERS = tuple(NAMES.values())
MAX_OCCURRENCES = 20  # a mail stuffed with these headers is read no further


def verdict(found: Iterable[tuple[str, str]], read: Iterable[str]) -> str | None:
    """The first header in `found` (name, value) that is listed in `read` and says spam,
    as `Name: value` (single line, at most 120 characters); None when none does."""
    wanted = {name.lower() for name in read}
    for name, value in found:
        rule = RULES.get(name.lower())
        if rule is not None and name.lower() in wanted and rule(value):
            shown = one_line(f"{NAMES[name.lower()]}: {value.strip()}")
            return shown[:117] + "..." if len(shown) > 120 else shown
    return None


def unknown(names: Iterable[str]) -> list[str]:
    """The names in `names` that maildesk cannot read (for the configuration check)."""
    return [n for n in names if n.lower() not in RULES]


def spam_step(draft: Draft, ctx: Context) -> Draft:
    """After screening: a mail the trusted relay marked as spam is screened as `spam`.

    Like automatic mail it then opens no ticket and gets no answer (decide), and is kept
    on the ticket it threads onto, flagged with a `spam` event, with no staff notice. The
    same headers from any other client are noted in the trace and ignored."""
    read = ctx.config.processing.spam_headers
    found = verdict(draft.parsed.spam_headers, read) if read else None
    if found is None:
        return draft
    if not draft.origin.relay_trusted:
        why = f"{found}: not believed, the mail did not come from a trusted relay"
        return draft.note("spam", "not-believed", why)
    # Imported here: the parser imports this module for RULES, and screen imports the parser.
    from maildesk.inbound.screen import Screening

    screening = Screening(SPAM, found)
    return replace(draft, screening=screening).note("spam", SPAM, f"{found} (trusted relay)")
