"""IMAP intake against a real Dovecot: IDLE push, polling, moves, crashes, poison, bad logins."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from maildesk.daemon import imap
from maildesk.daemon.app import build, system_clock
from maildesk.daemon.imap import Mailbox, check, explain, recipients_for, store_once
from maildesk.inbound import decide as decide_module
from maildesk.inbound import pipeline
from maildesk.store.models import inbound, tickets
from tests.conftest import NOW, make_config, need
from tests.integration import dovecot
from tests.integration.dovecot import account, append, messages
from tests.mail import message

POISON = "<poison@acme.ch>"


@pytest.fixture
def mailboxes() -> None:
    need("Dovecot at 127.0.0.1:10143", dovecot.dovecot_available())
    dovecot.reset("desk1")
    dovecot.reset("desk2")


@pytest.fixture
def imap_log() -> Iterator[list[str]]:
    """The lines logged by maildesk.imap (attached directly: the CLI may stop propagation)."""
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(f"{record.levelname} {record.getMessage()}")
    logger = logging.getLogger("maildesk.imap")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(old_level)


@pytest.fixture
def poison_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """The decide step fails for one Message-ID, the way a processing bug would."""

    def decide(draft, ctx):
        if draft.parsed.message_id == POISON:
            raise RuntimeError("decide exploded")
        return decide_module.decide(draft, ctx)

    steps = tuple(decide if s is decide_module.decide else s for s in pipeline.STEPS)
    assert decide in steps
    monkeypatch.setattr(pipeline, "STEPS", steps)


@contextmanager
def running(*boxes: Mailbox) -> Iterator[None]:
    stop = threading.Event()
    threads = [threading.Thread(target=b.run, args=(stop,), daemon=True) for b in boxes]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        assert not any(t.is_alive() for t in threads), "a mailbox thread did not stop"


def wait_for(condition: Callable[[], object], seconds: float) -> float:
    """Seconds until `condition` held; fails after `seconds`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            pytest.fail(f"not within {seconds} s")
        time.sleep(0.05)
    return time.monotonic() - start


def ticket_keys(services) -> list[str]:
    with services.engine.connect() as conn:
        return list(conn.execute(select(tickets.c.key).order_by(tickets.c.key)).scalars())


def spooled(services) -> int:
    with services.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(inbound)).scalar_one()


@pytest.mark.usefixtures("mailboxes")
def test_waiting_mail_is_caught_up_and_new_mail_pushed_by_idle(services, imap_log):
    append("desk1", message(message_id="<before@acme.ch>", subject="Erreur SwissDec avant"))
    box = Mailbox(account("desk1", poll_seconds=300), services, system_clock)
    with running(box):
        wait_for(lambda: box.state == "connected", 5)
        assert ticket_keys(services) == ["SUP-1"]  # caught up before it reports connected
        time.sleep(0.3)  # let it enter IDLE
        append("desk1", message(message_id="<after@acme.ch>"))
        took = wait_for(lambda: len(ticket_keys(services)) == 2, 5)
        wait_for(lambda: len(messages("desk1", "Processed")) == 2, 2)
    assert took < 2.0, f"IDLE push took {took:.2f} s"
    assert messages("desk1", "INBOX") == []
    for _raw, flags in messages("desk1", "Processed"):
        assert b"\\Seen" not in flags  # fetched with BODY.PEEK[]
    with services.engine.connect() as conn:
        rows = conn.execute(select(inbound.c.source, inbound.c.source_key)).all()
    assert {r.source for r in rows} == {"imap:desk1"}
    prefix = f"imap:desk1:{box.uidvalidity}:"
    assert all(r.source_key.startswith(prefix) for r in rows)
    assert len({r.source_key for r in rows}) == 2
    assert sum("action=connected" in line for line in imap_log) == 1


@pytest.mark.usefixtures("mailboxes")
def test_mail_that_arrives_as_idle_begins_is_not_left_waiting(services):
    """The server may announce mail in the same packet as its IDLE go-ahead; the IMAP
    library reads both, and a poll of the socket then sees nothing: the mail would wait
    for the next keep-alive or the IDLE renewal (minutes)."""
    box = Mailbox(account("desk1", idle_renew_seconds=60), services, system_clock)
    box.connect()
    try:
        assert box.catch_up() == []
        append("desk1", message(message_id="<between@acme.ch>"))  # after the search
        stop = threading.Event()
        started = time.monotonic()
        box._idle(stop)
        took = time.monotonic() - started
        box.catch_up()
    finally:
        box.close()
    assert took < 5, f"IDLE noticed the waiting mail after {took:.1f} s"
    assert ticket_keys(services) == ["SUP-1"]


def _crash_once(error: str) -> Callable:
    crashed: list[bool] = []

    def crash(*_args: object) -> None:
        if not crashed:
            crashed.append(True)
            raise ConnectionResetError(error)

    return crash


@pytest.mark.usefixtures("mailboxes")
def test_crash_after_commit_gives_one_ticket_after_restart(services, imap_log):
    append("desk1", message())
    box = Mailbox(
        account("desk1"), services, system_clock, after_commit=_crash_once("killed after commit")
    )
    with running(box):
        wait_for(lambda: len(messages("desk1", "Processed")) == 1, 10)
    assert box.failures == 1
    assert ticket_keys(services) == ["SUP-1"]
    assert spooled(services) == 1
    assert messages("desk1", "INBOX") == []
    assert any("action=failing" in line and "killed after commit" in line for line in imap_log)


@pytest.mark.usefixtures("mailboxes")
def test_crash_before_move_gives_one_ticket_after_restart(services, monkeypatch):
    crash = _crash_once("killed before move")
    real_move = imap.move

    def move(client, uid, folder):
        crash()
        real_move(client, uid, folder)

    monkeypatch.setattr(imap, "move", move)
    append("desk1", message())
    box = Mailbox(account("desk1"), services, system_clock)
    with running(box):
        wait_for(lambda: len(messages("desk1", "Processed")) == 1, 10)
    assert box.failures == 1
    assert ticket_keys(services) == ["SUP-1"]
    assert spooled(services) == 1


def test_a_second_store_of_the_same_uid_is_already_stored(services):
    first = store_once(services.engine, message(), source="imap:a", source_key="k:1", now=NOW)
    again = store_once(services.engine, message(), source="imap:a", source_key="k:1", now=NOW)
    assert first == (first[0], True)
    assert again == (first[0], False)
    assert spooled(services) == 1


@pytest.fixture
def strict(tmp_path: Path, monkeypatch, poison_raises):
    """Services that quarantine after one failure and refuse messages over 4 kB."""
    config = make_config(
        f"sqlite:///{tmp_path / 'strict.db'}",
        tmp_path,
        processing={"max_attempts": 1},
        smtp={"host": "127.0.0.1", "port": 0, "max_message_bytes": 4000},
    )
    built = build(config)
    yield built
    built.engine.dispose()


@pytest.mark.usefixtures("mailboxes")
def test_poison_and_oversized_mail_go_to_quarantine_and_the_rest_goes_on(strict, imap_log):
    append("desk1", message(message_id=POISON))
    append("desk1", message(message_id="<huge@acme.ch>", body="x" * 6000))
    append("desk1", message())
    box = Mailbox(account("desk1"), strict, system_clock)
    box.connect()
    try:
        handled = box.catch_up()
    finally:
        box.close()
    assert [(h.outcome, h.folder) for h in handled] == [
        ("quarantined", "Quarantine"),
        ("too-large", "Quarantine"),
        ("created", "Processed"),
    ]
    assert len(messages("desk1", "Quarantine")) == 2
    assert len(messages("desk1", "Processed")) == 1
    assert messages("desk1", "INBOX") == []
    assert ticket_keys(strict) == ["SUP-1"]
    assert spooled(strict) == 2  # the oversized one never entered the spool
    warnings = [line for line in imap_log if line.startswith("WARNING")]
    uids = [h.uid for h in handled]
    assert any("decide exploded" in line and f"uid={uids[0]}" in line for line in warnings)
    assert any("over the 4000 byte limit" in line and f"uid={uids[1]}" in line for line in warnings)


@pytest.mark.usefixtures("mailboxes", "poison_raises")
def test_mail_being_retried_stays_until_the_worker_settles_it(services):
    append("desk1", message(message_id=POISON))
    append("desk1", message())
    box = Mailbox(account("desk1"), services, system_clock)
    box.connect()
    try:
        first = box.catch_up()
        assert [(h.outcome, h.folder) for h in first] == [
            ("retry", None),
            ("created", "Processed"),
        ]
        assert box.pending == 1
        inbound_id = first[0].inbound_id
        while services.worker.process(inbound_id, NOW, force=True).outcome == "retry":
            pass
        again = box.catch_up()
    finally:
        box.close()
    assert [(h.uid, h.outcome, h.folder) for h in again] == [
        (first[0].uid, "quarantined", "Quarantine")
    ]
    assert spooled(services) == 2  # looked up by its key, not fetched and stored again


@pytest.mark.usefixtures("mailboxes")
def test_wrong_password_fails_alone_and_is_logged_once(services, imap_log):
    good = Mailbox(account("desk1"), services, system_clock)
    bad = Mailbox(account("desk2", password="wrong"), services, system_clock)
    with running(good, bad):
        wait_for(lambda: good.state == "connected", 5)
        append("desk1", message())
        wait_for(lambda: ticket_keys(services) == ["SUP-1"], 3)
        wait_for(lambda: bad.failures >= 3, 8)  # retried after 1 s, then 2 s
    failing = [line for line in imap_log if "imap=desk2" in line and "action=failing" in line]
    assert len(failing) == 1, imap_log
    assert failing[0].startswith("ERROR")
    assert "login refused for desk2" in failing[0]
    assert not any("imap=desk1" in line and "action=failing" in line for line in imap_log)


@pytest.mark.usefixtures("mailboxes")
def test_polling_picks_mail_up_when_idle_is_off(services, monkeypatch):
    box = Mailbox(account("desk1", idle=False, poll_seconds=0.5), services, system_clock)
    monkeypatch.setattr(box, "_idle", lambda _stop: pytest.fail("IDLE used although idle=false"))
    with running(box):
        wait_for(lambda: box.state == "connected", 5)
        append("desk1", message())
        wait_for(lambda: ticket_keys(services) == ["SUP-1"], 3)
        wait_for(lambda: len(messages("desk1", "Processed")) == 1, 2)


@pytest.mark.usefixtures("mailboxes")
def test_copy_then_expunge_when_the_server_has_no_move(services):
    append("desk1", message())
    box = Mailbox(account("desk1"), services, system_clock)
    box.connect()
    try:
        real = box.client.has_capability
        box.client.has_capability = lambda name: name.upper() != "MOVE" and real(name)
        (handled,) = box.catch_up()
    finally:
        box.close()
    assert handled.folder == "Processed"
    assert len(messages("desk1", "Processed")) == 1
    assert messages("desk1", "INBOX") == []


@pytest.mark.usefixtures("mailboxes")
def test_account_queue_applies_only_when_no_header_names_a_queue(services):
    append("desk1", message(to="someone@acme.ch", message_id="<a@acme.ch>"))
    append("desk1", message(to="support@help.example", message_id="<b@acme.ch>"))
    box = Mailbox(account("desk1", queue="consulting"), services, system_clock)
    box.connect()
    try:
        box.catch_up()
    finally:
        box.close()
    assert ticket_keys(services) == ["CON-1", "SUP-1"]


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        ("someone@acme.ch", ("consulting@help.example",)),
        ("Help <SUPPORT@help.example>", ()),
        ("", ("consulting@help.example",)),
    ],
)
def test_recipients_for_falls_back_to_the_account_queue(tmp_path, to, expected):
    config = make_config("sqlite:///unused.db", tmp_path)
    raw = message(to=to) if to else message().replace(b"To: support@help.example\n", b"")
    assert recipients_for(raw, account("desk1", queue="consulting"), config) == expected
    assert recipients_for(raw, account("desk1"), config) == ()


@pytest.mark.usefixtures("mailboxes")
def test_check_says_what_is_there_and_what_is_wrong():
    ok, lines = check(account("desk1"))
    assert ok, lines
    assert any("logged in" in line for line in lines)
    assert any("INBOX" in line for line in lines)
    assert any("'Processed' does not exist yet" in line for line in lines)

    ok, lines = check(account("desk2", password="wrong"))
    assert not ok
    assert "login refused for desk2" in lines[0]

    ok, lines = check(account("desk1", folder="Support"))
    assert not ok
    assert "the watched folder 'Support' does not exist" in lines[-1]


def test_check_and_explain_speak_plainly_about_network_trouble(tmp_path):
    from tests.conftest import free_port

    refused = account("desk1", port=free_port(), timeout_seconds=2)
    ok, lines = check(refused)
    assert not ok
    assert "connection refused" in lines[0]
    missing = account("desk1", password_file=str(tmp_path / "nope"), password="")
    assert "cannot read" in explain(FileNotFoundError(2, "No such file", "/x/pw"), missing)
    ok, lines = check(missing)
    assert not ok
    assert "cannot read" in lines[0]
