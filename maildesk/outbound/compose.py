"""Turn a rendered notification into the exact bytes we send, headers guarded.

Every header value passes `one_line`/`format_address` (no CR/LF from customer data, even
on an interpreter without the CVE-2024-6923 fix), and the finished bytes are parsed back
to prove that no extra header line appeared.

The bytes are written here rather than by `email.message.EmailMessage`: the modern policy
parses every header it is given and again when it folds it, which made building an
acknowledgement cost more than parsing the request it answers. The format is small and
fixed (RFC 5322 headers, RFC 2047 encoded words, RFC 2231 file names, a
multipart/alternative of two quoted-printable parts, base64 attachments), so writing it
directly is short, and the parse-back check below still guards the result.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.parser import BytesHeaderParser
from email.utils import format_datetime
from urllib.parse import quote

from maildesk.addresses import display_name, header_text, normalise_address, one_line
from maildesk.outbound.render import Rendered


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


@dataclass(frozen=True)
class File:
    """One file to send. With a `content_id`, an image is shown inline in the HTML part
    (a multipart/related beside it, referenced as `cid:`); without, it is an attachment."""

    filename: str
    content_type: str
    payload: bytes
    content_id: str = ""


def compose(
    rendered: Rendered,
    headers: Headers,
    now: datetime,
    attachments: list[tuple[str, str, bytes]] | list[File] | tuple = (),
) -> bytes:
    fields: list[tuple[str, str]] = [
        ("From", _address(headers.from_name, headers.from_address)),
        ("To", _address(headers.to_name, headers.to_address)),
        ("Reply-To", _address(headers.from_name, headers.reply_to)),
        ("Subject", _unstructured(header_text(_tagged(headers.ticket_key, rendered.subject)))),
        ("Date", format_datetime(now)),
        ("Message-ID", _msgid(headers.message_id)),
    ]
    # Our own Message-ID must be well formed; the ones we answer come from the customer's
    # mail, so one that is not (`<xxxx>`, no `@`) is left out rather than losing the reply.
    answered = _their_msgid(headers.in_reply_to) if headers.in_reply_to else None
    if answered:
        fields.append(("In-Reply-To", answered))
    refs = [r for r in map(_their_msgid, headers.references[-20:]) if r]
    if refs:
        fields.append(("References", " ".join(refs)))
    if headers.auto_submitted:
        fields += [
            ("Auto-Submitted", headers.auto_submitted),
            ("X-Auto-Response-Suppress", "OOF, AutoReply"),
            ("Precedence", "auto_reply"),
        ]
    fields.append(("X-Maildesk-Loop", _unstructured(one_line(headers.from_address))))
    fields.append(("MIME-Version", "1.0"))
    alternative = _multipart(
        "alternative", [_text_part("plain", rendered.text), _text_part("html", rendered.html)]
    )
    files = [f if isinstance(f, File) else File(*f) for f in attachments]
    inline = [f for f in files if f.content_id and content_id(f.content_id)]
    if inline:
        parts = [_attachment(f.filename, f.content_type, f.payload, f.content_id) for f in inline]
        alternative = _multipart("related", [alternative, *parts], 'type="multipart/alternative"')
    rest = [f for f in files if not (f.content_id and content_id(f.content_id))]
    if rest:
        parts = [_attachment(f.filename, f.content_type, f.payload) for f in rest]
        body = _multipart("mixed", [alternative, *parts])
    else:
        body = alternative
    fields.append(("Content-Language", _language(rendered.language)))
    raw = b"".join(_line(name, value) for name, value in fields) + body
    _check_headers(raw, [name for name, _ in fields] + ["Content-Type"], headers.to_address)
    return raw


def _tagged(key: str, subject: str) -> str:
    """`[SUP-12] subject`; a mail about no one ticket (the digest) carries no tag."""
    return f"[{key}] {subject}" if key else subject


_LINE = 76  # RFC 5322 recommends 78; leave room for the folding space
_WORD_BYTES = 45  # UTF-8 bytes per encoded word: 60 base64 characters, 72 with its frame


def _line(name: str, value: str) -> bytes:
    """One header field, folded at spaces; the value is already ASCII and one line."""
    out, width = [f"{name}:"], len(name) + 1
    for word in value.split(" "):
        if width + 1 + len(word) > _LINE and width > len(name) + 1:
            out.append("\r\n")
            width = 0
        out.append(" " + word)
        width += 1 + len(word)
    return ("".join(out) + "\r\n").encode("ascii")


def _unstructured(text: str) -> str:
    """ASCII text as it is; anything else as RFC 2047 encoded words (UTF-8, base64)."""
    if text.isascii():
        return text
    return " ".join(_encoded_words(text))


def _encoded_words(text: str) -> list[str]:
    words, chunk = [], b""
    for char in text:
        encoded = char.encode("utf-8", "replace")
        if len(chunk) + len(encoded) > _WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    if chunk or not words:
        words.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words]


def _address(name: str, address: str) -> str:
    """`Name <addr>`: the name guarded (atoms only), the address checked."""
    safe = normalise_address(address)
    if safe is None:
        raise ValueError(f"refusing to write an unsafe address: {address!r}")
    phrase = display_name(name)
    if not phrase:
        return safe
    return f"{_unstructured(phrase)} <{safe}>"


_LANGUAGE_RE = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$")


def _language(tag: str) -> str:
    if not _LANGUAGE_RE.match(tag):
        raise ValueError(f"not a language tag: {tag!r}")
    return tag


def _boundary() -> str:
    # "=_" never occurs in quoted-printable or base64 text, and the rest is random.
    return f"=_md_{secrets.token_hex(12)}"


def _multipart(subtype: str, parts: list[bytes], params: str = "") -> bytes:
    boundary = _boundary()
    extra = f"; {params}" if params else ""
    out = [f'Content-Type: multipart/{subtype}; boundary="{boundary}"{extra}\r\n\r\n'.encode()]
    for part in parts:
        out.append(f"--{boundary}\r\n".encode())
        out.append(part)
        out.append(b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


def _text_part(subtype: str, text: str) -> bytes:
    body = "\n".join(text.splitlines()).encode("utf-8")
    encoded = binascii.b2a_qp(body, istext=True).replace(b"\n", b"\r\n")
    head = (
        f"Content-Type: text/{subtype}; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    return head.encode("ascii") + encoded + b"\r\n"


_TYPE_RE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"
)


_CID_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]{1,200}$")


def content_id(value: str) -> str:
    """A Content-ID without its angle brackets, or "" when it is not a safe one."""
    value = value.strip().removeprefix("<").removesuffix(">")
    return value if _CID_RE.match(value) else ""


def _attachment(filename: str, ctype: str, payload: bytes, cid: str = "") -> bytes:
    ctype = ctype.lower() if _TYPE_RE.match(ctype) else "application/octet-stream"
    name = one_line(filename, 255) or "attachment"
    if name.isascii() and '"' not in name and "\\" not in name:
        param = f'filename="{name}"'
    else:  # RFC 2231: charset, empty language, percent-encoded UTF-8
        param = f"filename*=utf-8''{quote(name, safe='')}"
    data = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    safe_cid = content_id(cid)
    head = _line("Content-Type", ctype) + _line("Content-Transfer-Encoding", "base64")
    if safe_cid:
        head += _line("Content-ID", f"<{safe_cid}>")
    disposition = "inline" if safe_cid else "attachment"
    return head + _line("Content-Disposition", f"{disposition}; {param}") + b"\r\n" + data


_MSGID_RE = re.compile(r"^<[^<>\s@]{1,250}@[^<>\s@]{1,250}>$")


def _msgid(value: str) -> str:
    value = one_line(value, 510).strip()
    if not value.isascii() or not _MSGID_RE.match(value):  # a header line is ASCII
        raise ValueError(f"not a Message-ID: {value!r}")
    return value


def _their_msgid(value: str) -> str | None:
    try:
        return _msgid(value)
    except ValueError:
        return None


def _check_headers(raw: bytes, names: list[str], to_address: str) -> None:
    """Parse our own output back: exactly the headers we set, addressed to whom we meant."""
    parsed = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
    if sorted(k.lower() for k in parsed) != sorted(k.lower() for k in names):
        raise ValueError("refusing to send: header structure changed during serialisation")
    to = re.sub(r"\s+", " ", parsed["To"] or "")
    recipient = normalise_address(to_address)
    if recipient is None or not (to == recipient or to.endswith(f" <{recipient}>")):
        raise ValueError("refusing to send: the To header does not name the recipient")
