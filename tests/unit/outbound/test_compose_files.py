"""Files in composed mail: inline images in a multipart/related beside the HTML, with
their Content-IDs; a Content-ID that is not safe makes the image a plain attachment."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

import pytest

from maildesk.outbound.compose import File, Headers, compose, content_id
from maildesk.outbound.render import Rendered

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.4\n" + bytes(range(256))
HEADERS = Headers(
    "SUP-1",
    "Desk",
    "support@help.example",
    "",
    "luc@help.example",
    "support@help.example",
    "<SUP-1.abcdefghij.0123456789abcdef0123@help.example>",
)
RENDERED = Rendered("Nouvelle demande", "texte", '<p><img src="cid:img1@x"></p>', "fr")


def parse(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


def test_inline_image_sits_beside_the_html_with_its_content_id():
    raw = compose(
        RENDERED,
        HEADERS,
        NOW,
        [File("a.png", "image/png", PNG, "<img1@x>"), File("j.pdf", "application/pdf", PDF)],
    )
    mail = parse(raw)
    assert mail.get_content_type() == "multipart/mixed"
    related, attachment = mail.get_payload()
    assert related.get_content_type() == "multipart/related"
    alternative, image = related.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    assert (image["Content-ID"], image.get_content_disposition()) == ("<img1@x>", "inline")
    assert image.get_payload(decode=True) == PNG
    assert attachment.get_filename() == "j.pdf"
    assert attachment.get_payload(decode=True) == PDF


@pytest.mark.parametrize("cid", ["<a b@x>", "<a@x>\r\nBcc: eve@x.example", "<>", '<a"@x>'])
def test_an_unsafe_content_id_makes_a_plain_attachment(cid: str):
    assert content_id(cid) == ""
    raw = compose(RENDERED, HEADERS, NOW, [File("a.png", "image/png", PNG, cid)])
    mail = parse(raw)
    assert "Bcc" not in mail
    (_, image) = mail.get_payload()
    assert image["Content-ID"] is None
    assert image.get_content_disposition() == "attachment"
    assert image.get_payload(decode=True) == PNG
