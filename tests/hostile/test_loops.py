"""F54–F66: automatic mail, bounces, our own mail coming back, and auto-reply storms."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from maildesk.daemon.app import build
from maildesk.desk.lifecycle import Change
from maildesk.store import reports as report
from maildesk.store.edits import change
from tests.conftest import NOW, make_config
from tests.hostile.support import (
    ingest,
    outbox_count,
    outbox_to,
    raw_mail,
    show,
    spool_rows,
    sqlite_desk,
    ticket_count,
)
from tests.mail import message


@pytest.fixture
def desk(tmp_path):
    built = sqlite_desk(tmp_path)
    yield built
    built.engine.dispose()


def _silent(desk, raw: bytes, **kw) -> None:
    result = ingest(desk, raw, **kw)
    assert (result.outcome, result.ticket) == ("ignored", None), result
    assert ticket_count(desk) == 0
    assert outbox_count(desk) == 0


def test_f055_null_reverse_path_is_never_answered(desk):
    _silent(desk, message(), mail_from="")
    _silent(desk, message(message_id="<rp@a>", headers={"Return-Path": "<>"}))


@pytest.mark.parametrize("value", ["All", "OOF", "OOF, AutoReply"])
def test_f058_auto_response_suppress_marks_automatic_mail(desk, value):
    _silent(desk, message(headers={"X-Auto-Response-Suppress": value}))


@pytest.mark.parametrize(
    "header",
    [
        ("Precedence", "bulk"),
        ("Precedence", "junk"),
        ("Precedence", "list"),
        ("List-Id", "Acme news <news.acme.ch>"),
        ("List-Unsubscribe", "<mailto:leave@news.acme.ch>"),
    ],
)
def test_f059_bulk_and_list_mail_gets_no_acknowledgement(desk, header):
    _silent(desk, message(headers=dict([header])))


def test_f060_our_own_notification_coming_back_changes_nothing(desk):
    # Decided differently: kept in the spool as `ignored` (reason own), not quarantined.
    assert ingest(desk, message()).ticket == "SUP-1"
    desk.sender.flush(NOW)
    [ack] = [r for r in report.list_outbox(desk.engine) if r["template"] == "ack"]
    with desk.engine.connect() as conn:
        from sqlalchemy import select

        from maildesk.store.models import outbox

        raw = conn.execute(select(outbox.c.raw).where(outbox.c.id == ack["id"])).scalar_one()
    before = show(desk, "SUP-1")
    result = ingest(desk, raw, now=NOW + timedelta(minutes=1))
    assert result.outcome == "ignored"
    assert "own" in (result.reason or "")
    after = show(desk, "SUP-1")
    assert (after["status"], after["events"]) == (before["status"], before["events"])
    assert outbox_count(desk) == 3  # the ack and two staff notices, nothing more


@pytest.mark.parametrize("local", ["mailer-daemon", "postmaster"])
def test_f061_daemon_senders_get_no_reply(desk, local):
    _silent(desk, message(sender=f"{local}@mx.acme.ch"))


@pytest.mark.parametrize("local", ["noreply", "no-reply", "root", "abuse"])
def test_f061_no_reply_style_senders_get_no_reply(desk, local):
    ingest(desk, message(sender=f"{local}@robot.example"))
    assert [
        r
        for r in __import__("maildesk.store.reports").store.reports.list_outbox(desk.engine)
        if r["recipient"] == f"{local}@robot.example"
    ] == []


ROBOT = "robot@robot.example"


@pytest.fixture
def any_desk(db_url, tmp_path):
    """A desk on SQLite and on PostgreSQL: the cap is a count over the tickets table."""
    built = build(make_config(db_url, tmp_path))
    yield built
    built.engine.dispose()


def _robot(desk, n: int, now):
    raw = message(sender=ROBOT, subject=f"Ticket {n} export", message_id=f"<r{n}@r>")
    return ingest(desk, raw, now=now)


def _flood(desk, count: int) -> list:
    return [_robot(desk, n, NOW + timedelta(seconds=n)) for n in range(count)]


def test_f063_new_ticket_cap_per_sender(any_desk):
    desk = any_desk
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger("maildesk.worker")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        results = _flood(desk, 20)
        sent_before = outbox_count(desk)
        results += [_robot(desk, n, NOW + timedelta(seconds=n)) for n in range(20, 30)]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)

    assert [r.outcome for r in results] == ["created"] * 20 + ["appended"] * 10
    assert ticket_count(desk) == 20
    assert {r.ticket for r in results[20:]} == {"SUP-20"}
    # Nothing is lost: every capped mail is on the newest ticket, flagged by an event.
    shown = show(desk, "SUP-20")
    assert [m["message_id"] for m in shown["messages"]] == [f"<r{n}@r>" for n in range(19, 30)]
    flagged = [e for e in shown["events"] if e["kind"] == "new-ticket-cap"]
    assert len(flagged) == 10
    assert shown["status"] == "new"
    # Nobody is mailed about the capped ones: no acknowledgement, no staff notice.
    assert outbox_count(desk) == sent_before
    assert len(outbox_to(desk, ROBOT)) <= desk.config.outbound.auto_replies_per_hour
    # The decision is in the trace and in one log line.
    [capped] = [d for d in report.trace(desk.engine, "<r25@r>") if d["step"] == "decide"]
    assert capped["action"] == "new-ticket-cap"
    assert "opened 20 tickets in the last hour (limit 20)" in capped["reason"]
    [logged] = [line for line in lines if "<r25@r>" in line]
    assert "action=appended" in logged
    assert "new-ticket cap" in logged


def test_f063_cap_is_per_sender_and_per_hour(any_desk):
    desk = any_desk
    _flood(desk, 21)
    assert ticket_count(desk) == 20
    other = ingest(desk, message(message_id="<alice@a>"), now=NOW + timedelta(seconds=30))
    assert (other.outcome, other.ticket) == ("created", "SUP-21")
    # An hour after the first tickets, the robot's window has room again.
    later = _robot(desk, 99, NOW + timedelta(hours=1, seconds=20))
    assert (later.outcome, later.ticket) == ("created", "SUP-22")


def test_f063_past_the_cap_with_every_ticket_closed_keeps_the_mail_in_the_spool(tmp_path):
    desk = sqlite_desk(tmp_path, processing={"new_tickets_per_sender_per_hour": 2})
    try:
        _flood(desk, 2)
        for key in ("SUP-1", "SUP-2"):
            change(desk, key, Change(status="closed", notify_customer=False), None, NOW)
        sent = outbox_count(desk)
        result = _robot(desk, 2, NOW + timedelta(minutes=1))
        assert (result.outcome, result.ticket) == ("ignored", None)
        assert "new-ticket cap" in result.reason
        assert "kept in the spool" in result.reason
        assert (ticket_count(desk), spool_rows(desk), outbox_count(desk)) == (2, 3, sent)
        assert [show(desk, k)["status"] for k in ("SUP-1", "SUP-2")] == ["closed", "closed"]
    finally:
        desk.engine.dispose()


def test_f063_zero_means_no_cap(tmp_path):
    desk = sqlite_desk(tmp_path, processing={"new_tickets_per_sender_per_hour": 0})
    try:
        assert {r.outcome for r in _flood(desk, 22)} == {"created"}
        assert ticket_count(desk) == 22
    finally:
        desk.engine.dispose()


def test_f064_sixty_hops_is_a_loop(desk):
    # Decided differently: `ignored` with reason hop-count>50, not a quarantine row.
    hops = "\r\n".join(f"Received: from h{i}.example by h{i + 1}.example" for i in range(60))
    raw = raw_mail(hops + "\r\nFrom: alice@acme.ch\r\nTo: support@help.example\r\nSubject: x")
    result = ingest(desk, raw)
    assert "hop-count>50" in (result.reason or "")
    _silent(desk, raw)


def test_f065_read_receipt_is_not_answered(desk):
    body = (
        "--B\r\nContent-Type: text/plain\r\n\r\nLu.\r\n--B\r\n"
        "Content-Type: message/disposition-notification\r\n\r\n"
        "Disposition: manual-action/MDN-sent-manually; displayed\r\n--B--\r\n"
    )
    raw = raw_mail(
        "From: alice@acme.ch\r\nTo: support@help.example\r\nSubject: Lu : demande\r\n"
        "Content-Type: multipart/report; report-type=disposition-notification; boundary=B",
        body,
    )
    _silent(desk, raw)


def test_f066_mail_from_ourselves_opens_nothing(desk):
    _silent(desk, message(sender="Support <support@help.example>"))
    _silent(desk, message(sender="consulting@help.example", message_id="<own2@h>"))
