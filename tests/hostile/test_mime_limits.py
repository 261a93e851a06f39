"""The `mime_limits` guard counts what the parser would build, not bytes (F21, F22, F32, F42).

Sloppy but harmless headers (`text/plain;;;;`, a To of commas, a text quoting
Content-Type lines) are ordinary requests; a real flood is still refused at once with the
reason it always had. Every limit is a `[processing]` key handed to the parser.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from maildesk.inbound.limits import MimeLimits, header_fields, nesting, parameters
from maildesk.inbound.parse import Unprocessable, check_limits, parse
from maildesk.store.models import inbound
from tests.hostile.support import (
    BASIC,
    QUEUE,
    ingest,
    outbox_count,
    outbox_to,
    raw_mail,
    show,
    sqlite_desk,
    ticket_count,
)

PARAMETER_FLOOD = "mime_limits: more than 100 Content-Type parameters"


@pytest.fixture
def desk(tmp_path):
    built = sqlite_desk(tmp_path)
    yield built
    built.engine.dispose()


def _is_a_normal_request(services, raw: bytes, text: str = "la transmission") -> None:
    """A ticket with the mail's text, and an acknowledgement to its sender."""
    result = ingest(services, raw)
    assert (result.outcome, result.ticket) == ("created", "SUP-1"), result.reason
    assert "mime_limits" not in (result.reason or "")
    assert text in show(services, "SUP-1")["messages"][0]["text"]
    assert [row["template"] for row in outbox_to(services, "alice@acme.ch")] == ["ack"]


def _is_refused(services, raw: bytes, reason: str) -> None:
    """Quarantined at once with `reason`, raw bytes kept, no ticket, nobody mailed."""
    result = ingest(services, raw)
    assert result.outcome == "quarantined"
    assert reason in (result.reason or "")
    assert (ticket_count(services), outbox_count(services)) == (0, 0)
    with services.engine.connect() as conn:
        row = conn.execute(select(inbound.c.raw, inbound.c.status)).one()
    assert (row.raw, row.status) == (raw, "quarantined")


@pytest.mark.parametrize("semicolons", [40, 500, 5000])
def test_empty_content_type_parameters_make_a_normal_request(services, semicolons):
    raw = raw_mail(f"{BASIC}\r\nContent-Type: text/plain" + ";" * semicolons)
    assert parse(raw).content_type == "text/plain"
    _is_a_normal_request(services, raw)


def test_150_real_parameters_are_refused_with_the_same_reason_as_before(services):
    flood = "".join(f"; a{i}=x" for i in range(150))
    _is_refused(services, raw_mail(f"{BASIC}\r\nContent-Type: text/plain{flood}"), PARAMETER_FLOOD)


def test_a_flood_hidden_among_empty_parameters_is_still_refused(desk):
    flood = "".join(f";;;; a{i}=x" for i in range(101))
    _is_refused(desk, raw_mail(f"{BASIC}\r\nContent-Type: text/plain{flood}"), PARAMETER_FLOOD)


def test_whitespace_comments_and_folding_count_for_nothing(desk):
    sloppy = "; ; (no value) ;\t;\r\n ; (a) (b) ;" * 60  # 480 separators, not one parameter
    raw = raw_mail(f"{BASIC}\r\nContent-Type: text/plain; charset=utf-8{sloppy}")
    assert parameters(f"text/plain; charset=utf-8{sloppy}".encode()) == 1
    _is_a_normal_request(desk, raw)


def test_semicolons_inside_a_quoted_file_name_split_nothing(desk):
    name = "rapport" + ";" * 150 + "final.pdf"
    part = (
        "--B\r\nContent-Type: text/plain\r\n\r\nBonjour, la transmission échoue.\r\n"
        "--B\r\nContent-Type: application/pdf\r\n"
        f'Content-Disposition: attachment; filename="{name}"\r\n\r\n%PDF-1.4\r\n--B--\r\n'
    )
    raw = raw_mail(f"{BASIC}\r\nContent-Type: multipart/mixed; boundary=B", part)
    _is_a_normal_request(desk, raw)
    [attachment] = show(desk, "SUP-1")["messages"][0]["attachments"]
    assert attachment["filename"] == name


def test_the_parameter_count_follows_the_parsers_split():
    assert parameters(b"text/plain") == 0
    assert parameters(b"text/plain;;;") == 0
    assert parameters(b"text/plain; a=b;; c=d") == 2
    assert parameters(b'x; n="a;b;c"; d=e') == 2  # one quoted value, then d
    assert parameters(b'x; n="a\\";b"; d=e') == 2  # an escaped quote does not close it
    assert parameters(b"x; (comment); format") == 1  # a bare attribute is built
    assert parameters(b"x; f*0*=a; f*1*=b; f*2=c") == 1  # RFC 2231 sections of one name


def test_a_to_of_500_commas_naming_three_mailboxes_is_three(desk):
    commas = "," * 500
    to = f"{commas}{QUEUE},{commas} Bob <bob@acme.ch>,{commas}carol@acme.ch{commas}"
    cc = f"bob@acme.ch,{commas},carol@acme.ch"
    raw = raw_mail(
        f"From: Alice <alice@acme.ch>\r\nTo: {to}\r\nCc: {cc}\r\nSubject: Erreur de calcul"
    )
    parsed = parse(raw)
    assert parsed.to == (("", QUEUE), ("Bob", "bob@acme.ch"), ("", "carol@acme.ch"))
    assert [address for _, address in parsed.cc] == ["bob@acme.ch", "carol@acme.ch"]
    _is_a_normal_request(desk, raw)
    participants = [p["address"] for p in show(desk, "SUP-1")["participants"]]
    assert sorted(participants) == ["alice@acme.ch", "bob@acme.ch", "carol@acme.ch"]


def test_commas_do_not_excuse_another_defect_in_the_list():
    raw = raw_mail("From: Alice <alice@acme.ch>\r\nTo: ,,,a@x.org)<b@y.org>,,,\r\nSubject: s")
    assert parse(raw).to == ()  # CVE-2023-27043 shape: refused whole, commas or not


def test_body_lines_after_a_missing_separator_are_not_header_fields(desk):
    # The parser ends the header at the first line that is no field: what follows is body.
    notes = "\r\n".join(f"Note {i}: la transmission échoue" for i in range(1500))
    raw = f"{BASIC}\r\nMessage-ID: <sep@acme.ch>\r\nla suite :\r\n{notes}\r\n".encode()
    assert header_fields(raw) == 4
    _is_a_normal_request(desk, raw)


def test_continuation_lines_are_part_of_their_field(desk):
    folded = "\r\n ".join(["Dupont"] * 3000)
    assert header_fields(raw_mail(f"{BASIC}\r\nX-Names: {folded}")) == 4
    _is_a_normal_request(desk, raw_mail(f"{BASIC}\r\nX-Names: {folded}"))


def test_1001_header_fields_are_refused_as_before(desk):
    raw = raw_mail(BASIC + "".join(f"\r\nX-Filler-{i}: v" for i in range(998)))
    _is_refused(desk, raw, "mime_limits: more than 1000 header fields")


def test_fields_ending_in_a_bare_cr_are_fields_too(desk):
    # The parser ends a line at a lone CR as well: 1,200 fields are 1,200 fields.
    raw = raw_mail(BASIC + "".join(f"\r\nX-Filler-{i}: v" for i in range(1200))).replace(
        b"\r\n", b"\r"
    )
    assert header_fields(raw) == 1203
    _is_refused(desk, raw, "mime_limits: more than 1000 header fields")


def test_content_type_lines_quoted_in_a_text_are_not_parts(desk):
    log = "\r\n".join(f"Content-Type: text/plain (export {i})" for i in range(1500))
    _is_a_normal_request(desk, raw_mail(BASIC, f"Bonjour, la transmission échoue :\r\n{log}\r\n"))


def test_parts_without_a_content_type_are_still_parts(desk):
    parts = "".join(f"--B\r\n\r\npart {i}\r\n" for i in range(1500))
    raw = raw_mail(f"{BASIC}\r\nContent-Type: multipart/mixed; boundary=B", parts + "--B--\r\n")
    _is_refused(desk, raw, "mime_limits: more than 1000 MIME parts")


def test_sql_comment_lines_are_not_delimiters(desk):
    script = "\r\n".join(f"-- step {i}\r\nUPDATE t SET x = {i};" for i in range(1500))
    _is_a_normal_request(desk, raw_mail(BASIC, f"Bonjour, la transmission échoue :\r\n{script}"))


def _digest(count: int) -> bytes:
    """`count` forwarded mails side by side, each multipart/alternative: depth 3."""
    forwarded = "".join(
        f"--OUT\r\nContent-Type: message/rfc822\r\n\r\nFrom: c{i}@acme.ch\r\nSubject: {i}\r\n"
        f"Content-Type: multipart/alternative; boundary=IN{i}\r\n\r\n"
        f"--IN{i}\r\nContent-Type: text/plain\r\n\r\nmessage {i}\r\n"
        f"--IN{i}\r\nContent-Type: text/html\r\n\r\n<p>message {i}</p>\r\n--IN{i}--\r\n"
        for i in range(count)
    )
    body = "--OUT\r\nContent-Type: text/plain\r\n\r\nBonjour, la transmission échoue.\r\n"
    head = f"{BASIC}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=OUT"
    return raw_mail(head, body + forwarded + "--OUT--\r\n")


def test_sixty_forwarded_mails_side_by_side_are_not_nesting(desk):
    raw = _digest(60)  # 61 boundaries, but never more than two open at once
    assert nesting(raw, {b"OUT"} | {f"IN{i}".encode() for i in range(60)}) == 2
    _is_a_normal_request(desk, raw)


def _nested(depth: int) -> bytes:
    body = "".join(
        f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n" for i in range(depth)
    )
    body += "Content-Type: text/plain\r\n\r\nla transmission\r\n" + "".join(
        f"--b{i}--\r\n" for i in reversed(range(depth))
    )
    return f"{BASIC}\r\nMessage-ID: <deep@acme.ch>\r\nMIME-Version: 1.0\r\n{body}".encode()


def test_nesting_over_fifty_is_refused_as_before(desk):
    _is_refused(desk, _nested(51), "mime_limits: MIME nesting deeper than 50")


@pytest.mark.parametrize(
    ("key", "raw", "reason"),
    [
        (
            "max_content_type_parameters",
            raw_mail(
                f"{BASIC}\r\nContent-Type: text/plain" + "".join(f"; a{i}=x" for i in range(150))
            ),
            PARAMETER_FLOOD,
        ),
        ("max_mime_depth", _nested(60), "mime_limits: MIME nesting deeper than 50"),
        (
            "max_header_fields",
            raw_mail(BASIC + "".join(f"\r\nX-Filler-{i}: v" for i in range(1200))),
            "mime_limits: more than 1000 header fields",
        ),
        (
            "max_mime_parts",
            raw_mail(
                f"{BASIC}\r\nContent-Type: multipart/mixed; boundary=B",
                "".join(
                    f"--B\r\nContent-Type: text/plain\r\n\r\nla transmission {i}\r\n"
                    for i in range(1200)
                )
                + "--B--\r\n",
            ),
            "mime_limits: more than 1000 MIME parts",
        ),
    ],
)
def test_an_admin_can_raise_each_limit(tmp_path, key, raw, reason):
    (tmp_path / "default").mkdir()
    (tmp_path / "raised").mkdir()
    default = sqlite_desk(tmp_path / "default")
    _is_refused(default, raw, reason)
    default.engine.dispose()
    raised = sqlite_desk(
        tmp_path / "raised", processing={key: 2000 if key != "max_mime_depth" else 100}
    )
    _is_a_normal_request(raised, raw)
    raised.engine.dispose()


def test_lowered_limits_reach_the_parser(tmp_path):
    desk = sqlite_desk(tmp_path, processing={"max_attachments": 2, "max_header_fields": 3})
    _is_refused(desk, raw_mail(BASIC + "\r\nX-One: 1"), "mime_limits: more than 3 header fields")
    desk.engine.dispose()
    tight = MimeLimits(attachments=2)
    parts = "".join(
        "--B\r\nContent-Type: application/pdf\r\n"
        f"Content-Disposition:\r\n attachment; filename={i}.pdf\r\n\r\n%PDF\r\n"
        for i in range(3)
    )
    raw = raw_mail(f"{BASIC}\r\nContent-Type: multipart/mixed; boundary=B", parts + "--B--\r\n")
    check_limits(raw)
    with pytest.raises(Unprocessable, match="more than 2 attachments"):
        check_limits(raw, tight)
