"""F82–F85: hostile attachment names, lying types, too many attachments."""

from __future__ import annotations

import os
from email.message import EmailMessage

import pytest

from maildesk.inbound.parse import display_filename, parse
from tests.hostile.support import ingest, show, sqlite_desk


@pytest.fixture
def desk(tmp_path):
    built = sqlite_desk(tmp_path)
    yield built
    built.engine.dispose()


def _with_attachments(names: list[str], ctype: str = "application/pdf") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"] = "alice@acme.ch", "support@help.example"
    msg["Subject"] = "Transmission SwissDec refusée, pièces jointes"
    msg.set_content("Voir les pièces jointes.")
    maintype, subtype = ctype.split("/")
    for i, name in enumerate(names):
        msg.add_attachment(f"part {i}".encode(), maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


TRAVERSAL = ["../../etc/passwd", "..\\..\\win.ini", "/etc/cron.d/x"]


def test_f082_no_file_is_written_from_an_attachment_name(desk, tmp_path):
    before = set(os.listdir(tmp_path))
    assert ingest(desk, _with_attachments(TRAVERSAL)).outcome == "created"
    names = [a["filename"] for a in show(desk, "SUP-1")["messages"][0]["attachments"]]
    assert len(names) == 3
    assert set(os.listdir(tmp_path)) <= before | {"outbox"}
    assert not os.path.exists("/etc/cron.d/x")


def test_f082_display_names_lose_path_separators(desk):
    ingest(desk, _with_attachments(TRAVERSAL))
    names = [a["filename"] for a in show(desk, "SUP-1")["messages"][0]["attachments"]]
    assert names == ["passwd", "win.ini", "x"]


def test_f082_rfc2231_encoded_traversal_loses_its_path():
    raw = (
        b"From: alice@acme.ch\r\nTo: support@help.example\r\nSubject: s\r\n"
        b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain"
        b"\r\n\r\nvoir\r\n--B\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=UTF-8''..%2F..%2Fx\r\n\r\npdf\r\n"
        b"--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
        b'filename="../.."\r\n\r\npdf\r\n--B--\r\n'
    )
    assert [a.filename for a in parse(raw).attachments] == ["x", "(unnamed)"]


def test_f083_empty_and_control_names_do_not_affect_the_others(desk):
    assert ingest(desk, _with_attachments(["", "a.pdf\x00.exe", "ok.pdf"])).outcome == "created"
    names = [a["filename"] for a in show(desk, "SUP-1")["messages"][0]["attachments"]]
    assert names == ["(unnamed)", "a.pdf.exe", "ok.pdf"]


def test_f083_bidi_controls_stripped_and_names_capped_in_bytes(desk):
    ingest(desk, _with_attachments(["invoice\u202efdp.exe", "é" * 10_000, "a\u2066b\u200b.pdf"]))
    names = [a["filename"] for a in show(desk, "SUP-1")["messages"][0]["attachments"]]
    assert names[0] == "invoicefdp.exe"
    assert names[1] == "é" * 127  # 254 bytes: the next "é" would make 256
    assert names[2] == "ab.pdf"


def test_f083_a_capped_name_keeps_its_extension():
    name = display_filename("x" * 300 + ".exe")
    assert len(name.encode()) == 255
    assert name.endswith("x.exe")


def test_f084_executable_declared_as_png_is_not_shown_as_an_image(desk):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "alice@acme.ch", "support@help.example", "Capture"
    msg.set_content("Capture d'écran jointe.")
    msg.add_attachment(
        b"MZ\x90\x00" + b"\x00" * 5000, maintype="image", subtype="png", filename="screen.png"
    )
    [parsed] = parse(msg.as_bytes()).attachments
    assert (parsed.declared_type, parsed.sniffed_type) == ("image/png", PE)
    ingest(desk, msg.as_bytes())
    [a] = show(desk, "SUP-1")["messages"][0]["attachments"]
    assert a["content_type"] == PE


PE = "application/vnd.microsoft.portable-executable"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


@pytest.mark.parametrize(
    ("declared", "payload", "sniffed", "presented"),
    [
        ("image/png", PNG, "image/png", "image/png"),
        ("image/jpeg", PNG, "image/png", "image/jpeg"),  # both images: the declared one
        ("application/octet-stream", PNG, "image/png", "image/png"),
        ("image/png", b"%PDF-1.7\n", "application/pdf", "application/pdf"),
        (
            "application/pdf",
            b"\x7fELF\x02\x01",
            "application/x-executable",
            "application/x-executable",
        ),
        (DOCX, b"PK\x03\x04rest", "application/zip", DOCX),
        ("text/plain", b"MZ is a text, not a program", "", "text/plain"),
        ("application/pdf", b"just text", "", "application/pdf"),
    ],
)
def test_f084_sniffed_type_is_recorded_beside_the_declared_one(
    declared, payload, sniffed, presented
):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "alice@acme.ch", "support@help.example", "Fichier"
    msg.set_content("Fichier joint.")
    maintype, subtype = declared.split("/")
    msg.add_attachment(payload, maintype=maintype, subtype=subtype, filename="f")
    [a] = parse(msg.as_bytes()).attachments
    assert (a.declared_type, a.sniffed_type, a.content_type) == (declared, sniffed, presented)


def test_f085_five_hundred_attachments_are_refused_whole(desk):
    result = ingest(desk, _with_attachments([f"f{i}.pdf" for i in range(500)]))
    assert result.outcome == "quarantined"
