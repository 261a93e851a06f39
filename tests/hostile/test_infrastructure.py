"""F90–F110: crashes, IMAP faults on a real Dovecot, shutdown, the scheduler's races."""

from __future__ import annotations

import smtplib
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from maildesk.daemon.app import system_clock
from maildesk.daemon.imap import Mailbox
from maildesk.desk.status import WAITING_CUSTOMER
from maildesk.store import reminders
from maildesk.store.models import inbound, tickets
from tests.conftest import NOW, need
from tests.hostile.support import QUEUE, ingest, show, sqlite_desk, ticket_count
from tests.integration import dovecot
from tests.integration.daemon import Daemon, write_config
from tests.mail import message

FOLDER = "HostileIn"  # under desk2, used by these tests only
DONE, HELD = "HostileDone", "HostileHeld"


@pytest.fixture
def box_folders():
    # The server is shared with other test runs: give a busy one a few seconds to greet.
    up = any(dovecot.dovecot_available() or time.sleep(1) for _ in range(5))
    need("Dovecot at 127.0.0.1:10143", up)

    def clean() -> None:
        with dovecot.client("desk2") as imap:
            for name in (FOLDER, DONE, HELD):
                if imap.folder_exists(name):
                    imap.delete_folder(name)

    clean()
    with dovecot.client("desk2") as imap:
        imap.create_folder(FOLDER)
    yield
    clean()


def _box(services) -> Mailbox:
    account = dovecot.account("desk2", folder=FOLDER, processed_folder=DONE, quarantine_folder=HELD)
    box = Mailbox(account, services, system_clock)
    box.connect()
    return box


@pytest.mark.usefixtures("box_folders")
def test_f090_large_backlog_is_taken_one_committed_message_at_a_time(tmp_path):
    desk = sqlite_desk(tmp_path)
    with dovecot.client("desk2") as imap:
        for n in range(60):
            imap.append(
                FOLDER,
                message(
                    subject=f"Erreur export salaire {n}",
                    message_id=f"<b{n}@a>",
                    sender=f"Client {n} <c{n}@acme.ch>",  # one sender opens 20 tickets/hour
                ),
            )
    box = _box(desk)
    try:
        handled = box.catch_up()
    finally:
        box.close()
    assert len(handled) == 60
    assert ticket_count(desk) == 60
    assert len(dovecot.messages("desk2", DONE)) == 60


@pytest.mark.usefixtures("box_folders")
def test_f097_message_expunged_by_another_client_is_skipped(tmp_path):
    desk = sqlite_desk(tmp_path)
    dovecot.append("desk2", message(message_id="<gone@a>"), FOLDER)
    dovecot.append("desk2", message(message_id="<stays@a>", subject="Erreur SwissDec 2"), FOLDER)
    box = _box(desk)
    try:
        uids = sorted(box.client.search(["NOT", "DELETED"]))
        with dovecot.client("desk2") as other:
            other.select_folder(FOLDER)
            other.delete_messages([uids[0]])
            other.expunge()
        handled = [box._handle(uid) for uid in uids]
    finally:
        box.close()
    assert handled[0].outcome == "vanished"
    assert handled[1].outcome == "created"
    assert ticket_count(desk) == 1


@pytest.mark.usefixtures("box_folders")
def test_f098_recreated_mailbox_gives_no_duplicate_ticket(tmp_path):
    desk = sqlite_desk(tmp_path)
    raw = message()
    dovecot.append("desk2", raw, FOLDER)
    box = _box(desk)
    try:
        box.catch_up()
    finally:
        box.close()
    with dovecot.client("desk2") as imap:
        imap.delete_folder(FOLDER)
        imap.create_folder(FOLDER)
        imap.append(FOLDER, raw)  # the same mail, new UIDVALIDITY
    box = _box(desk)
    try:
        [again] = box.catch_up()
    finally:
        box.close()
    assert again.outcome == "duplicate"
    assert ticket_count(desk) == 1
    assert len(dovecot.messages("desk2", DONE)) == 2  # nothing deleted that was not stored


def test_f099_idle_is_renewed_well_before_nat_timeouts():
    assert dovecot.account("desk2").idle_renew_seconds <= 29 * 60


def test_f106_process_killing_message_is_quarantined_and_others_go_on(tmp_path):
    # A message that kills the worker process itself, three times over (os._exit).
    desk = sqlite_desk(tmp_path)
    from maildesk.store.spool import store

    store(
        desk.engine, message(message_id="<killer@a>"), source="ingest", now=NOW, rcpt_tos=(QUEUE,)
    )
    store(
        desk.engine,
        message(message_id="<fine@a>", subject="Erreur SwissDec fine"),
        source="ingest",
        now=NOW,
        rcpt_tos=(QUEUE,),
    )
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(Path.cwd())!r})
        from datetime import timedelta
        from pathlib import Path
        from maildesk.inbound import decide, pipeline
        from tests.conftest import NOW
        from tests.hostile.support import sqlite_desk
        def killer(draft, ctx):
            if draft.parsed.message_id == "<killer@a>":
                os._exit(9)
            return decide.decide(draft, ctx)
        pipeline.STEPS = tuple(killer if s is decide.decide else s for s in pipeline.STEPS)
        desk = sqlite_desk(Path({str(tmp_path)!r}))
        desk.worker.process_due(NOW + timedelta(minutes=int(sys.argv[1])))
        """
    )
    for run in range(4):
        subprocess.run([sys.executable, "-c", script, str(run * 2)], timeout=60, check=False)
    with desk.engine.connect() as conn:
        rows = dict(conn.execute(select(inbound.c.message_id, inbound.c.status)).all())
        killer = conn.execute(
            select(inbound.c.status, inbound.c.attempts).where(inbound.c.id == 1)
        ).one()
    assert ticket_count(desk) == 1  # the other message was not blocked
    assert killer.status == "quarantined", (killer, rows)


def test_f107_sigterm_under_load_loses_nothing_and_exits(tmp_path):
    url = f"sqlite:///{tmp_path / 'd.db'}"
    path, port = write_config(tmp_path, url)
    daemon = Daemon(path, port, tmp_path / "d.log").start()
    accepted = []
    for n in range(10):
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.sendmail("alice@acme.ch", [QUEUE], message(message_id=f"<t{n}@a>"))
            accepted.append(f"<t{n}@a>")
    started = time.monotonic()
    assert daemon.stop() == 0
    assert time.monotonic() - started < 30
    with pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", port, timeout=2)
    engine = create_engine(url)
    with engine.connect() as conn:
        raws = conn.execute(select(inbound.c.raw)).scalars().all()
    engine.dispose()
    assert all(any(m.encode() in r for r in raws) for m in accepted)
    assert len(raws) == len(accepted)


def test_f110_customer_reply_wins_over_auto_close(services):
    assert ingest(services, message()).ticket == "SUP-1"
    assert ingest(services, message(message_id="<r2@a>", subject="Erreur export 2")).ticket
    with services.engine.begin() as conn:
        conn.execute(
            tickets.update().values(status=WAITING_CUSTOMER, waiting_since=NOW, reminders_sent=2)
        )
    later = NOW + timedelta(days=21)
    token = services.ids.make("SUP-1", "help.example")
    reply = message(message_id="<late@acme.ch>", in_reply_to=token, subject="Re: toujours")
    assert ingest(services, reply, now=later).outcome == "appended"
    reminders.run(services.engine, services.config, services.notifier, later)
    assert show(services, "SUP-1")["status"] == "in_progress"
    assert show(services, "SUP-2")["status"] == "closed"  # the one nobody answered
