"""F67–F81: notifications over a real relay: header injection, relay faults, crashes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update

from maildesk.addresses import addresses_in, one_line
from maildesk.app import build
from maildesk.models import outbox
from maildesk.outbound import notify
from maildesk.outbound.compose import Headers, compose
from maildesk.outbound.render import Rendered
from tests.conftest import NOW, free_port, make_config
from tests.hostile.support import ingest, outbox_to, show
from tests.integration.sink import Sink
from tests.mail import message


@pytest.fixture
def sink() -> Iterator[Sink]:
    with Sink() as running:
        yield running


@pytest.fixture
def desk(db_url, tmp_path, sink):
    built = build(make_config(db_url, tmp_path, outbound={"host": sink.host, "port": sink.port}))
    yield built
    built.engine.dispose()


@pytest.mark.parametrize(
    "subject",
    [
        "=?utf-8?q?hi=0D=0ABcc=3A_victim=40example=2Ecom?=",
        "=?utf-8?q?hi=0ABcc=3A_victim=40example=2Ecom?=",
    ],
    ids=["encoded-crlf", "encoded-lf"],
)
def test_f067_injected_subject_is_plain_text_in_one_header(desk, sink, subject):
    raw = message(subject="placeholder", sender="Eve <eve@acme.ch>").replace(
        b"Subject: placeholder", b"Subject: " + subject.encode()
    )
    assert ingest(desk, raw).outcome == "created"
    desk.sender.flush(NOW)
    [ack] = sink.to("eve@acme.ch")
    head = ack.raw.split(b"\r\n\r\n", 1)[0].lower()
    assert b"\r\nbcc:" not in head
    assert "hi Bcc: victim@example.com" in str(ack.message["Subject"])
    assert ack.rcpt_tos == ("eve@acme.ch",)


def test_f069_cve_inputs_are_neutralised_on_this_interpreter():
    from email import message_from_string, policy

    msg = message_from_string(
        "From: alice@example.org)<bob@example.org>\n\n", policy=policy.default
    )
    assert addresses_in(msg, "from") == []  # parseaddr would say alice (CVE-2023-27043)
    raw = compose(
        Rendered("hi\nBcc: x@evil.example", "t", "<p>t</p>", "fr"),
        Headers(
            "SUP-1",
            "Desk",
            "support@help.example",
            "Eve\r\nBcc: y@evil.example",
            "eve@acme.ch",
            "support@help.example",
            "<a.b@help.example>",
        ),
        NOW,
    )
    head = raw.split(b"\r\n\r\n", 1)[0].lower()
    assert b"\r\nbcc:" not in head  # CVE-2024-6923 would let the generator write it
    assert one_line("a\r\nb\x00c") == "a b c"


def test_f070_stored_hostile_recipient_is_refused_before_any_smtp(desk, sink):
    ingest(desk, message())
    with desk.engine.begin() as conn:
        conn.execute(
            update(outbox)
            .where(outbox.c.recipient == "alice@acme.ch")
            .values(recipient="a@x.example>\r\nRCPT TO:<evil@evil.example")
        )
    done = desk.sender.flush(NOW)
    assert any(d.status == "dead" and "address" in d.detail for d in done)
    assert not sink.to("evil@evil.example")


def test_f073_one_row_per_recipient_so_a_refusal_touches_only_its_own(desk, sink):
    ingest(desk, message())
    rows = sorted(
        __import__("maildesk.report").report.list_outbox(desk.engine), key=lambda r: r["id"]
    )
    assert len(rows) == 3  # the ack and one notice per consultant
    sink.answer(550)
    first = desk.sender.deliver(rows[0]["id"], NOW)
    sink.answer(250)
    others = desk.sender.flush(NOW)
    assert first.status == "dead"
    assert sorted(d.status for d in others) == ["sent", "sent"]
    assert len(sink.received) == 2


class _Dropper:
    """A relay that reads the whole mail, then hangs up without answering."""

    def __init__(self) -> None:
        self.seen = 0

    async def handle_DATA(self, server, session, envelope):
        self.seen += 1
        server.transport.close()
        await asyncio.sleep(0.1)
        return "250 never heard"


def test_f074_relay_hanging_up_after_the_dot_is_a_temporary_failure(db_url, tmp_path, sink):
    dropper = _Dropper()
    port = free_port()
    relay = Controller(dropper, hostname="127.0.0.1", port=port)
    relay.start()
    try:
        desk = build(make_config(db_url, tmp_path, outbound={"host": "127.0.0.1", "port": port}))
        ingest(desk, message())
        [row] = outbox_to(desk, "alice@acme.ch")
        failed = desk.sender.deliver(row["id"], NOW)
    finally:
        relay.stop()
    assert dropper.seen == 1
    assert failed.status == "failed"
    again = build(make_config(db_url, tmp_path, outbound={"host": sink.host, "port": sink.port}))
    assert again.sender.deliver(row["id"], NOW.replace(hour=23)).status == "sent"
    [mail] = sink.to("alice@acme.ch")
    assert mail.message_id == row["message_id"]  # the same mail, same Message-ID
    desk.engine.dispose()
    again.engine.dispose()


@pytest.mark.xfail(
    strict=True,
    reason="needs code: relay.py has no STARTTLS / require_tls option (config.OutboundConfig)",
)
def test_f075_required_tls_never_falls_back_to_plaintext(db_url, tmp_path, sink):
    desk = build(
        make_config(
            db_url, tmp_path, outbound={"host": sink.host, "port": sink.port, "require_tls": True}
        )
    )
    ingest(desk, message())
    desk.sender.flush(NOW)
    assert sink.received == []


def test_f077_rows_committed_before_a_crash_are_sent_once_after_restart(db_url, tmp_path, sink):
    config = make_config(db_url, tmp_path, outbound={"host": sink.host, "port": sink.port})
    first = build(config)
    ingest(first, message())
    first.engine.dispose()  # the process dies here: committed, nothing sent
    restarted = build(config)
    restarted.sender.flush(NOW)
    restarted.sender.flush(NOW.replace(hour=23))
    assert len(sink.to("alice@acme.ch")) == 1
    assert len(sink.received) == 3
    restarted.engine.dispose()


def test_f079_template_failure_at_send_time_keeps_the_ticket(desk, monkeypatch):
    real = desk.templates.render

    def render(name, lang, context):
        if name == "ack":
            raise RuntimeError("template broke after a deploy")
        return real(name, lang, context)

    monkeypatch.setattr(desk.templates, "render", render)
    result = ingest(desk, message())
    assert result.outcome == "created"
    assert show(desk, "SUP-1")["status"] == "new"
    assert notify is not None
