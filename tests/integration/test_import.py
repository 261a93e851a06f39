"""`maildesk import`: a mailbox through the live intake and pipeline, resumable, and giving
the tickets message-by-message `ingest` gives. Real processes, real SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import mailbox
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from maildesk import config as config_module
from maildesk.daemon.app import build
from maildesk.store import reports as report
from maildesk.store.models import inbound, messages, outbox, tickets
from maildesk.store.spool import store
from tests.integration.daemon import write_config
from tests.mail import message

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
FIXED_DATE = b"Date: Mon, 02 Mar 2026 09:00:00 +0000"


def dated(raw: bytes, when: datetime) -> bytes:
    assert FIXED_DATE in raw
    return raw.replace(
        FIXED_DATE, b"Date: " + when.strftime("%a, %d %b %Y %H:%M:%S +0000").encode()
    )


def _undated(raw: bytes) -> bytes:
    head, _, rest = raw.partition(b"\nDate: ")
    return head + b"\n" + FIXED_DATE + b"\n" + rest.split(b"\n", 1)[1]


def corpus(requests: int) -> list[tuple[datetime, bytes]]:
    """Requests (some complete, some not), replies that thread by In-Reply-To and by a
    subject tag, a reply that supplies a missing field, an auto-reply, a duplicate and a
    message the parser refuses: (Date, bytes), oldest first."""
    mails: list[tuple[datetime, bytes]] = []
    when = START

    def add(raw: bytes) -> None:
        nonlocal when
        when += timedelta(minutes=7)
        mails.append((when, dated(raw, when)))

    for i in range(requests):
        sender = f"Client {i} <client{i}@firm{i % 5}.ch>"
        complete = i % 2 == 0
        body = "Bonjour,\n\nla transmission SwissDec échoue depuis ce matin.\n\n" + (
            f"Version : 12.4.{i}\nSociété : Firm {i % 5} SA\n"
            f"Téléphone : +41 21 555 12 {i % 90:02d}\n"
            if complete
            else ""
        )
        request_id = f"<req-{i}@firm{i % 5}.ch>"
        add(message(sender=sender, message_id=request_id, body=body))
        if i % 3 == 1:
            add(
                message(
                    subject="RE: Erreur lors de la transmission SwissDec pour M. Dupont",
                    sender=sender,
                    message_id=f"<reply-{i}@firm{i % 5}.ch>",
                    in_reply_to=request_id,
                    body="Voici la version : Version 12.4.7\nSociété : Firm SA\n",
                )
            )
    first = mails[0][1]
    add(message(sender="Client 0 <client0@firm0.ch>", message_id="<req-0@firm0.ch>"))
    mails[-1] = (mails[-1][0], dated(_undated(first), mails[-1][0]))  # the same, again later
    add(
        message(
            subject="RE: [SUP-2] Erreur lors de la transmission SwissDec pour M. Dupont",
            sender="Client 1 <client1@firm1.ch>",
            message_id="<tag-1@firm1.ch>",
            body="Merci, toujours bloqué.\n",
        )
    )
    add(
        message(
            subject="Absence du bureau",
            sender="Client 3 <client3@firm3.ch>",
            message_id="<ooo-3@firm3.ch>",
            in_reply_to="<req-3@firm3.ch>",
            headers={"Auto-Submitted": "auto-replied"},
        )
    )
    refused = message(sender="Client 4 <client4@firm4.ch>", message_id="<many@firm4.ch>")
    add(refused.replace(b"\nSubject:", b"\n" + b"X-Filler: x\n" * 1001 + b"Subject:", 1))
    return mails


def maildir(path: Path, mails: list[tuple[datetime, bytes]]) -> Path:
    box = mailbox.Maildir(str(path), create=True)
    for _, raw in reversed(mails):  # file order says nothing: the Date does
        box.add(raw)
    return path


def run_cli(cfg: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "maildesk", "--config", str(cfg), *args],
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def outcomes_by_message_id(engine) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                inbound.c.id, inbound.c.message_id, inbound.c.outcome, inbound.c.ticket_key
            ).order_by(inbound.c.id)
        ).all()
    return {f"{r.message_id}#{n}": (r.outcome, r.ticket_key) for n, r in enumerate(rows)}


def notifications(engine) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                outbox.c.ticket_id,
                outbox.c.template,
                outbox.c.recipient,
                outbox.c.created_at,
                outbox.c.status,
            ).order_by(outbox.c.id)
        ).all()
    return [tuple(r) for r in rows]


def every_ticket(engine) -> list[dict]:
    with engine.connect() as conn:
        keys = list(conn.execute(select(tickets.c.key).order_by(tickets.c.id)).scalars())
    return [report.show_ticket(engine, key) for key in keys]


@pytest.mark.parametrize("jobs", ["0", "2"])  # read in this process; read ahead by two more
def test_import_gives_the_tickets_message_by_message_ingest_gives(db_url, tmp_path, jobs):
    mails = corpus(24)
    cfg, _ = write_config(tmp_path, db_url)
    box = maildir(tmp_path / "Maildir", mails)

    done = run_cli(cfg, "import", "--json", "--batch", "7", "--jobs", jobs, str(box))
    assert done.returncode == 0, done.stderr.decode()
    lines = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert len(lines) == len(mails)
    summary = done.stderr.decode().strip().splitlines()[-1]
    assert summary.startswith(
        "import done: created 24, appended 9, duplicate 1, ignored 1, quarantined 1;"
    ), summary
    imported = build(config_module.load(str(cfg)), migrate=False)
    imported_tickets = every_ticket(imported.engine)
    imported_outcomes = outcomes_by_message_id(imported.engine)
    imported_notes = notifications(imported.engine)
    imported.dispose()

    # The same corpus, message by message, as `maildesk ingest --now DATE FILE` does it.
    other = tmp_path / "other"
    other.mkdir()
    url = f"sqlite:///{other / 'ingest.db'}" if db_url.startswith("sqlite") else db_url
    if not db_url.startswith("sqlite"):
        _drop_all(db_url)
    services = build(config_module.load(str(write_config(other, url)[0])))
    for when, raw in mails:
        inbound_id = store(services.spool, raw, source="ingest", now=when)
        services.worker.process(inbound_id, when)
    ingested_tickets = every_ticket(services.engine)
    ingested_outcomes = outcomes_by_message_id(services.engine)
    ingested_notes = notifications(services.engine)
    services.dispose()

    assert len(imported_tickets) == 24
    assert imported_tickets == ingested_tickets
    assert imported_outcomes == ingested_outcomes
    # The same notifications, at the same instants: withheld on import, queued by ingest.
    assert {status for *_, status in imported_notes} == {"withheld"}
    assert {status for *_, status in ingested_notes} == {"pending"}
    assert [n[:-1] for n in imported_notes] == [n[:-1] for n in ingested_notes]
    assert {n[1] for n in imported_notes} == {
        "ack",
        "info_received",
        "staff_new_ticket",
        "staff_customer_reply",
    }
    by_key = {t["key"]: t for t in imported_tickets}
    assert by_key["SUP-2"]["messages"][-1]["message_id"] == "<tag-1@firm1.ch>"
    assert by_key["SUP-2"]["fields"]["version"] == "12.4.7"  # supplied by the reply
    assert by_key["SUP-1"]["events"][0]["at"].replace(tzinfo=UTC) == mails[0][0]


def children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found.extend(int(c) for c in task.read_text().split())
    return found


def wait_until(predicate, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.1)


def _drop_all(url: str) -> None:
    from tests.conftest import _reset_pg

    _reset_pg(url)


@pytest.mark.slow
def test_import_killed_halfway_and_run_again_imports_each_message_once(db_url, tmp_path):
    mails = corpus(150)
    cfg, _ = write_config(tmp_path, db_url)
    box = maildir(tmp_path / "Maildir", mails)
    engine = create_engine(db_url)
    processed = select(func.count()).where(inbound.c.status != "received")

    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "maildesk",
            "--config",
            str(cfg),
            "import",
            "--batch",
            "4",
            "--jobs",
            "2",
            str(box),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    helpers: list[int] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and first.poll() is None:
            if len(helpers) < 2:
                helpers = children_of(first.pid)
            try:
                with engine.connect() as conn:
                    if conn.execute(processed).scalar_one() >= len(mails) // 2:
                        break
            except Exception:  # the schema is being created
                pass
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL, first.stderr.read().decode()
    # Its two read-ahead helpers notice and leave: nothing is left running.
    assert len(helpers) == 2
    wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in helpers), 10)
    with engine.connect() as conn:
        before = conn.execute(processed).scalar_one()
        stored = conn.execute(select(func.count()).select_from(inbound)).scalar_one()
    assert len(mails) // 2 <= before < len(mails)
    assert stored < len(mails) or before < stored  # killed with work left to do

    again = run_cli(cfg, "import", "--batch", "4", str(box))
    assert again.returncode == 0, again.stderr.decode()
    assert f"already {before}" in again.stderr.decode()

    with engine.connect() as conn:
        rows = conn.execute(select(inbound.c.source_key, inbound.c.status)).all()
        inbound_ids = conn.execute(
            select(messages.c.message_id, func.count())
            .where(messages.c.direction == "in")
            .group_by(messages.c.message_id)
        ).all()
        ticket_count = conn.execute(select(func.count()).select_from(tickets)).scalar_one()
    engine.dispose()
    assert len(rows) == len(mails)
    assert len({r.source_key for r in rows}) == len(mails)
    assert sorted(r.status for r in rows).count("done") == len(mails) - 1
    assert [r.status for r in rows].count("quarantined") == 1
    assert all(n == 1 for _, n in inbound_ids)  # no message on a ticket twice
    # every message stored on a ticket: all but the duplicate and the refused one
    assert len(inbound_ids) == len(mails) - 2
    assert ticket_count == 150

    third = run_cli(cfg, "import", "--batch", "4", str(box))
    assert f"already {len(mails)}" in third.stderr.decode()


def test_maildir_mbox_and_eml_folder_are_read_as_pythons_mailbox_reads_them(tmp_path):
    from maildesk.daemon.mailfiles import find

    mails = corpus(4)
    box = maildir(tmp_path / "Maildir", mails)
    mbox = mailbox.mbox(str(tmp_path / "support.mbox"))
    for _, raw in mails:
        mbox.add(
            raw.replace(b"\n\n", b"\n\nFrom the desk: a body line that looks like a separator\n", 1)
        )
    mbox.flush()
    folder = tmp_path / "eml" / "2026"
    folder.mkdir(parents=True)
    for n, (_, raw) in enumerate(mails):
        (folder / f"{n:03d}.eml").write_bytes(raw)

    want = sorted(raw for _, raw in mails)
    in_maildir = find(box)
    assert sorted(f.read() for f in in_maildir) == want
    assert sorted(f.written for f in in_maildir) == [when for when, _ in mails]
    in_mbox = find(tmp_path / "support.mbox")
    assert [f.read() for f in in_mbox] == [mbox.get_bytes(k) for k in mbox.iterkeys()]
    assert [f.written for f in in_mbox] == [when for when, _ in mails]
    in_folder = find(tmp_path / "eml")
    assert [f.read() for f in in_folder] == [raw for _, raw in mails]
    assert len({f.location for f in in_maildir + in_mbox + in_folder}) == 3 * len(mails)


def test_progress_bar_on_a_terminal_and_a_summary_always(tmp_path):
    import os
    import pty

    cfg, _ = write_config(tmp_path, f"sqlite:///{tmp_path / 'maildesk.db'}")
    box = maildir(tmp_path / "Maildir", corpus(6))
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "maildesk", "--config", str(cfg), "import", str(box)],
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(timeout=120) == 0
    os.close(leader)
    text = seen.decode("utf-8", "replace")
    assert "msg/s" in text  # tqdm: count, rate and time left
    assert f"{len(corpus(6))}/{len(corpus(6))}" in text
    assert "import done: created 6, appended 3, duplicate 1, ignored 1, quarantined 1;" in text
