"""F86–F88: SQL-looking text, log injection and secrets in logs."""

from __future__ import annotations

import logging
import smtplib

import pytest

from maildesk.store import reports as report
from tests.hostile.support import QUEUE, ingest, show
from tests.mail import message


def test_f086_sql_looking_headers_are_stored_literally(services):
    subject = "'); DROP TABLE tickets;-- %_ SwissDec"
    result = ingest(
        services, message(subject=subject, message_id="<x'OR'1'='1@evil>", sender="a@acme.ch")
    )
    assert result.outcome == "created"
    assert show(services, "SUP-1")["subject"] == subject
    assert show(services, "SUP-1")["messages"][0]["message_id"] == "<x'OR'1'='1@evil>"
    assert report.list_tickets(services.engine, status="%") == []  # no wildcard meaning
    assert len(report.list_tickets(services.engine)) == 1


@pytest.fixture
def captured():
    lines: list[str] = []
    handler = logging.Handler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.emit = lambda record: lines.append(handler.format(record))
    logger = logging.getLogger("maildesk")
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(old)


def test_f087_forged_log_line_and_ansi_stay_one_escaped_line(tmp_path, captured):
    from tests.hostile.support import sqlite_desk

    desk = sqlite_desk(tmp_path)
    evil = "x\r\n2026-01-01 00:00:00 INFO auth: admin login ok \x1b[2J\x1b[31m"
    raw = message(subject="placeholder").replace(
        b"Subject: placeholder", b"Subject: " + evil.encode()
    )
    ingest(desk, raw)
    assert captured
    for line in captured:
        assert "\n" not in line
        assert "\r" not in line
        assert "\x1b" not in line
    assert not any(line.startswith("2026-01-01 00:00:00 INFO auth") for line in captured)


def test_f088_no_secret_in_logs_or_replies_when_the_database_fails(services, captured):
    from dataclasses import replace

    from sqlalchemy import create_engine

    from maildesk.daemon.app import system_clock
    from maildesk.daemon.smtp import IntakeHandler, controller
    from tests.conftest import free_port

    secret = "Hunter2-Secret-Pw"
    broken = create_engine(f"postgresql+psycopg://maildesk:{secret}@127.0.0.1:1/desk")
    cfg = replace(services.config, smtp=replace(services.config.smtp, port=free_port()))
    ctl = controller(IntakeHandler(broken, cfg, system_clock), cfg)
    ctl.start()
    try:
        with smtplib.SMTP("127.0.0.1", cfg.smtp.port, timeout=10) as smtp:
            smtp.ehlo()
            smtp.mail("alice@acme.ch")
            smtp.rcpt(QUEUE)
            code, reply = smtp.data(message())
    finally:
        ctl.stop()
        broken.dispose()
    assert code == 451
    assert any("tempfail" in line for line in captured)
    assert not any(secret in line for line in captured)
    assert secret.encode() not in reply
