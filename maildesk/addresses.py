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

from maildesk.charsets import raw_header_text

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
    if text.endswith(".") and "@" in text:
        text = text[:-1]  # a fully qualified domain (RFC 5321 §2.3.5): same mailbox
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


_SPECIALS_RE = re.compile(r'[()<>\[\]:;@\\,."]+')


def display_name(text: str) -> str:
    """A display name safe in a From/To header: one line of atoms, at most 64 characters.

    RFC 5322 specials are replaced by spaces (so the name never needs quoting, which the
    stdlib may drop when it folds a long name) and a literal `=?` is broken up (so no
    mail client decodes it into something else).
    """
    name = unicodedata.normalize("NFC", one_line(text, 200))
    name = _SPECIALS_RE.sub(" ", name).replace("=?", "= ?")
    return re.sub(r"\s+", " ", name).strip()[:64].strip()


def header_text(text: str, limit: int = 900) -> str:
    """Unstructured header text (a Subject): one line, no literal encoded-word opener."""
    return one_line(text, limit).replace("=?", "= ?")


def addresses_in(
    msg: EmailMessage, header: str, charset: str | None = None
) -> list[tuple[str, str]]:
    """(display name, address) pairs of a header; entries that fail the guard are skipped.

    The stdlib parser is only trusted where its result can be checked against the raw
    header: a value it flags as defective is refused whole (CVE-2023-27043 shapes such as
    `a@x.org)<b@y.org>`), and an address must appear literally in the raw text, so
    comments, quoting and line breaks inside an address cannot smuggle another one in.
    Raw 8-bit bytes (a Latin-1 or unencoded UTF-8 display name) are read first, as UTF-8,
    else in the message's declared `charset`, else windows-1252: they say nothing about
    the address, so they never cost a customer their sender.
    """
    found: list[tuple[str, str]] = []
    for name, raw in msg.raw_items():
        if name.lower() == header.lower() and isinstance(raw, str):
            found.extend(_parse_header_value(raw, charset))
    return found


_FOLD = re.compile(r"\r?\n(?=[ \t])")
# The only defects a value may have and still be read: an empty element of the list
# (`a@x.ch,, b@y.ch`, the obsolete syntax of RFC 5322 §4.4). A comma names no mailbox, so
# 500 of them around three addresses are three addresses, not a defective header.
_EMPTY_ELEMENTS = frozenset(
    (
        "empty element in address-list",
        "address-list entry with no content",
        "empty element in mailbox-list",
    )
)
# One mailbox, `Name Of Person <local@domain>` or a bare `local@domain`: a display name of
# plain ASCII words (no specials, no quotes, no encoded words) and a dot-atom address. Its
# reading is the stdlib parser's (tests/unit/test_addresses.py compares them).
_SIMPLE = re.compile(
    r"^[ \t]*(?:(?P<name>[A-Za-z0-9'_-]+(?: [A-Za-z0-9'_-]+)*)?[ \t]*"
    rf"<(?P<address>{_LOCAL}@{_DOMAIN})>|(?P<bare>{_LOCAL}@{_DOMAIN}))[ \t]*$"
)
MAX_ADDRESS_HEADER = 16_384  # characters: a hundred recipients fit with room to spare


def _parse_header_value(raw: str, charset: str | None = None) -> list[tuple[str, str]]:
    from email.headerregistry import HeaderRegistry

    if len(raw) > MAX_ADDRESS_HEADER:
        return []  # the stdlib's address parser needs seconds and gigabytes for a megabyte
    unfolded = text_of_raw_header(_FOLD.sub("", raw), charset)
    if "\r" in unfolded or "\n" in unfolded:
        return []  # a bare line break inside one header value: never an address
    simple = _SIMPLE.match(unfolded)
    if simple:  # the commonest shape, read as the stdlib would read it, in a tenth of the time
        address = normalise_address(simple["address"] or simple["bare"])
        return [] if address is None else [(one_line(simple["name"] or "", 200), address)]
    try:
        parsed = HeaderRegistry()("to", unfolded)
        if any(str(d) not in _EMPTY_ELEMENTS for d in parsed.defects):
            return []
        candidates = [(a.display_name, a.addr_spec) for a in parsed.addresses]
    except Exception:  # noqa: BLE001 - e.g. a display name that decodes to CR/LF
        candidates = _angle_addresses(unfolded)
    literal = unfolded.lower()
    pairs: list[tuple[str, str]] = []
    for name, spec in candidates:
        address = normalise_address(spec)
        if address is not None and address in literal:
            pairs.append((one_line(name or "", 200), address))
    return pairs


def text_of_raw_header(value: str, charset: str | None = None) -> str:
    """A raw header value as text: the bytes the parser kept as surrogate escapes are read
    as UTF-8 (RFC 6532) when they are UTF-8, else in the declared `charset`, else as
    windows-1252 (`maildesk.charsets`)."""
    return raw_header_text(value, charset)


def _angle_addresses(value: str) -> list[tuple[str, str]]:
    """Last resort for a header the parser refuses: one `<addr>`, without its display name."""
    found = re.findall(r"<([^<>\s]+)>", value)
    return [("", found[0])] if len(found) == 1 else []


def format_address(name: str, address: str) -> str:
    """Render `Name <addr>` for a header we write, with the name guarded."""
    safe = normalise_address(address)
    if safe is None:
        raise ValueError(f"refusing to write an unsafe address: {address!r}")
    local, _, domain = safe.partition("@")
    return str(Address(display_name(name), local, domain))
