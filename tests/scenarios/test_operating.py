"""Operating the desk over real sockets: repairing the queues with the command line.

A poison mail is quarantined (and says what it is), listed, shown, retried once the limit
that refused it is raised, and becomes a ticket. Notifications that died during a relay
outage are sent again, each once, with `outbox retry --dead`. Both run a real daemon on
SQLite and on PostgreSQL, with the admin commands run beside it as separate processes.
"""

from __future__ import annotations

import json
import smtplib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.integration.daemon import NO_DIGEST, Daemon, wait_for
from tests.integration.sink import Sink
from tests.mail import message

pytestmark = pytest.mark.slow


def _config(tmp_path: Path, db_url: str, port: int, extra: str = "") -> Path:
    path = tmp_path / "maildesk.toml"
    path.write_text(
        f"""
[database]
url = "{db_url}"

[smtp]
host = "127.0.0.1"
port = {port}

[processing]
poll_seconds = 0.2
{extra}

[[queues]]
name = "support"
key_prefix = "SUP"
addresses = ["support@help.example"]

[staff]
addresses = ["consultant@help.example"]
"""
        + NO_DIGEST,
        encoding="utf-8",
    )
    return path


def _cli(cfg: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "maildesk", "--config", str(cfg), *args],
        capture_output=True,
        timeout=60,
        check=False,
    )


def _json(cfg: Path, *args: str):
    done = _cli(cfg, *args)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def _poison() -> bytes:
    filler = "".join(f"X-Filler-{i}: v\r\n" for i in range(1100))
    return (
        "From: Bob Poison <bob@acme.ch>\r\n"
        "To: support@help.example\r\n"
        "Subject: =?utf-8?q?Erreur_de_d=C3=A9p=C3=B4t_des_salaires?=\r\n"
        "Message-ID: <poison-1@acme.ch>\r\n"
        f"{filler}"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "La version 12.4 refuse le dépôt.\r\n"
    ).encode()


def test_poison_mail_is_quarantined_shown_retried_and_becomes_a_ticket(db_url, tmp_path):
    port = free_port()
    cfg = _config(tmp_path, db_url, port)
    log_path = tmp_path / "daemon.log"
    daemon = Daemon(cfg, port, log_path).start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=15) as smtp:
            smtp.sendmail("bob@acme.ch", ["support@help.example"], _poison())
        quarantined = wait_for(
            lambda: _json(cfg, "spool", "list", "--state", "quarantined", "--json")
        )
    finally:
        assert daemon.stop() == 0, daemon.log()
    [row] = quarantined
    assert row["from"] == "bob@acme.ch"
    assert row["subject"] == "Erreur de dépôt des salaires"
    assert row["message_id"] == "<poison-1@acme.ch>"
    assert row["attempts"] == 1  # it failed once: retrying cannot help a header bomb
    assert row["reason"].startswith("Unprocessable: mime_limits: more than 1000 header fields")
    assert "failed 3 times" not in row["reason"]

    # The log line says what it is.
    [line] = [x for x in log_path.read_text().splitlines() if "action=quarantined" in x]
    assert "from=bob@acme.ch" in line
    assert "msgid=<poison-1@acme.ch>" in line
    assert 'subject="Erreur de dépôt des salaires"' in line

    shown = _cli(cfg, "spool", "show", str(row["id"]))
    assert shown.returncode == 0
    text = shown.stdout.decode()
    assert "bob@acme.ch" in text
    assert "Erreur de dépôt des salaires" in text
    assert "<poison-1@acme.ch>" in text
    assert "action=quarantined" in text  # the decision trace
    traced = _cli(cfg, "trace", "poison-1@acme.ch")
    assert traced.returncode == 0
    assert b"action=quarantined" in traced.stdout

    exported = _cli(cfg, "spool", "export", str(row["id"]))
    assert exported.stdout == _poison().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

    # The admin raises the limit, restarts, and sends it through again.
    cfg = _config(tmp_path, db_url, port, "max_header_fields = 2000")
    daemon = Daemon(cfg, port, log_path).start()
    try:
        done = _json(cfg, "spool", "retry", str(row["id"]), "--as", "admin@help.example")
        assert done == {"requeued": [row["id"]]}
        ticket = wait_for(lambda: _json(cfg, "spool", "show", str(row["id"]), "--json")["ticket"])
    finally:
        assert daemon.stop() == 0, daemon.log()
    assert ticket == "SUP-1"
    shown = _json(cfg, "spool", "show", str(row["id"]), "--json")
    assert shown["state"] == "done"
    steps = [(s["step"], s["action"]) for s in shown["trace"]]
    assert steps[0] == ("worker", "quarantined")
    assert steps[1] == ("admin", "requeued")
    assert "requeued by admin@help.example" in shown["trace"][1]["reason"]
    assert ("decide", "created") in steps or shown["outcome"] == "created"
    [listed] = _json(cfg, "tickets", "list", "--json")["tickets"]
    assert listed["requester"] == "bob@acme.ch"
    # Retrying again does nothing: it is no longer quarantined.
    again = _cli(cfg, "spool", "retry", str(row["id"]))
    assert json.loads(again.stdout) == {"requeued": []}
    assert b"not quarantined" in again.stderr


def test_dead_notifications_are_sent_again_once_each(db_url, tmp_path):
    sink = Sink()  # not started: the relay is down
    port = free_port()
    cfg = _config(tmp_path, db_url, port)
    text = cfg.read_text().replace(
        "[processing]",
        f'[outbound]\nhost = "127.0.0.1"\nport = {sink.port}\nmax_attempts = 2\n'
        "retry_seconds = 0.2\n\n[processing]",
    )
    cfg.write_text(text)
    daemon = Daemon(cfg, port, tmp_path / "daemon.log").start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=15) as smtp:
            for i in range(10):  # each: an acknowledgement and a staff notice
                raw = message(
                    subject=f"Erreur de calcul du salaire numéro {i}",
                    sender=f"Client {i} <client{i}@acme{i}.ch>",
                    message_id=f"<r{i}@acme.ch>",
                )
                smtp.sendmail(f"client{i}@acme{i}.ch", ["support@help.example"], raw)
        dead = wait_for(
            lambda: (
                len(
                    found := _json(cfg, "outbox", "list", "--status", "dead", "--json")[
                        "notifications"
                    ]
                )
                == 20
                and found
            ),
            timeout=60,
        )
        assert all("gave up after 2 attempts" in row["last_error"] for row in dead)
        sink.start()  # the relay is back
        done = _json(cfg, "outbox", "retry", "--dead")
        assert sorted(done["requeued"]) == sorted(row["id"] for row in dead)
        wait_for(lambda: len(sink.received) >= 20, timeout=60)
        sent = wait_for(
            lambda: (
                len(
                    found := _json(cfg, "outbox", "list", "--status", "sent", "--json")[
                        "notifications"
                    ]
                )
                == 20
                and found
            )
        )
    finally:
        assert daemon.stop() == 0, daemon.log()
        sink.stop()
    ids = [r.message_id for r in sink.received]
    assert len(ids) == 20
    assert len(set(ids)) == 20
    assert {row["message_id"] for row in sent} == set(ids)
    assert _json(cfg, "outbox", "list", "--status", "dead", "--json")["notifications"] == []
    shown = _json(cfg, "outbox", "show", str(dead[0]["id"]), "--json")
    assert shown["status"] == "sent"
    assert shown["attempts"] == 1
    ticket = _json(cfg, "tickets", "show", shown["ticket"], "--json")
    kinds = [e["kind"] for e in ticket["events"]]
    assert "notification-dead" in kinds
    assert "notification-retry" in kinds
