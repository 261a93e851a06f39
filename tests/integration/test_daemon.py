"""`maildesk run` as a real process: mail over SMTP becomes tickets; SIGKILL loses nothing."""

from __future__ import annotations

import signal
import smtplib
import threading

import pytest
from sqlalchemy import create_engine, func, select

from maildesk.store.models import inbound, messages, tickets
from tests.integration.daemon import Daemon, wait_for, write_config
from tests.mail import message

pytestmark = pytest.mark.slow


def _send(port: int, raw: bytes) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=15) as smtp:
        smtp.sendmail("alice@acme.ch", ["support@help.example"], raw)
    return 250


def test_mail_becomes_tickets_and_replies_thread(db_url, tmp_path):
    path, port = write_config(tmp_path, db_url)
    daemon = Daemon(path, port, tmp_path / "daemon.log").start()
    try:
        _send(port, message(message_id="<first@acme.ch>"))
        _send(
            port,
            message(
                subject="RE: [SUP-1] Erreur",
                message_id="<second@acme.ch>",
                in_reply_to="<first@acme.ch>",
                body="Voici la version 12.4",
            ),
        )
        engine = create_engine(db_url)
        done = wait_for(lambda: _count(engine, messages) == 2)
        assert done
        with engine.connect() as conn:
            keys = conn.execute(select(tickets.c.key)).scalars().all()
        assert keys == ["SUP-1"]
        engine.dispose()
    finally:
        assert daemon.stop() == 0, daemon.log()
    log = daemon.log()
    assert "ticket=SUP-1 msgid=<second@acme.ch>" in log
    assert "action=appended" in log


def test_sigkill_loses_nothing_that_was_answered_250(db_url, tmp_path):
    path, port = write_config(tmp_path, db_url)
    daemon = Daemon(path, port, tmp_path / "daemon.log").start()
    accepted: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def sender(worker: int) -> None:
        for i in range(200):
            if stop.is_set():
                return
            mid = f"<w{worker}-{i}@acme.ch>"
            try:
                _send(
                    port,
                    message(
                        subject=f"Erreur de calcul du salaire {worker}-{i}",
                        message_id=mid,
                        # one address each: a single sender is capped at 20 new tickets/hour
                        sender=f"Client {worker}-{i} <c{worker}-{i}@acme.ch>",
                    ),
                )
            except (OSError, smtplib.SMTPException):
                return  # the daemon died mid-conversation: no 250, the sender keeps it
            with lock:
                accepted.append(mid)

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: len(accepted) >= 40, timeout=60, interval=0.01)
    daemon.stop(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(30)
    assert len(accepted) >= 40

    engine = create_engine(db_url)
    with engine.connect() as conn:
        raws = conn.execute(select(inbound.c.raw)).scalars().all()
    stored = {mid for mid in accepted if any(mid.encode() in raw for raw in raws)}
    assert stored == set(accepted), "a message answered 250 is missing from the spool"

    # After a restart every accepted message ends on exactly one ticket.
    restarted = Daemon(path, port, tmp_path / "daemon2.log").start()
    try:
        wait_for(lambda: _pending(engine) == 0, timeout=120)
        with engine.connect() as conn:
            ids = conn.execute(select(messages.c.message_id)).scalars().all()
        assert set(accepted) <= set(ids)
        assert len(ids) == len(set(ids)), "a message was stored twice"
        assert _count(engine, tickets) == len(ids)
    finally:
        restarted.stop()
        engine.dispose()


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _pending(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(inbound).where(inbound.c.status == "received")
        ).scalar_one()
