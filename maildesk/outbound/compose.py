"""Turn a rendered notification into the exact bytes we send, headers guarded.

Every header value passes `one_line`/`format_address` (no CR/LF from customer data, even
on an interpreter without the CVE-2024-6923 fix), and the finished bytes are parsed back
to prove that no extra header line appeared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime

from maildesk.addresses import format_address, header_text, normalise_address, one_line
from maildesk.outbound.render import Rendered

# RFC 3834 §5: "auto-replied" answers a message; "auto-generated" is mail we start ourselves.
AUTO_REPLIED = "auto-replied"
AUTO_GENERATED = "auto-generated"


@dataclass(frozen=True)
class Headers:
    ticket_key: str
    from_name: str
    from_address: str
    to_name: str
    to_address: str
    reply_to: str
    message_id: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    auto_submitted: str | None = None  # auto-replied | auto-generated | None (a person's answer)


def compose(
    rendered: Rendered,
    headers: Headers,
    now: datetime,
    attachments: list[tuple[str, str, bytes]] | tuple = (),
) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = format_address(headers.from_name, headers.from_address)
    msg["To"] = format_address(headers.to_name, headers.to_address)
    msg["Reply-To"] = format_address(headers.from_name, headers.reply_to)
    msg["Subject"] = header_text(f"[{headers.ticket_key}] {rendered.subject}")
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = _msgid(headers.message_id)
    if headers.in_reply_to:
        msg["In-Reply-To"] = _msgid(headers.in_reply_to)
    refs = [_msgid(r) for r in headers.references[-20:]]
    if refs:
        msg["References"] = " ".join(refs)
    if headers.auto_submitted:
        msg["Auto-Submitted"] = headers.auto_submitted
        msg["X-Auto-Response-Suppress"] = "OOF, AutoReply"
        msg["Precedence"] = "auto_reply"
    msg["X-Maildesk-Loop"] = one_line(headers.from_address)
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    for filename, ctype, payload in attachments:
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(
            payload,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=one_line(filename, 255),
        )
    msg["Content-Language"] = rendered.language  # after set_content, which resets Content-*
    raw = msg.as_bytes()
    _check_headers(raw, msg, headers.to_address)
    return raw


_MSGID_RE = re.compile(r"^<[^<>\s@]{1,250}@[^<>\s@]{1,250}>$")


def _msgid(value: str) -> str:
    value = one_line(value, 510).strip()
    if not _MSGID_RE.match(value):
        raise ValueError(f"not a Message-ID: {value!r}")
    return value


def _check_headers(raw: bytes, msg: EmailMessage, to_address: str) -> None:
    """Parse our own output back: exactly the headers we set, addressed to whom we meant."""
    parsed = BytesHeaderParser(policy=policy.default).parsebytes(raw)
    if sorted(k.lower() for k in parsed) != sorted(k.lower() for k in msg):
        raise ValueError("refusing to send: header structure changed during serialisation")
    to = parsed["To"].addresses if parsed["To"] is not None else ()
    if len(to) != 1 or normalise_address(to[0].addr_spec) != normalise_address(to_address):
        raise ValueError("refusing to send: the To header does not name the recipient")
