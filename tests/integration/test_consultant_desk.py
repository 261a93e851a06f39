"""The whole desk in a consultant's mail client: the customer's files with every notice.

Real multipart mail (a PNG screenshot, an image inline in the HTML, a PDF) enters
through the SMTP listener; the staff notices leave through the sender to the sink, and
the files they carry are compared byte for byte with the ones the customer sent.
"""

from __future__ import annotations

import os
import smtplib
import struct
import zlib
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from maildesk.daemon.worker import Result
from tests.conftest import NOW
from tests.integration import test_consultants as base
from tests.integration.sink import Received
from tests.integration.test_consultants import (
    BOSS,
    CONSULTANT,
    CUSTOMER,
    STAFF,
    Desk,
    DeskFactory,
    consultant_mail,
    text_of,
)
from tests.mail import message
from tests.unit.inbound.test_forward import BODY, FORWARDS

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


# --- commands answering by mail --------------------------------------------------------------


def send_at(desk: Desk, raw: bytes, envelope_from: str, now: datetime) -> Result:
    """`Desk.send` at a later moment: processed and flushed as of `now`."""
    crlf = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    with smtplib.SMTP(desk.host, desk.port, timeout=10) as client:
        client.sendmail(envelope_from, ["support@help.example"], crlf)
    (result,) = desk.services.worker.process_due(now)
    desk.services.sender.flush(now)
    return result


def customer_answer(reply: Received, body: str, number: int) -> bytes:
    return message(
        subject=f"RE: {reply.message['Subject']}",
        body=body,
        message_id=f"<answer-{number}@acme.ch>",
        in_reply_to=reply.message_id,
    )


def five_exchanges(desk: Desk) -> Received:
    """Request, answer, reply, internal note, answer, thanks; the last staff notice."""
    at = [NOW + timedelta(minutes=30 * i) for i in range(7)]
    send_at(desk, customer_mail(), CUSTOMER, at[0])
    (notice,) = desk.mails(CONSULTANT, "staff_new_ticket")
    send_at(desk, consultant_mail(notice, "Pouvez-vous envoyer le journal ?", 1), CONSULTANT, at[1])
    reply = desk.mails(CUSTOMER, "reply")[-1]
    quoted = "Voici le journal demandé.\n\nLe 02.03.2026, Service Clients a écrit :\n> Pouvez-vous"
    send_at(desk, customer_answer(reply, quoted, 1), CUSTOMER, at[2])
    note = "#note\nVu avec le développement : certificat expiré."
    send_at(desk, consultant_mail(notice, note, 2), CONSULTANT, at[3])
    send_at(desk, consultant_mail(notice, "Le correctif est en place.", 3), CONSULTANT, at[4])
    reply = desk.mails(CUSTOMER, "reply")[-1]
    send_at(desk, customer_answer(reply, "Merci, cela fonctionne.", 2), CUSTOMER, at[5])
    return desk.mails(BOSS, "staff_customer_reply")[-1]


def test_history_returns_the_whole_ticket_in_order(desk: Desk):
    notice = five_exchanges(desk)
    to_customer = len(desk.mails(CUSTOMER))

    later = NOW + timedelta(hours=4)
    result = send_at(desk, consultant_mail(notice, "#historique", 9, sender=BOSS), BOSS, later)

    assert result.outcome == "appended"
    assert len(desk.mails(CUSTOMER)) == to_customer  # nothing relayed
    (history,) = desk.mails(BOSS, "staff_history")
    assert str(history.message["In-Reply-To"]) == result.message_id
    text = "\n".join(text_of(history))
    expected = [
        "10:00 – Message de Alice Martin <alice@acme.ch>",
        "la transmission échoue, voir la capture ci-dessous.",
        "[Fichiers : (sans nom), fehler.png, journal.pdf]",
        "Avis automatique envoyé à alice@acme.ch",
        "10:30 – Réponse envoyée au client par Marc Dubois <consultant@help.example>",
        "Pouvez-vous envoyer le journal ?",
        "10:30 – Statut : En attente de qualification → Attente client",
        "11:00 – Message de Alice Martin <alice@acme.ch>",
        "Voici le journal demandé.",
        "11:00 – Statut : Attente client → En cours",
        "11:30 – NOTE INTERNE (jamais envoyée au client) de Marc Dubois",
        "Vu avec le développement : certificat expiré.",
        "12:00 – Réponse envoyée au client par Marc Dubois",
        "Le correctif est en place.",
        "12:00 – Statut : En cours → Attente client",
        "12:30 – Message de Alice Martin <alice@acme.ch>",
        "Merci, cela fonctionne.",
        "12:30 – Statut : Attente client → En cours",
    ]
    positions = [text.find(line) for line in expected]
    assert all(p >= 0 for p in positions), [
        e for e, p in zip(expected, positions, strict=True) if p < 0
    ]
    assert positions == sorted(positions), text
    assert "> Pouvez-vous" not in text  # the customer's quote of our reply is removed
    assert "#historique" not in text
    assert "Captures d'écran : oui" in text
    # The files of the whole ticket, byte for byte, within the cap.
    got = files_of(history.raw)
    assert got["fehler.png"][0] == SCREENSHOT
    assert got["journal.pdf"][0] == JOURNAL


def test_history_by_a_new_mail_with_the_tag_and_for_a_new_assignee(desk: Desk):
    desk.send(customer_mail(), CUSTOMER)
    new_mail = consultant_mail(
        None, "#verlauf\n\nMarc Dubois\nTel. +41 31 555 01 23", 5, subject="[SUP-1] Verlauf bitte"
    )

    result = desk.send(new_mail, CONSULTANT)

    assert (result.outcome, result.ticket) == ("appended", "SUP-1")
    assert "staff-request" in desk.trace(result.message_id)
    (history,) = desk.mails(CONSULTANT, "staff_history")
    assert "la transmission échoue" in "\n".join(text_of(history))
    # #assign in a reply: applied, and the new assignee receives the history mail.
    (notice,) = desk.mails(CONSULTANT, "staff_new_ticket")
    desk.send(consultant_mail(notice, f"#assign {BOSS}\n\nNous regardons.", 6), CONSULTANT)
    assert desk.ticket()["assignee"] == BOSS
    (handed,) = desk.mails(BOSS, "staff_history")
    assert "Attribuée à : – → boss@help.example" in "\n".join(text_of(handed))
    assert files_of(handed.raw)["fehler.png"][0] == SCREENSHOT


def test_files_beyond_the_cap_come_with_files_in_mails_within_the_cap(make_desk: DeskFactory):
    desk = make_desk(attachments_max_bytes=50_000)
    extra = pdf(45_000)
    raw = customer_mail(
        files=(
            ("fehler.png", "image/png", SCREENSHOT),
            ("journal.pdf", "application/pdf", JOURNAL),
            ("export.pdf", "application/pdf", extra),
        )
    )
    desk.send(raw, CUSTOMER)
    (notice,) = desk.mails(CONSULTANT, "staff_new_ticket")
    assert set(files_of(notice.raw)) == {"<image001.png@01DA1234.5678>", "fehler.png"}

    desk.send(consultant_mail(notice, "#fichiers", 7), CONSULTANT)

    parts = desk.mails(CONSULTANT, "staff_files")
    assert len(parts) == 2  # 30 KB + 45 KB do not fit in one mail of 50 KB
    got = {}
    for part in parts:
        files = files_of(part.raw)
        assert sum(len(v[0]) for v in files.values()) <= 50_000
        got |= files
    assert got["journal.pdf"][0] == JOURNAL
    assert got["export.pdf"][0] == extra
    assert "(1/2)" in str(parts[0].message["Subject"])


# --- tickets opened for a customer ---------------------------------------------------------

ORIGINAL = (
    "Bonjour Marc,\n\nla transmission SwissDec échoue depuis ce matin pour M. Dupont.\n\n"
    "Version 12.4.1\nSociété : Acme SA\nTéléphone : +41 31 555 01 23\n\nAlice"
)


def outlook_forward(sender: str = CONSULTANT) -> bytes:
    """Outlook's French forward: the note, a rule, the original's fields, its files."""
    msg = EmailMessage()
    msg["From"] = f"Marc Dubois <{sender}>"
    msg["To"] = "support@help.example"
    msg["Subject"] = "TR: Erreur SwissDec pour M. Dupont"
    msg["Date"] = "Mon, 02 Mar 2026 10:00:00 +0100"
    msg["Message-ID"] = "<fwd-outlook@help.example>"
    msg.set_content(
        "Bonjour, merci d'ouvrir une demande pour Alice.\n\nMarc\n\n"
        "________________________________\n"
        "De : Alice Martin <alice@acme.example>\n"
        "Envoyé : lundi 2 mars 2026 08:12\n"
        f"À : Marc Dubois <{CONSULTANT}>\n"
        "Objet : Erreur SwissDec pour M. Dupont\n\n" + ORIGINAL
    )
    msg.add_attachment(JOURNAL, maintype="application", subtype="pdf", filename="journal.pdf")
    return msg.as_bytes()


def attached_forward() -> bytes:
    """A forward as attachment: the customer's mail whole, as message/rfc822."""
    original = EmailMessage()
    original["From"] = "Bob Keller <bob@beta.example>"
    original["To"] = CONSULTANT
    original["Subject"] = "Lohnlauf bricht ab"
    original["Date"] = "Mon, 02 Mar 2026 07:55:00 +0100"
    original["Message-ID"] = "<original@beta.example>"
    original.set_content("Guten Tag\n\nDer Lohnlauf bricht ab.\n\nVersion 12.3.0\nFirma: Beta AG")
    original.add_attachment(SCREENSHOT, maintype="image", subtype="png", filename="fehler.png")
    msg = EmailMessage()
    msg["From"] = f"Marc Dubois <{CONSULTANT}>"
    msg["To"] = "support@help.example"
    msg["Subject"] = "Fwd: Lohnlauf bricht ab"
    msg["Date"] = "Mon, 02 Mar 2026 10:00:00 +0100"
    msg["Message-ID"] = "<fwd-attached@help.example>"
    msg.set_content("Bitte für Bob aufnehmen.")
    msg.add_attachment(original)
    return msg.as_bytes()


def test_forwarded_outlook_mail_opens_a_ticket_for_the_original_sender(desk: Desk):
    result = desk.send(outlook_forward(), CONSULTANT)

    assert (result.outcome, result.ticket) == ("created", "SUP-1")
    ticket = desk.ticket()
    assert ticket["requester"] == "alice@acme.example"
    assert ticket["assignee"] == CONSULTANT
    assert ticket["subject"] == "Erreur SwissDec pour M. Dupont"
    assert ticket["fields"]["version"] == "12.4.1"
    assert ticket["fields"]["company"] == "Acme SA"
    (ack,) = desk.mails("alice@acme.example", "ack")
    assert "[SUP-1]" in str(ack.message["Subject"])
    assert desk.mails(CONSULTANT, "ack") == []
    (notice,) = desk.mails(BOSS, "staff_new_ticket")
    assert files_of(notice.raw)["journal.pdf"][0] == JOURNAL
    assert "forward-inline" in desk.trace(result.message_id)


def test_forward_as_attachment_opens_a_ticket_for_the_original_sender(desk: Desk):
    result = desk.send(attached_forward(), CONSULTANT)

    assert result.outcome == "created"
    ticket = desk.ticket()
    assert (ticket["requester"], ticket["assignee"]) == ("bob@beta.example", CONSULTANT)
    assert ticket["subject"] == "Lohnlauf bricht ab"
    assert ticket["fields"]["version"] == "12.3.0"
    assert len(desk.mails("bob@beta.example", "ack")) == 1
    (notice,) = desk.mails(BOSS, "staff_new_ticket")
    assert files_of(notice.raw)["fehler.png"][0] == SCREENSHOT


@pytest.mark.parametrize("internal", [False, True])
def test_requester_opens_a_ticket_from_a_phone_call(desk: Desk, internal: bool):
    msg = EmailMessage()
    msg["From"] = f"Marc Dubois <{CONSULTANT}>"
    msg["To"] = "support@help.example"
    msg["Subject"] = "Appel : la transmission SwissDec échoue pour M. Dupont"
    msg["Message-ID"] = f"<call-{internal}@help.example>"
    note = "#note\n" if internal else ""
    text = "Appel d'Alice : la transmission échoue depuis ce matin. Version 12.4.1"
    msg.set_content(f"#requester alice@acme.example\n{note}\n{text}\n")

    result = desk.send(msg.as_bytes(), CONSULTANT)

    assert result.outcome == "created"
    ticket = desk.ticket()
    assert (ticket["requester"], ticket["assignee"]) == ("alice@acme.example", CONSULTANT)
    assert ticket["fields"]["version"] == "12.4.1"
    assert len(desk.mails("alice@acme.example", "ack")) == 1
    kind, stored = desk.stored(result.message_id)
    assert kind == ("note" if internal else "customer")
    assert stored == text
    assert "#requester" not in stored


def test_a_customers_own_forward_is_a_customer_writing(desk: Desk):
    forwarded = outlook_forward(sender="alice@acme.example").replace(
        b"Marc Dubois <alice@acme.example>", b"Alice Martin <alice@acme.example>"
    )
    carol = forwarded.replace(b"De : Alice Martin <alice@acme.example>", b"De : <carol@x.example>")

    result = desk.send(carol, "alice@acme.example")

    assert result.outcome == "created"
    ticket = desk.ticket()
    assert (ticket["requester"], ticket["assignee"]) == ("alice@acme.example", None)
    assert desk.mails("carol@x.example") == []


def test_a_forged_staff_forward_is_not_taken_as_staff(desk: Desk):
    # The From is a consultant's, the envelope someone else's: no ticket for Alice.
    result = desk.send(outlook_forward(), "mallory@evil.example")

    assert result.outcome == "created"
    assert desk.ticket()["requester"] == CONSULTANT
    assert desk.mails("alice@acme.example") == []


def test_each_consultant_reads_notices_in_their_own_language(make_desk: DeskFactory):
    desk = make_desk(people={CONSULTANT: {"language": "de"}, BOSS: {"language": "en"}})

    desk.send(customer_mail(), CUSTOMER)

    (german,) = desk.mails(CONSULTANT, "staff_new_ticket")
    (english,) = desk.mails(BOSS, "staff_new_ticket")
    assert german.message["Content-Language"] == "de"
    assert "Bildschirmfotos: ja" in "\n".join(text_of(german))
    assert "Screenshots: yes" in "\n".join(text_of(english))
    (ack,) = desk.mails(CUSTOMER, "ack")
    assert ack.message["Content-Language"] == "fr"  # the customer's own language


@pytest.mark.parametrize("client", ["gmail-fr", "apple-de", "thunderbird-en"])
def test_other_clients_inline_forwards_open_a_ticket_for_the_original_sender(
    desk: Desk, client: str
):
    msg = EmailMessage()
    msg["From"] = f"Marc Dubois <{CONSULTANT}>"
    msg["To"] = "support@help.example"
    msg["Subject"] = "Fwd: Erreur SwissDec"
    msg["Message-ID"] = f"<fwd-{client}@help.example>"
    msg.set_content("Pour Alice, merci.\n\n" + FORWARDS[client] + BODY)

    result = desk.send(msg.as_bytes(), CONSULTANT)

    assert result.outcome == "created"
    ticket = desk.ticket()
    assert (ticket["requester"], ticket["assignee"]) == ("alice@acme.example", CONSULTANT)
    assert ticket["subject"] == "Erreur SwissDec"
    assert ticket["fields"]["version"] == "12.4.1"
    assert len(desk.mails("alice@acme.example", "ack")) == 1


def test_a_program_is_listed_not_attached(desk: Desk):
    program = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(200)
    raw = customer_mail(
        files=(
            ("fehler.png", "image/png", SCREENSHOT),
            ("tool.exe", "application/octet-stream", program),
        )
    )

    desk.send(raw, CUSTOMER)

    (notice,) = desk.mails(CONSULTANT, "staff_new_ticket")
    got = files_of(notice.raw)
    assert "tool.exe" not in got
    assert got["fehler.png"][0] == SCREENSHOT
    assert "tool.exe (208 o) – non joint" in "\n".join(text_of(notice))
