"""Raw 8-bit headers as mail programs send them: subjects, display names and attachment
names in UTF-8, ISO-8859-1 and windows-1252, with and without a declared charset.

Each case is stored and shown exactly: the parsed value, the ticket in the database (on
SQLite and PostgreSQL), the acknowledgement, the staff notice and the log line. Bytes that
are valid in no charset stay readable: no exception, no lost mail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from maildesk.inbound.parse import attachment_payloads, parse
from maildesk.store import reports as report
from maildesk.store.models import outbox
from maildesk.store.spool import store
from tests.conftest import NOW

QUEUE = "support@help.example"
PDF = b"JVBERi0xLjQKJcOkw7zDtsOfCg=="  # "%PDF-1.4" and a comment, base64


@dataclass(frozen=True)
class Case:
    id: str
    subject: str  # what the customer typed
    name: str  # display name
    filename: str
    encoding: str  # the bytes their program wrote
    declared: str | None  # the charset the message declares, if any

    def raw(self, multipart: bool = True) -> bytes:
        enc = self.encoding
        ctype = b"text/plain" + (f"; charset={self.declared}".encode() if self.declared else b"")
        head = (
            b"From: " + self.name.encode(enc) + b" <alice@acme.ch>\r\n"
            b"To: " + QUEUE.encode() + b"\r\n"
            b"Subject: " + self.subject.encode(enc) + b"\r\n"
            b"Message-ID: <" + self.id.encode() + b"@acme.ch>\r\n"
            b"Date: Mon, 02 Mar 2026 09:00:00 +0000\r\n"
            b"MIME-Version: 1.0\r\n"
        )
        body = b"Bonjour,\r\nla caisse n'imprime plus depuis ce matin.\r\n"
        if not multipart:
            return head + b"Content-Type: " + ctype + b"\r\n\r\n" + body
        name = self.filename.encode(enc)
        return (
            head + b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
            b"--b1\r\nContent-Type: "
            + ctype
            + b"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + body
            + b'--b1\r\nContent-Type: application/pdf; name="'
            + name
            + b'"\r\n'
            b'Content-Disposition: attachment; filename="' + name + b'"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n" + PDF + b"\r\n--b1--\r\n"
        )


FR = ("Problème d'impression à la caisse", "Jérôme Bérard", "Reçu caisse été.pdf")
DE = ("Störung beim Lohnlauf für März", "Jürg Müller", "Lohnausweis Grüezi.pdf")
IT = ("Perché la stampa non funziona più", "Niccolò Pellò", "Ricevuta però.pdf")
# Characters only windows-1252 has (0x80-0x9F): euro, dashes, curly quotes, œ.
CP = ("Facture 120 € – l’export « vide » œuvre", "Zoë O’Neil – Compta", "Facture € 2026.pdf")

CASES = [
    Case("utf8-none", *FR, "utf-8", None),
    Case("utf8-utf8", *DE, "utf-8", "utf-8"),
    Case("utf8-latin1", *IT, "utf-8", "iso-8859-1"),  # valid UTF-8 wins over the label
    Case("utf8-1252", *CP, "utf-8", "windows-1252"),
    Case("latin1-none", *FR, "iso-8859-1", None),
    Case("latin1-latin1", *DE, "iso-8859-1", "iso-8859-1"),
    Case("latin1-utf8", *IT, "iso-8859-1", "utf-8"),  # a wrong label: windows-1252
    Case("1252-none", *CP, "cp1252", None),
    Case("1252-1252", *CP, "cp1252", "windows-1252"),
    Case("1252-latin1", *CP, "cp1252", "iso-8859-1"),  # what Outlook writes
    Case("1252-ascii", *FR, "cp1252", "us-ascii"),
    # Only the declaration can tell these apart from windows-1252.
    Case(
        "latin9-latin9",
        "Prix 120 € par poste",
        "Élodie Œhler",
        "Devis €.pdf",
        "iso-8859-15",
        "iso-8859-15",
    ),
    Case(
        "latin2-latin2",
        "Chyba při exportu",
        "Łukasz Dvořák",
        "Výpis.pdf",
        "iso-8859-2",
        "iso-8859-2",
    ),
]


@pytest.mark.parametrize("multipart", [True, False], ids=["multipart", "single-part"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_raw_8bit_headers_are_read_exactly(case: Case, multipart: bool):
    parsed = parse(case.raw(multipart))
    assert parsed.subject == case.subject
    assert (parsed.sender_name, parsed.sender) == (case.name, "alice@acme.ch")
    assert "\ufffd" not in parsed.subject + parsed.sender_name
    if multipart:
        assert [a.filename for a in parsed.attachments] == [case.filename]
        assert [name for name, _, _ in attachment_payloads(case.raw())] == [case.filename]


def test_an_attachment_declares_its_own_charset():
    """A part's own charset parameter reads its file name, whatever the message says."""
    raw = (
        "From: Alice <alice@acme.ch>\r\nTo: support@help.example\r\nSubject: Devis\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nVoir la pièce jointe.\r\n"
        "--b\r\nContent-Type: text/csv; charset=iso-8859-15\r\n"
    ).encode() + (
        b'Content-Disposition: attachment; filename="Devis \xa4 2026.csv"\r\n\r\na;b\r\n--b--\r\n'
    )
    assert [a.filename for a in parse(raw).attachments] == ["Devis € 2026.csv"]


def ingest(services, raw: bytes):
    inbound_id = store(services.engine, raw, source="ingest", now=NOW, rcpt_tos=(QUEUE,))
    return services.worker.process(inbound_id, NOW)


def outgoing(services, template: str):
    with services.engine.connect() as conn:
        rows = conn.execute(select(outbox).where(outbox.c.template == template)).all()
    return [message_from_bytes(r.raw, policy=policy.default) for r in rows]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_stored_acknowledged_notified_and_logged_exactly(services, case: Case, caplog):
    caplog.set_level(logging.INFO, logger="maildesk")
    result = ingest(services, case.raw())
    assert result.outcome == "created"
    ticket = report.show_ticket(services.engine, result.ticket)
    assert ticket["subject"] == case.subject
    assert ticket["requester_name"] == case.name
    assert ticket["messages"][0]["subject"] == case.subject
    assert ticket["messages"][0]["sender_name"] == case.name
    assert [a["filename"] for a in ticket["messages"][0]["attachments"]] == [case.filename]

    (ack,) = outgoing(services, "ack")
    assert case.subject in str(ack["Subject"])
    assert f" {case.name}," in ack.get_body(("plain",)).get_content()
    assert case.subject in ack.get_body(("plain",)).get_content()
    staff = outgoing(services, "staff_new_ticket")
    assert staff
    for notice in staff:
        assert case.subject in str(notice["Subject"])
        text = notice.get_body(("plain",)).get_content()
        assert case.name in text
        assert case.subject in text
    logged = [r.getMessage() for r in caplog.records if "action=created" in r.getMessage()]
    assert len(logged) == 1
    assert f'subject="{case.subject}"' in logged[0]
    assert "\ufffd" not in " ".join(r.getMessage() for r in caplog.records)


JUNK = [
    # Bytes windows-1252 leaves undefined, a stray UTF-8 lead byte and a NUL-free C1 run.
    (b"Facture \x81\x8d\x8f\x90\x9d impayee", None),
    (b"Facture \xc3 impayee \xff\xfe", "utf-8"),
    (b"Facture \x81\x9d impayee", "x-no-such-charset"),
    (b"Facture \x81\x9d impayee", "utf-16"),  # refused: not a charset headers can be in
    (b"Facture \x85\x0b impayee", "iso-8859-1"),  # C1 NEL / VT: never a line break
]


@pytest.mark.parametrize(("subject", "declared"), JUNK)
def test_8bit_junk_stays_readable_and_the_mail_is_kept(services, subject, declared):
    ctype = b"Content-Type: text/plain" + (f"; charset={declared}".encode() if declared else b"")
    raw = (
        b"From: Jean \x81\x90 <alice@acme.ch>\r\nTo: support@help.example\r\n"
        b"Subject: " + subject + b"\r\nMIME-Version: 1.0\r\n" + ctype + b"\r\n\r\nBonjour.\r\n"
    )
    parsed = parse(raw)
    assert parsed.subject.startswith("Facture ")
    assert parsed.subject.endswith(("impayee", "impayee ÿþ"))
    assert "\n" not in parsed.subject
    assert "\x85" not in parsed.subject
    assert parsed.sender == "alice@acme.ch"
    assert parsed.sender_name.startswith("Jean")
    result = ingest(services, raw)
    assert result.outcome == "created"
    assert report.show_ticket(services.engine, result.ticket)["subject"] == parsed.subject
    (ack,) = outgoing(services, "ack")
    assert "Facture" in str(ack["Subject"])
    assert list(ack.keys()).count("Subject") == 1


def test_8bit_subject_cannot_add_a_header():
    """A UTF-8 line separator, NEL and CR/LF-looking text inside raw 8-bit bytes stay
    inside the one-line subject."""
    subject = "Problème\u2028Bcc: evil@x.example\u0085X-Evil: 1".encode()
    raw = b"From: alice@acme.ch\r\nTo: support@help.example\r\nSubject: " + subject + b"\r\n\r\nx"
    parsed = parse(raw)
    assert parsed.subject == "Problème Bcc: evil@x.example X-Evil: 1"
