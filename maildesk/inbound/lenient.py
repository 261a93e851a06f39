"""What a message says about itself, read leniently from its raw bytes.

For mail that the full parser refuses (a header bomb, a broken MIME structure): the
quarantine's log line, `maildesk spool show` and `maildesk trace` still need its sender,
subject and Message-ID. Only the header block is read, at most `HEAD_LIMIT` bytes of it,
line by line, without the stdlib's address parser; every value is made one line and
addresses pass the strict guard, so a hostile header cannot reach a log or a terminal.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email.header import decode_header, make_header

from maildesk.addresses import header_text, normalise_address, one_line

HEAD_LIMIT = 256 * 1024
_WANTED = ("from", "to", "cc", "subject", "message-id", "date")
_FIELD = re.compile(rb"^([!-9;-~]+):[ \t]?(.*)$")
_MSGID = re.compile(r"<([^<>\s]{1,500})>")
_ANGLE = re.compile(r"<([^<>\s]{1,320})>")
_BARE = re.compile(r"[^\s<>,;:\"()]{1,320}@[^\s<>,;:\"()]{1,255}")


@dataclass(frozen=True)
class Glance:
    sender: str  # the From address ("" when none passes the guard)
    to: tuple[str, ...]
    subject: str
    message_id: str  # "<...>": the message's own, else the one the parser would derive
    message_id_derived: bool
    date: str
    size: int


def glance(raw: bytes, sha256: str | None = None) -> Glance:
    """The headers that identify a message, from whatever can be read of it. `sha256`:
    the bytes' digest when the caller has it already (the spool row stores it), so a large
    message is not hashed twice on the intake path."""
    values = _first_values(_head(raw))
    ids = _MSGID.findall(values.get("message-id", ""))
    sha = sha256 or hashlib.sha256(raw).hexdigest()
    senders = _addresses(values.get("from", ""))
    return Glance(
        sender=senders[0] if senders else "",
        to=tuple(_addresses(values.get("to", "")) + _addresses(values.get("cc", "")))[:20],
        subject=header_text(_decoded(values.get("subject", "")), 300),
        message_id=f"<{ids[0]}>" if ids else f"<{sha[:32]}@maildesk.invalid>",
        message_id_derived=not ids,
        date=one_line(values.get("date", ""), 100),
        size=len(raw),
    )


def _head(raw: bytes) -> bytes:
    head = raw[:HEAD_LIMIT]
    ends = [i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0]
    return head[: min(ends)] if ends else head


def _first_values(head: bytes) -> dict[str, str]:
    """The first occurrence of each wanted field, unfolded, as text (bad bytes replaced)."""
    found: dict[str, list[bytes]] = {}
    current: list[bytes] | None = None
    for line in head.splitlines():
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current.append(line.strip())
            continue
        current = None
        match = _FIELD.match(line)
        if match is None:
            continue
        name = match.group(1).decode("ascii", "replace").lower()
        if name in _WANTED and name not in found:
            current = found[name] = [match.group(2).strip()]
    return {
        name: b" ".join(parts).decode("utf-8", "replace")[:8000] for name, parts in found.items()
    }


def _decoded(value: str) -> str:
    """RFC 2047 encoded words decoded where they can be; the raw text where they cannot."""
    try:
        return str(make_header(decode_header(value)))
    except Exception:  # noqa: BLE001 - a broken encoded word: keep the text as it is
        return value


def _addresses(value: str) -> list[str]:
    candidates = _ANGLE.findall(value) or _BARE.findall(value)
    found: list[str] = []
    for candidate in candidates:
        address = normalise_address(candidate)
        if address is not None and address not in found:
            found.append(address)
    return found
