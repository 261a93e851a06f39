"""The real SMTP listener over a socket: 250 only after commit, 550 for strangers, 552, 451."""

from __future__ import annotations

import smtplib
from dataclasses import replace

import pytest
from sqlalchemy import create_engine, select

from maildesk.daemon.app import system_clock
from maildesk.daemon.smtp import IntakeHandler, controller
from maildesk.store.models import inbound
from tests.conftest import free_port
from tests.mail import message


@pytest.fixture
def listener(services):
    cfg = replace(
        services.config,
        smtp=replace(services.config.smtp, port=free_port(), max_message_bytes=200_000),
    )
    stored: list[int] = []
    handler = IntakeHandler(services.engine, cfg, system_clock, on_stored=stored.append)
    ctl = controller(handler, cfg)
    ctl.start()
    yield cfg, stored
    ctl.stop()


def _client(cfg) -> smtplib.SMTP:
    return smtplib.SMTP(cfg.smtp.host, cfg.smtp.port, timeout=10)


def test_accepts_and_commits_before_250(listener, engine):
    cfg, stored = listener
    raw = message()
    with _client(cfg) as smtp:
        smtp.ehlo()
        code, reply = smtp.mail("alice@acme.ch")
        assert code == 250
        assert smtp.rcpt("support@help.example")[0] == 250
        code, reply = smtp.data(raw)
    assert code == 250, reply
    # The reply names the spool row, which is already committed and readable elsewhere.
    inbound_id = int(reply.decode().rsplit(" ", 1)[1])
    assert stored == [inbound_id]
    with engine.connect() as conn:
        row = conn.execute(select(inbound).where(inbound.c.id == inbound_id)).one()
    assert row.status == "received"
    assert row.rcpt_tos == ["support@help.example"]
    assert row.mail_from == "alice@acme.ch"
    assert row.raw.replace(b"\r\n", b"\n").rstrip() == raw.replace(b"\r\n", b"\n").rstrip()


def test_relay_attempt_gets_550(listener, engine):
    cfg, _ = listener
    with _client(cfg) as smtp:
        smtp.ehlo()
        smtp.mail("spammer@evil.example")
        code, reply = smtp.rcpt("victim@elsewhere.example")
        assert code == 550
        assert b"relay" in reply
        code, _ = smtp.rcpt('"support@help.example"@evil.example')
        assert code == 550
    with engine.connect() as conn:
        assert conn.execute(select(inbound.c.id)).first() is None


def test_size_limit_advertised_and_enforced(listener):
    cfg, stored = listener
    with _client(cfg) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("size")
        assert int(smtp.esmtp_features["size"]) == 200_000
        with pytest.raises(smtplib.SMTPSenderRefused) as err:
            smtp.sendmail("alice@acme.ch", ["support@help.example"], message(body="x" * 250_000))
        assert err.value.smtp_code == 552
    assert stored == []


def test_storage_fault_answers_451_without_detail(listener, services, tmp_path):
    cfg, _ = listener
    # A real fault: the handler's database has no spool table.
    broken = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    handler = IntakeHandler(broken, cfg, system_clock)
    port = free_port()
    ctl = controller(handler, replace(cfg, smtp=replace(cfg.smtp, port=port)))
    ctl.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.ehlo()
            smtp.mail("alice@acme.ch")
            smtp.rcpt("support@help.example")
            code, reply = smtp.data(message())
    finally:
        ctl.stop()
        broken.dispose()
    assert code == 451
    assert b"inbound" not in reply
    assert b"sqlite" not in reply.lower()
