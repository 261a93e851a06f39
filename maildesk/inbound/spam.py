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

from maildesk.addresses import one_line
from maildesk.config.edge import DEFAULT_SPAM_HEADERS, SPAM_HEADER_NAMES

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
NAMES = SPAM_HEADER_NAMES
DEFAULT_HEADERS = DEFAULT_SPAM_HEADERS
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
