"""The whole desk in a consultant's mail client: the customer's files with every notice.

Real multipart mail (a PNG screenshot, an image inline in the HTML, a PDF) enters
through the SMTP listener; the staff notices leave through the sender to the sink, and
the files they carry are compared byte for byte with the ones the customer sent.
"""

from __future__ import annotations

import os
import struct
import zlib
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from tests.integration import test_consultants as base
from tests.integration.test_consultants import (
    CONSULTANT,
    CUSTOMER,
    STAFF,
    Desk,
    DeskFactory,
    text_of,
)

make_desk, desk = base.make_desk, base.desk  # the same desk: listener in, sink out


def png(size: int, seed: int = 1) -> bytes:
    """A real PNG of about `size` bytes (noise does not compress)."""
    width = max(8, int((size / 3) ** 0.5))
    rows = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(width))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, width, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 0))
        + chunk(b"IEND", b"")
    )


def pdf(size: int) -> bytes:
    head = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n"
    return head + b"%" + os.urandom(size) + b"\n%%EOF\n"


SCREENSHOT = png(40_000)
LOGO_INLINE = png(6_000)
JOURNAL = pdf(30_000)


def customer_mail(
    message_id: str = "<req-files@acme.ch>",
    subject: str = "Erreur lors de la transmission SwissDec pour M. Dupont",
    in_reply_to: str | None = None,
    files: tuple[tuple[str, str, bytes], ...] = (
        ("fehler.png", "image/png", SCREENSHOT),
        ("journal.pdf", "application/pdf", JOURNAL),
    ),
) -> bytes:
    """Outlook's shape: text and HTML, an image inline in the HTML, then attachments."""
    msg = EmailMessage()
    msg["From"] = f"Alice Martin <{CUSTOMER}>"
    msg["To"] = "support@help.example"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 02 Mar 2026 10:00:00 +0100"
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    text = "Bonjour,\n\nla transmission échoue, voir la capture ci-dessous.\n\nVersion 12.4.1"
    msg.set_content(text)
    msg.add_alternative(
        "<html><body><p>Bonjour,</p><p>la transmission échoue :</p>"
        '<img src="cid:image001.png@01DA1234.5678"></body></html>',
        subtype="html",
    )
    html = msg.get_payload()[1]
    html.add_related(LOGO_INLINE, "image", "png", cid="<image001.png@01DA1234.5678>")
    for name, ctype, payload in files:
        main, sub = ctype.split("/")
        msg.add_attachment(payload, maintype=main, subtype=sub, filename=name)
    return msg.as_bytes()


def files_of(raw: bytes) -> dict[str, tuple[bytes, str | None, str | None]]:
    """Content-ID (else filename) -> (bytes, Content-ID, disposition) of each non-text part."""
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    found = {}
    for part in parsed.walk():
        if part.is_multipart() or part.get_content_maintype() == "text":
            continue
        cid = part["Content-ID"]
        name = str(cid) if cid else part.get_filename()
        found[name] = (part.get_payload(decode=True), cid, part.get_content_disposition())
    return found


def html_of(raw: bytes) -> str:
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    body = parsed.get_body(("html",))
    assert body is not None
    return body.get_content()


def test_staff_notices_carry_the_customers_files_byte_for_byte(desk: Desk):
    raw = customer_mail()
    result = desk.send(raw, CUSTOMER)
    assert (result.outcome, result.ticket) == ("created", "SUP-1")

    sent = files_of(raw)
    assert len(sent) == 3
    for address in STAFF:
        (notice,) = desk.mails(address, "staff_new_ticket")
        got = files_of(notice.raw)
        assert {k: v[0] for k, v in got.items()} == {k: v[0] for k, v in sent.items()}
        # The inline image stays inline, with its Content-ID, referenced by the HTML.
        inline = got["<image001.png@01DA1234.5678>"]
        assert inline[1:] == ("<image001.png@01DA1234.5678>", "inline")
        assert 'src="cid:image001.png@01DA1234.5678"' in html_of(notice.raw)
        assert got["fehler.png"][2] == "attachment"
        text = "\n".join(text_of(notice))
        assert "fehler.png (39 Ko)" in text
        assert "journal.pdf (29 Ko)" in text
        assert "#fichiers" not in text  # nothing withheld
        # One language throughout: fields and values in French, yes/no as words.
        assert "Captures d'écran : oui" in text
        assert "Type de demande : Assistance" in text
        assert "Criticité : Moyenne" in text

    # A reply with another screenshot: the reply notice carries it, byte for byte.
    (ack,) = desk.mails(CUSTOMER, "ack")
    second = png(12_000)
    reply = customer_mail(
        message_id="<answer-files@acme.ch>",
        subject=f"RE: {ack.message['Subject']}",
        in_reply_to=ack.message_id,
        files=(("zweiter-fehler.png", "image/png", second),),
    )
    assert desk.send(reply, CUSTOMER).ticket == "SUP-1"
    for address in STAFF:
        (notice,) = desk.mails(address, "staff_customer_reply")
        got = files_of(notice.raw)
        assert got["zweiter-fehler.png"][0] == second
        assert got["<image001.png@01DA1234.5678>"][0] == LOGO_INLINE


def test_files_beyond_the_cap_are_listed_with_their_size(make_desk: DeskFactory):
    desk = make_desk(attachments_max_bytes=50_000)
    raw = customer_mail()  # 6 KB inline + 40 KB PNG + 30 KB PDF: the PDF does not fit

    desk.send(raw, CUSTOMER)

    (notice,) = desk.mails(CONSULTANT, "staff_new_ticket")
    got = files_of(notice.raw)
    assert set(got) == {"<image001.png@01DA1234.5678>", "fehler.png"}
    assert got["fehler.png"][0] == SCREENSHOT
    text = "\n".join(text_of(notice))
    assert "journal.pdf (29 Ko) – non joint" in text
    assert "1 fichier(s) non joint(s) : la limite est de 49 Ko par message" in text
    assert "#fichiers" in text
