"""F1–F20: the SMTP listener at protocol level, over a real socket and both databases."""

from __future__ import annotations

import logging
import smtplib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, event, select, text

from maildesk.daemon.app import build, system_clock
from maildesk.daemon.smtp import IntakeHandler, controller
from maildesk.store import db
from maildesk.store.models import inbound
from tests.conftest import NOW, free_port
from tests.hostile.support import (
    QUEUE,
    Dialogue,
    count,
    listener,
    outbox_to,
    spool,
    spool_rows,
    sqlite_desk,
    ticket_count,
)
from tests.mail import message


def _rcpt(port: int, address: str) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("alice@acme.ch")
        return smtp.rcpt(address)


def test_f001_relay_attempt_is_refused_and_nothing_stored(services):
    with listener(services) as cfg:
        code, reply = _rcpt(cfg.smtp.port, "victim@other.example")
    assert code == 550
    assert b"relay" in reply
    assert spool_rows(services) == 0


@pytest.mark.parametrize("address", ["x@evilhelp.example", "support@help.example.evil.example"])
def test_f002_suffix_of_our_domain_is_not_our_domain(tmp_path, address):
    with listener(sqlite_desk(tmp_path)) as cfg:
        assert _rcpt(cfg.smtp.port, address)[0] == 550


@pytest.mark.parametrize(
    "address",
    ["victim%evil.example@help.example", "@relay.example:x@help.example", "a!b@help.example"],
)
def test_f003_percent_hack_source_route_and_bang_are_refused(tmp_path, address):
    desk = sqlite_desk(tmp_path)
    with listener(desk) as cfg:
        code, _reply = _rcpt(cfg.smtp.port, address)
    assert code in (550, 553)  # 553: the source route is refused as bad syntax already
    assert spool_rows(desk) == 0


def test_f004_recipient_case_is_ignored_and_stored_canonical(services):
    with listener(services) as cfg, smtplib.SMTP("127.0.0.1", cfg.smtp.port) as smtp:
        smtp.sendmail("alice@acme.ch", ["SUPPORT@Help.Example"], message())
    with services.engine.connect() as conn:
        assert conn.execute(select(inbound.c.rcpt_tos)).scalar_one() == [QUEUE]


def test_f004_trailing_dot_of_the_domain_is_refused_as_syntax(services):
    # Decided differently: aiosmtpd's own address parser refuses the trailing root dot with
    # 553 before maildesk sees it (the sender gets a clear permanent error; an MTA in front
    # delivers the canonical form). Nothing is stored.
    with listener(services) as cfg:
        assert _rcpt(cfg.smtp.port, "SUPPORT@Help.Example.")[0] == 553
    assert spool_rows(services) == 0


def test_f005_declared_size_over_the_limit_is_refused_at_mail_from(services):
    with (
        listener(services, max_message_bytes=100_000) as cfg,
        smtplib.SMTP("127.0.0.1", cfg.smtp.port) as smtp,
    ):
        smtp.ehlo()
        code, _ = smtp.mail("alice@acme.ch", ["SIZE=999999999"])
    assert code == 552
    assert spool_rows(services) == 0


def test_f006_undeclared_oversize_data_gets_552_and_no_row(services):
    with listener(services, max_message_bytes=100_000) as cfg:
        talk = Dialogue(cfg.smtp.port)
        talk.envelope()
        talk.send(message(body="x" * 70 + "\n") * 1 + (b"y" * 70 + b"\r\n") * 2000 + b".\r\n")
        reply = talk.reply()
        talk.close()
    assert reply.startswith(b"552")
    assert spool_rows(services) == 0


def test_f007_overlong_line_is_refused_whole_and_no_row(tmp_path):
    # Decision: refused (500, RFC 5321 §4.5.3.1.6), never silently cut; behind an MTA
    # the relay folds long lines, so only a sloppy direct sender sees this.
    desk = sqlite_desk(tmp_path)
    with listener(desk) as cfg:
        talk = Dialogue(cfg.smtp.port)
        talk.envelope()
        talk.send(b"Subject: long\r\n\r\n" + b"a" * 1500 + b"\r\n.\r\n")
        reply = talk.reply()
        talk.close()
    assert reply.startswith(b"500")
    assert spool_rows(desk) == 0


SMUGGLED = (
    b"MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<support@help.example>\r\nDATA\r\n"
    b"From: ceo@bank.example\r\nSubject: smuggled\r\n\r\nPay now.\r\n"
)


@pytest.mark.parametrize(
    "end", [b"\n.\n", b"\r\n.\r", b"\r.\r\n", b"\n.\r\n", b"\r\n\x00.\r\n"], ids=repr
)
def test_f008_f009_smuggled_end_of_data_never_makes_a_second_message(services, end):
    with listener(services) as cfg:
        talk = Dialogue(cfg.smtp.port)
        talk.envelope()
        talk.send(b"From: alice@acme.ch\r\nSubject: first\r\n\r\nfirst" + end + SMUGGLED)
        talk.send(b"\r\n.\r\n")
        first = talk.reply()
        after = talk.command(b"QUIT")
        talk.close()
    assert first.startswith(b"250")
    assert after.startswith(b"221")  # the smuggled commands were data, not commands
    with services.engine.connect() as conn:
        raws = conn.execute(select(inbound.c.raw, inbound.c.mail_from)).all()
    assert len(raws) == 1
    assert raws[0].mail_from == "alice@acme.ch"


def test_f010_no_starttls_so_nothing_pipelined_crosses_a_handshake(tmp_path):
    # The listener offers no TLS (it sits on loopback behind the MTA that does): STARTTLS
    # is refused and a pipelined RCPT is an ordinary plaintext command, out of sequence.
    desk = sqlite_desk(tmp_path)
    with listener(desk) as cfg:
        talk = Dialogue(cfg.smtp.port)
        assert b"STARTTLS" not in talk.command(b"EHLO client.example").upper()
        talk.send(b"STARTTLS\r\nRCPT TO:<x@help.example>\r\n")
        assert talk.reply().startswith(b"454")
        assert talk.reply().startswith(b"503")
        talk.close()
    assert spool_rows(desk) == 0


def test_f011_thousand_recipients_are_capped(tmp_path):
    desk = sqlite_desk(tmp_path)
    with listener(desk) as cfg, smtplib.SMTP("127.0.0.1", cfg.smtp.port) as smtp:
        smtp.ehlo()
        smtp.mail("alice@acme.ch")
        codes = [smtp.rcpt(QUEUE)[0] for _ in range(150)]
    assert codes[:100] == [250] * 100
    assert set(codes[100:]) == {452}


def test_f012_overlong_command_line_is_refused_and_the_session_goes_on(tmp_path):
    desk = sqlite_desk(tmp_path)
    with listener(desk) as cfg, smtplib.SMTP("127.0.0.1", cfg.smtp.port) as smtp:
        assert smtp.docmd("HELO " + "a" * 4000)[0] == 500
        assert smtp.noop()[0] == 250


def test_f013_idle_client_is_timed_out_within_300_seconds(tmp_path):
    desk = sqlite_desk(tmp_path)
    ctl = controller(IntakeHandler(desk.engine, desk.config, system_clock), desk.config)
    session = ctl.factory()
    assert 0 < session._timeout_duration <= 300


def test_f013_f014_client_vanishing_mid_data_stores_nothing(services):
    with listener(services) as cfg:
        talk = Dialogue(cfg.smtp.port)
        talk.envelope()
        talk.send(b"From: alice@acme.ch\r\nSubject: half\r\n\r\nthe first half only")
        talk.close()
        time.sleep(0.3)
        # The listener still serves the next client.
        assert _rcpt(cfg.smtp.port, QUEUE)[0] == 250
    assert spool_rows(services) == 0


def _banner_from(port: int, source: str) -> tuple[bytes, socket.socket]:
    """Connect from another loopback address (another client) and read the greeting."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    return sock.recv(1024), sock


def _abort(sock: socket.socket) -> None:
    """Vanish without QUIT or FIN: the kernel answers the next packet with a reset."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_f015_excess_parallel_connections_get_421(tmp_path, caplog):
    desk = sqlite_desk(tmp_path)
    per_client = desk.config.smtp.max_connections_per_client
    with caplog.at_level(logging.WARNING, logger="maildesk.smtp"), listener(desk) as cfg:
        talks = [Dialogue(cfg.smtp.port) for _ in range(150)]
        banners = [t.banner for t in talks]
        closed_after_421 = talks[-1].sock.recv(1024)
        other, sock = _banner_from(cfg.smtp.port, "127.0.0.2")  # others are unaffected
        sock.close()
        served = talks[0].command(b"NOOP")  # and so are the connections already open
        for talk in talks:
            talk.close()
    assert per_client == 50
    assert all(b.startswith(b"220") for b in banners[:per_client])
    assert all(b.startswith(b"421 4.7.0") for b in banners[per_client:])
    assert closed_after_421 == b""
    assert other.startswith(b"220")
    assert served.startswith(b"250")
    refusals = [r.getMessage() for r in caplog.records if "refused-connection" in r.getMessage()]
    assert len(refusals) == 1  # 130 refusals, one log line (one per client per minute)
    assert "peer=127.0.0.1" in refusals[0]


def test_f015_connections_are_counted_out_when_clients_vanish(tmp_path):
    desk = sqlite_desk(tmp_path)
    with listener(desk, max_connections_per_client=3) as cfg:
        held = [Dialogue(cfg.smtp.port) for _ in range(3)]
        assert _greeting(cfg.smtp.port).startswith(b"421")
        _abort(held[0].sock)  # abruptly
        held[1].close()  # a plain close, no QUIT
        assert held[2].command(b"QUIT").startswith(b"221")
        held[2].close()
        again = _three_accepted(cfg.smtp.port)
        assert _greeting(cfg.smtp.port).startswith(b"421")  # the limit still holds
        for talk in again:
            talk.close()


def _greeting(port: int) -> bytes:
    talk = Dialogue(port)
    talk.close()
    return talk.banner


def _three_accepted(port: int, within: float = 10.0) -> list[Dialogue]:
    """Three connections greeted with 220, waiting until the vanished ones are counted out."""
    accepted: list[Dialogue] = []
    deadline = time.monotonic() + within
    while len(accepted) < 3 and time.monotonic() < deadline:
        talk = Dialogue(port)
        if talk.banner.startswith(b"220"):
            accepted.append(talk)
        else:
            talk.close()
            time.sleep(0.05)
    assert len(accepted) == 3, "connections of vanished clients were never counted out"
    return accepted


def test_f015_total_connection_limit_covers_all_clients(tmp_path):
    desk = sqlite_desk(tmp_path)
    with listener(desk, max_connections=4, max_connections_per_client=3) as cfg:
        mine = [Dialogue(cfg.smtp.port) for _ in range(3)]
        greetings = [_banner_from(cfg.smtp.port, f"127.0.0.{n}") for n in (2, 3)]
        for talk in mine:
            talk.close()
        for _greeting, sock in greetings:
            sock.close()
    assert all(t.banner.startswith(b"220") for t in mine)
    assert greetings[0][0].startswith(b"220")
    assert greetings[1][0].startswith(b"421 4.3.2")


def test_f016_handler_fault_answers_451_without_detail(services, tmp_path):
    # The DSN carries a password: a fault must reveal neither it nor the exception.
    broken = create_engine("postgresql+psycopg://maildesk:S3cret-Pw@127.0.0.1:1/nowhere")
    port = free_port()
    from dataclasses import replace

    cfg = replace(services.config, smtp=replace(services.config.smtp, port=port))
    ctl = controller(IntakeHandler(broken, cfg, system_clock), cfg)
    ctl.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.ehlo()
            smtp.mail("alice@acme.ch")
            smtp.rcpt(QUEUE)
            code, reply = smtp.data(message())
    finally:
        ctl.stop()
        broken.dispose()
    assert code == 451
    assert reply.startswith(b"4.3.0")
    for leak in (b"S3cret", b"psycopg", b"Operational", b"127.0.0.1", b"Error"):
        assert leak not in reply


def test_f017_read_only_database_gets_451_and_nothing_half_written(tmp_path):
    desk = sqlite_desk(tmp_path)
    path = tmp_path / "desk.db"
    readonly = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    from dataclasses import replace

    cfg = replace(desk.config, smtp=replace(desk.config.smtp, port=free_port()))
    ctl = controller(IntakeHandler(readonly, cfg, system_clock), cfg)
    ctl.start()
    try:
        with smtplib.SMTP("127.0.0.1", cfg.smtp.port, timeout=10) as smtp:
            smtp.ehlo()
            smtp.mail("alice@acme.ch")
            smtp.rcpt(QUEUE)
            assert smtp.data(message())[0] == 451
    finally:
        ctl.stop()
        readonly.dispose()
    assert spool_rows(desk) == 0
    with listener(desk) as good, smtplib.SMTP("127.0.0.1", good.smtp.port) as smtp:
        smtp.sendmail("alice@acme.ch", [QUEUE], message())  # writable again: accepted
    assert spool_rows(desk) == 1


def test_f018_auth_before_tls_is_refused_without_checking_credentials(tmp_path):
    desk = sqlite_desk(tmp_path)
    with listener(desk) as cfg, smtplib.SMTP("127.0.0.1", cfg.smtp.port) as smtp:
        smtp.ehlo()
        code, reply = smtp.docmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==")
    assert (code, reply[:6]) == (538, b"5.7.11")


def test_f019_banner_does_not_name_the_software_version(tmp_path):
    import aiosmtpd

    desk = sqlite_desk(tmp_path)
    with listener(desk) as cfg:
        talk = Dialogue(cfg.smtp.port)
        ehlo = talk.command(b"EHLO probe.example")
        talk.close()
    for answer in (talk.banner, ehlo):
        assert aiosmtpd.__version__.encode() not in answer
        assert b"Python" not in answer


def test_f020_resent_data_after_a_lost_250_gives_one_ticket_and_one_ack(services):
    # Decided differently: each delivery keeps its own spool row (both are traceable);
    # processing recognises the copy (outcome `duplicate`), so one ticket, one ack.
    raw = message()
    with listener(services) as cfg:
        for _ in range(2):
            with smtplib.SMTP("127.0.0.1", cfg.smtp.port) as smtp:
                smtp.sendmail("alice@acme.ch", [QUEUE], raw)
    outcomes = services.worker.process_due(NOW)
    assert sorted(r.outcome for r in outcomes) == ["created", "duplicate"]
    assert ticket_count(services) == 1
    assert len(outbox_to(services, "alice@acme.ch")) == 1


def test_f103_locked_sqlite_waits_for_the_writer_then_accepts(tmp_path):
    desk = sqlite_desk(tmp_path)
    blocker = create_engine(f"sqlite:///{tmp_path / 'desk.db'}")
    conn = blocker.connect()
    conn.exec_driver_sql("BEGIN EXCLUSIVE")
    release = threading.Timer(1.5, conn.rollback)
    release.start()
    try:
        with listener(desk) as cfg, smtplib.SMTP("127.0.0.1", cfg.smtp.port, timeout=60) as s:
            started = time.monotonic()
            s.sendmail("alice@acme.ch", [QUEUE], message())
            waited = time.monotonic() - started
    finally:
        release.join()
        conn.close()
        blocker.dispose()
    assert waited >= 1.0  # it waited for the lock instead of failing or answering early
    assert spool_rows(desk) == 1


def test_f104_sqlite_commits_with_synchronous_full(tmp_path):
    desk = sqlite_desk(tmp_path)
    with spool(desk).connect() as conn:
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_intake_connections_keep_a_small_page_cache(tmp_path):
    desk = sqlite_desk(tmp_path)
    with spool(desk).connect() as conn:  # appends only: bounded memory in a long run
        assert conn.execute(text("PRAGMA cache_size")).scalar() == -db.SMALL_CACHE_KIB
    with desk.engine.connect() as conn:  # processing reads: SQLite's default
        assert conn.execute(text("PRAGMA cache_size")).scalar() == -2000
    desk.dispose()
    intake_only = build(desk.config, processes_mail=False)  # the daemon's main process
    try:
        with intake_only.engine.connect() as conn:  # sender, tick: each row read once
            assert conn.execute(text("PRAGMA cache_size")).scalar() == -db.SMALL_CACHE_KIB
    finally:
        intake_only.dispose()


def test_f105_full_disk_answers_451_then_recovers(tmp_path):
    desk = sqlite_desk(tmp_path)
    limit = {"pages": 1}

    intake = spool(desk)

    @event.listens_for(intake, "connect")
    def _cap(dbapi_conn, _record):  # SQLITE_FULL once the file would grow
        dbapi_conn.execute(f"PRAGMA max_page_count={limit['pages']}")

    intake.dispose()
    with intake.connect() as conn:
        used = conn.execute(text("PRAGMA page_count")).scalar()
    limit["pages"] = used
    intake.dispose()
    big = message(body="données du salaire\n" * 20_000).replace(b"\n", b"\r\n")
    with listener(desk) as cfg:
        with smtplib.SMTP("127.0.0.1", cfg.smtp.port) as smtp:
            smtp.ehlo()
            smtp.mail("alice@acme.ch")
            smtp.rcpt(QUEUE)
            assert smtp.data(big)[0] == 451
        assert count(desk, inbound) == 0
        limit["pages"] = 1_000_000
        intake.dispose()
        with smtplib.SMTP("127.0.0.1", cfg.smtp.port) as smtp:
            smtp.sendmail("alice@acme.ch", [QUEUE], big)
    assert spool_rows(desk) == 1


@contextmanager
def _clocked_listener(desk, clock) -> Iterator[int]:
    """The real listener, its time given by `clock` (a sliding window must not slide)."""
    cfg = replace(desk.config, smtp=replace(desk.config.smtp, port=free_port()))
    ctl = controller(IntakeHandler(spool(desk), cfg, clock), cfg)
    ctl.start()
    try:
        yield cfg.smtp.port
    finally:
        ctl.stop()


def _send(smtp: smtplib.SMTP, sender: str, n: int) -> tuple[int, bytes]:
    """One transaction; the reply to MAIL FROM when it is refused, else the reply to DATA."""
    smtp.ehlo_or_helo_if_needed()
    code, reply = smtp.mail(sender)
    if code != 250:
        smtp.rset()
        return code, reply
    smtp.rcpt(QUEUE)
    return smtp.data(message(message_id=f"<f{n}@robot.example>"))


def test_f089_flood_from_one_sender_is_deferred(tmp_path, caplog):
    desk = sqlite_desk(tmp_path)
    limit = desk.config.smtp.messages_per_sender_per_minute
    now = [NOW]
    with (
        caplog.at_level(logging.INFO, logger="maildesk.smtp"),
        _clocked_listener(desk, lambda: now[0]) as port,
        smtplib.SMTP("127.0.0.1", port) as smtp,
    ):
        flood = [_send(smtp, "Flood@Robot.example", n) for n in range(150)]
        other = _send(smtp, "alice@acme.ch", 1000)  # another sender is unaffected
        variant = _send(smtp, "flood@robot.example", 1001)  # the same sender, other case
        now[0] += timedelta(seconds=59)
        still = _send(smtp, "flood@robot.example", 1002)
        now[0] += timedelta(seconds=2)  # the first minute's messages left the window
        later = [_send(smtp, "flood@robot.example", 2000 + n) for n in range(limit + 1)]
    assert limit == 60
    assert [code for code, _ in flood[:limit]] == [250] * limit
    assert {(code, reply[:5]) for code, reply in flood[limit:]} == {(451, b"4.7.1")}
    assert other[0] == 250
    assert (variant[0], still[0]) == (451, 451)
    assert [code for code, _ in later] == [250] * limit + [451]
    assert spool_rows(desk) == 2 * limit + 1  # the deferred ones were never taken
    deferrals = [r.getMessage() for r in caplog.records if "action=deferred" in r.getMessage()]
    # 93 deferrals, two log lines: the first, and the next a window later with the count
    assert len(deferrals) == 2
    assert "sender=flood@robot.example" in deferrals[0]
    assert "unlogged=91" in deferrals[1]


def test_f089_zero_turns_the_sender_rate_off(tmp_path):
    desk = sqlite_desk(tmp_path, smtp={"messages_per_sender_per_minute": 0})
    with (
        _clocked_listener(desk, lambda: NOW) as port,
        smtplib.SMTP("127.0.0.1", port) as smtp,
    ):
        codes = [_send(smtp, "flood@robot.example", n)[0] for n in range(70)]
    assert codes == [250] * 70
