"""Passwords never reach a log line, an SMTP reply or the command line's output.

The session-wide watch (tests/secrets_scan.py) fails the run when any test shows a test
password; these tests make sure it has something to see (failing IMAP logins, a database
URL with a password, SMTP AUTH attempts) and that it would notice a leak.
"""

from __future__ import annotations

import base64
import logging
import secrets
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from maildesk.config.imap import accounts_from
from maildesk.daemon.app import system_clock
from maildesk.daemon.imap import Mailbox
from tests.conftest import _reset_pg, free_port
from tests.hostile.support import Dialogue, listener, sqlite_desk
from tests.integration.daemon import Daemon, wait_for, write_config
from tests.secrets_scan import Watch, contains, find, log_files, secrets_in_configs


def _password(prefix: str) -> str:
    """Distinctive, so a finding is never a coincidence; alphanumeric, so no encoding hides it."""
    return prefix + secrets.token_hex(10)


def _maildesk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "maildesk", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _imap_tables(password: str, refused_port: int) -> str:
    return f"""
[[imap]]
name = "refused"
host = "127.0.0.1"
port = {refused_port}
tls = "none"
username = "desk@help.example"
password = "{password}"
timeout_seconds = 2

[[imap]]
name = "unreachable"
host = "192.0.2.1"
port = 993
username = "desk@help.example"
password = "{password}"
timeout_seconds = 1
"""


def _pg_url_with_password(pg_database: str, password: str) -> str:
    """The session's database, its URL carrying a password (the server trusts loopback)."""
    _reset_pg(pg_database)
    return pg_database.replace("postgres@", f"postgres:{password}@", 1)


# --- the watch itself ----------------------------------------------------------------------


def test_the_watch_sees_a_planted_secret_in_a_log_record_and_an_smtp_reply(
    secret_watch: Watch, tmp_path: Path
):
    planted = _password("PLANTED").upper()  # aiosmtpd echoes an unknown command upper-cased
    mark = len(secret_watch.seen)
    logging.getLogger("maildesk.planted").warning("connecting with password=%s", planted)
    desk = sqlite_desk(tmp_path)
    try:
        with listener(desk) as cfg:
            smtp = Dialogue(cfg.smtp.port)
            reply = smtp.command(planted.encode())
            smtp.close()
    finally:
        desk.dispose()
    assert planted.encode() in reply  # the server really said it
    channels = {f.seen.channel for f in find(secret_watch.since(mark), {planted})}
    assert channels == {"log", "smtp-reply"}


def test_the_watch_reads_daemon_log_files_and_the_passwords_of_configurations(tmp_path: Path):
    planted, imap_password, db_password = (_password(p) for p in ("Log", "Imap", "Db"))
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "daemon.log").write_text(f"x reason=login as u {planted} refused\n")
    (tmp_path / "maildesk.toml").write_text(
        f'[database]\nurl = "postgresql+psycopg://u:{db_password}@127.0.0.1:1/db"\n'
        f'[[imap]]\nname = "a"\nhost = "h"\nusername = "u"\npassword = "{imap_password}"\n'
    )
    assert [f.seen.where for f in find(log_files(tmp_path), {planted})] == [
        str(tmp_path / "nested" / "daemon.log")
    ]
    assert secrets_in_configs(tmp_path) == {imap_password, db_password}


@pytest.mark.parametrize(
    "text",
    [
        "imap=desk1 action=failing password=secret",
        "config {'password': 'secret'}",
        "database=postgresql+psycopg://postgres:secret@127.0.0.1/x",
        "C: a1 LOGIN desk1 secret",
        "AUTH PLAIN " + base64.b64encode(b"\0desk1\0secret").decode(),
    ],
)
def test_a_word_like_secret_is_found_where_a_credential_stands(text: str):
    assert contains(text, "secret")


@pytest.mark.parametrize(
    "text",
    [
        "message_id_secret = 'abc'",
        "the secret that signs our Message-IDs: generated once",
        'subject="top secret" action=created',
        "password=secrets.txt",
    ],
)
def test_a_word_like_secret_in_harmless_text_is_no_finding(text: str):
    assert not contains(text, "secret")


# --- what the product shows when things fail -----------------------------------------------


def test_failing_imap_connections_log_no_password(secret_watch: Watch, tmp_path: Path):
    password = secret_watch.register(_password("Imap"))
    accounts = accounts_from(
        [
            {
                "name": "refused",
                "host": "127.0.0.1",
                "port": free_port(),
                "tls": "none",
                "username": "desk@help.example",
                "password": password,
            },
            {
                "name": "unreachable",
                "host": "192.0.2.1",
                "username": "desk@help.example",
                "password": password,
                "timeout_seconds": 1,
            },
        ]
    )
    desk = sqlite_desk(tmp_path)
    mark = len(secret_watch.seen)
    stop = threading.Event()
    boxes = [Mailbox(a, desk, system_clock) for a in accounts]
    threads = [threading.Thread(target=b.run, args=(stop,)) for b in boxes]
    try:
        for thread in threads:
            thread.start()
        wait_for(lambda: all(b.failures for b in boxes), timeout=20, interval=0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        desk.dispose()
    logged = [s.text for s in secret_watch.since(mark) if s.channel == "log"]
    assert any("action=failing" in t and "connection refused" in t for t in logged)
    assert any("imap=unreachable" in t and "action=failing" in t for t in logged)
    assert find(secret_watch.since(mark), {password}) == []


def test_smtp_auth_attempts_are_refused_without_echoing_the_credentials(
    secret_watch: Watch, tmp_path: Path
):
    password = secret_watch.register(_password("Smtp"))
    plain = base64.b64encode(f"\0desk@help.example\0{password}".encode())
    desk = sqlite_desk(tmp_path)
    mark = len(secret_watch.seen)
    try:
        with listener(desk) as cfg:
            smtp = Dialogue(cfg.smtp.port)
            smtp.command(b"EHLO client.example")
            replies = [
                smtp.command(b"AUTH PLAIN " + plain),
                smtp.command(b"AUTH LOGIN " + base64.b64encode(b"desk@help.example")),
                smtp.command(b"MAIL FROM:<alice@acme.ch> AUTH=" + plain),
            ]
            smtp.close()
    finally:
        desk.dispose()
    assert all(not r.startswith(b"2") for r in replies[:2]), replies
    assert not any(password.encode() in r or plain in r for r in replies)
    watched = [s for s in secret_watch.since(mark) if s.channel == "smtp-reply"]
    assert len(watched) >= 4  # the banner, EHLO and the AUTH refusals were all seen
    assert find(secret_watch.since(mark), {password}) == []


def test_the_command_line_reports_database_and_imap_trouble_without_passwords(
    secret_watch: Watch, tmp_path: Path, pg_database: str
):
    password = secret_watch.register(_password("Cli"))
    path, _port = write_config(tmp_path, _pg_url_with_password(pg_database, password))
    path.write_text(path.read_text() + _imap_tables(password, free_port()))
    status = _maildesk("--config", str(path), "status")
    check = _maildesk("--config", str(path), "imap", "check", "refused")
    (tmp_path / "refused").mkdir()
    refused_db, _ = write_config(
        tmp_path / "refused", f"postgresql+psycopg://postgres:{password}@127.0.0.1:1/x"
    )
    ingest = _maildesk("--config", str(refused_db), "ingest", str(path))
    assert status.returncode == 2, status.stderr  # CRITICAL: no live instance (or no schema)
    assert status.stdout.startswith("MAILDESK CRITICAL - "), status.stdout
    assert "connection refused" in check.stdout, check.stdout
    assert ingest.returncode == 75
    assert "cannot open the database" in ingest.stderr
    for done in (status, check, ingest):
        assert password not in done.stdout + done.stderr


def test_check_config_does_not_print_the_database_password(tmp_path: Path):
    password = _password("Check")
    url = f"postgresql+psycopg://postgres:{password}@127.0.0.1:5432/maildesk"
    path, _port = write_config(tmp_path, url)
    done = _maildesk("--config", str(path), "check-config")
    assert done.returncode == 0, done.stderr
    assert password not in done.stdout + done.stderr


def test_an_unsupported_database_url_is_refused_without_its_password(tmp_path: Path):
    password = _password("Mysql")
    path, _port = write_config(tmp_path, f"mysql://desk:{password}@127.0.0.1/maildesk")
    done = _maildesk("--config", str(path), "check-config")
    assert done.returncode == 2
    assert "not supported" in done.stderr
    assert password not in done.stdout + done.stderr


@pytest.mark.slow
def test_a_daemon_with_failing_mailboxes_and_a_database_password_logs_no_secret(
    secret_watch: Watch, tmp_path: Path, pg_database: str
):
    password = secret_watch.register(_password("Daemon"))
    path, port = write_config(tmp_path, _pg_url_with_password(pg_database, password))
    path.write_text(path.read_text() + _imap_tables(password, free_port()))
    daemon = Daemon(path, port, tmp_path / "daemon.log").start()
    try:
        wait_for(lambda: daemon.log().count("action=failing") >= 2, timeout=30)
        smtp = Dialogue(port)
        smtp.command(b"EHLO client.example")
        plain = base64.b64encode(f"\0desk\0{password}".encode())
        reply = smtp.command(b"AUTH PLAIN " + plain)
        smtp.close()
    finally:
        daemon.stop()
    log = (tmp_path / "daemon.log").read_text(errors="replace")
    assert "connection refused" in log
    assert "postgres:***@" in log  # the start-up line, its URL masked
    assert password not in log
    assert password.encode() not in reply
    assert plain not in reply
    assert find(log_files(tmp_path), {password}) == []
