"""Mail addresses and header text, guarded by our own rules.

The interpreter this runs on may lack the fixes for CVE-2023-27043 (`parseaddr` splitting
`"a@evil"@good` wrongly) and CVE-2024-6923 (header folding letting CR/LF through), so
every address we act on passes `normalise_address` and every header value we write passes
`header_safe`: they refuse what the stdlib might misread instead of trusting it.
"""

from __future__ import annotations

import re
import unicodedata
from email.headerregistry import Address
from email.message import EmailMessage

# A deliberately narrow addr-spec: dot-atom local part and a hostname domain. Quoted local
# parts, comments, source routes and IP literals are refused: no customer needs them and
# they are where parser disagreements (and CVE-2023-27043) live.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = rf"(?:{_LABEL}\.)*{_LABEL}"
_ADDR_RE = re.compile(rf"^{_LOCAL}@{_DOMAIN}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


def normalise_address(text: str) -> str | None:
    """Return the lower-cased addr-spec, or None when `text` is not one plain address."""
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if len(text) > 254 or not _ADDR_RE.match(text):
        return None
    return text.lower()


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def one_line(text: str, limit: int = 998) -> str:
    """Collapse control characters (CR, LF, NUL, …) to single spaces: safe in a header or a log."""
    cleaned = _CONTROL_RE.sub(" ", text)
    cleaned = re.sub(r" {2,}", " ", cleaned).strip()
    return cleaned[:limit]


def display_name(text: str) -> str:
    """A display name safe to put in a From/To header: one line, no address syntax tricks."""
    name = unicodedata.normalize("NFC", one_line(text, 200))
    return name.replace("<", "").replace(">", "").replace('"', "").replace("\\", "")


def addresses_in(msg: EmailMessage, header: str) -> list[tuple[str, str]]:
    """(display name, address) pairs of a header; entries that fail the guard are skipped."""
    found: list[tuple[str, str]] = []
    for value in msg.get_all(header, []) or []:
        found.extend(_parse_header_value(str(value)))
    return found


def _parse_header_value(value: str) -> list[tuple[str, str]]:
    try:
        from email.headerregistry import HeaderRegistry

        parsed = HeaderRegistry()("to", value)
        candidates = [(a.display_name, a.addr_spec) for a in parsed.addresses]
    except Exception:
        candidates = []
    pairs: list[tuple[str, str]] = []
    for name, spec in candidates:
        address = normalise_address(spec)
        if address is not None:
            pairs.append((display_name(name or ""), address))
    return pairs


def format_address(name: str, address: str) -> str:
    """Render `Name <addr>` for a header we write, with the name guarded."""
    safe = normalise_address(address)
    if safe is None:
        raise ValueError(f"refusing to write an unsafe address: {address!r}")
    local, _, domain = safe.partition("@")
    return str(Address(display_name(name), local, domain))
