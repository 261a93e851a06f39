"""The command line as a service's callers see it: exit codes for an MTA and a monitor,
read-only commands that never create a database, paths relative to the config file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, inspect

from maildesk import __version__
from maildesk.cli import main
from maildesk.daemon.app import build
from maildesk.daemon.cluster import Membership
from maildesk.store.spool import store
from tests.conftest import NOW, make_config
from tests.integration.daemon import write_config
from tests.mail import message

CHECKOUT = Path(__file__).resolve().parents[2]


def _run(args: list[str], cwd: Path, stdin: bytes | None = None, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "maildesk", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(CHECKOUT), **(env or {})},
    )


def _nested(depth: int) -> bytes:
    body = "".join(
        f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n" for i in range(depth)
    )
    body += "Content-Type: text/plain\r\n\r\nhi\r\n"
    body += "".join(f"--b{i}--\r\n" for i in reversed(range(depth)))
    head = (
        "From: Alice <alice@acme.ch>\r\nTo: support@help.example\r\nSubject: Erreur SwissDec\r\n"
        "Message-ID: <deep@acme.ch>\r\nMIME-Version: 1.0\r\n"
    )
    return (head + body).encode()


# --- ingest: 0, 75 or 65, never a code Postfix's pipe turns into a bounce -----------------


def test_ingest_with_a_missing_config_file_is_a_temporary_failure(tmp_path):
    done = _run(["--config", str(tmp_path / "missing.toml"), "ingest", "-"], tmp_path, message())
    assert done.returncode == 75, done.stderr
    assert b"missing.toml" in done.stderr


def test_ingest_with_a_wrong_config_value_is_a_temporary_failure(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[smtp]\nport = "twenty-five"\n')
    done = _run(["--config", str(bad), "ingest", "-"], tmp_path, message())
    assert done.returncode == 75
    assert b"smtp.port" in done.stderr


def test_ingest_usage_errors_are_temporary_failures(tmp_path):
    assert _run(["ingest", "--no-such-option", "-"], tmp_path, message()).returncode == 75
    assert _run(["ingest"], tmp_path, message()).returncode == 75
    assert _run(["ingest", "--now", "yesterday", "-"], tmp_path, message()).returncode == 75
    # other commands keep the usual usage code
    assert _run(["tickets", "--no-such-option"], tmp_path).returncode == 2


def test_ingest_refuses_input_no_retry_can_fix_with_65(tmp_path):
    cfg, _ = write_config(tmp_path, f"sqlite:///{tmp_path / 'desk.db'}")
    empty = tmp_path / "empty.eml"
    empty.write_bytes(b"\r\n")
    assert main(["--config", str(cfg), "ingest", str(empty)]) == 65
    huge = tmp_path / "huge.eml"
    cfg.write_text(cfg.read_text().replace("[smtp]\n", "[smtp]\nmax_message_bytes = 2000\n"))
    huge.write_bytes(message(body="x" * 5000))
    assert main(["--config", str(cfg), "ingest", str(huge)]) == 65
    fine = tmp_path / "fine.eml"
    fine.write_bytes(message())
    assert main(["--config", str(cfg), "ingest", str(fine)]) == 0


# --- read-only commands never create a database -------------------------------------------


def test_read_only_commands_in_an_empty_folder_create_nothing(tmp_path):
    for args in (
        ["tickets", "list"],
        ["tickets", "show", "SUP-1"],
        ["trace", "<x@y>"],
        ["outbox", "list"],
    ):
        done = _run(args, tmp_path)
        assert done.returncode == 1, (args, done.stderr)
        assert f"no database at {tmp_path / 'maildesk.db'}".encode() in done.stderr, args
        assert b"Traceback" not in done.stderr
    status = _run(["status"], tmp_path)
    assert status.returncode == 2  # CRITICAL for a monitor
    assert status.stdout.decode().startswith("MAILDESK CRITICAL - no database at ")
    assert list(tmp_path.iterdir()) == []


def test_read_only_commands_leave_an_empty_postgresql_database_empty(pg_database, tmp_path):
    from tests.conftest import _reset_pg

    _reset_pg(pg_database)
    cfg, _ = write_config(tmp_path, pg_database)
    assert main(["--config", str(cfg), "tickets", "list"]) == 1
    assert main(["--config", str(cfg), "outbox", "list"]) == 1
    engine = create_engine(pg_database)
    assert inspect(engine).get_table_names() == []
    engine.dispose()


# --- relative paths are relative to the configuration file --------------------------------


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    home, elsewhere = tmp_path / "etc", tmp_path / "cwd"
    home.mkdir()
    elsewhere.mkdir()
    (home / "maildesk.toml").write_text(
        '[database]\nurl = "sqlite:///state/desk.db"\n'
        '[outbound]\npickup_dir = "state/outbox"\n'
        '[[queues]]\nname = "support"\nkey_prefix = "SUP"\naddresses = ["support@help.example"]\n'
    )
    (home / "state").mkdir()
    done = _run(["--config", "../etc/maildesk.toml", "ingest", "-"], elsewhere, message())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ticket"] == "SUP-1"
    assert (home / "state" / "desk.db").is_file()
    flushed = _run(["--config", "../etc/maildesk.toml", "outbox", "flush"], elsewhere)
    assert flushed.returncode == 0, flushed.stderr
    assert len(list((home / "state" / "outbox").glob("*.eml"))) == 1  # the acknowledgement
    assert list(elsewhere.iterdir()) == []
    listed = _run(["--config", str(home / "maildesk.toml"), "tickets", "list"], elsewhere)
    assert b"SUP-1" in listed.stdout


# --- status: Nagios plugin codes and a one-line summary first ------------------------------


def test_status_exit_codes_follow_the_nagios_convention(tmp_path):
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    cfg, _ = write_config(tmp_path, url)
    services = build(make_config(url, tmp_path))

    def status(now):
        out = _run(["--config", str(cfg), "status", "--now", now.isoformat()], tmp_path)
        return out.returncode, out.stdout.decode().splitlines()[0]

    code, summary = status(NOW)
    assert (code, summary.split(" - ")[0]) == (2, "MAILDESK CRITICAL")
    assert "no live instance" in summary

    member = Membership(services.engine, lambda: NOW, "127.0.0.1:1", 30.0, [])
    member.join()
    member.beat()  # alive for three heartbeats: 15 s with a 30 s lease
    assert status(NOW) == (
        0,
        "MAILDESK OK - 1 instance(s) alive, 0 mail and 0 notification(s) pending, "
        "0 quarantined, 0 dead",
    )
    store(services.spool, message(), source="ingest", now=NOW)  # waiting, not processed
    code, summary = status(NOW + timedelta(seconds=10))
    assert code == 0
    old = _run(
        ["--config", str(cfg), "status", "--now", (NOW + timedelta(minutes=20)).isoformat()],
        tmp_path,
    )
    assert old.returncode == 2  # the instance's heartbeat is 20 minutes old too
    services.worker.process_due(NOW)
    quarantined = store(services.spool, _nested(60), source="ingest", now=NOW)
    assert services.worker.process(quarantined, NOW).outcome == "quarantined"
    code, summary = status(NOW + timedelta(seconds=10))
    assert code == 1, summary
    assert summary.startswith("MAILDESK WARNING - 1 quarantined (above 0)")
    cfg.write_text(cfg.read_text() + "\n[status]\nquarantined_warning = 1\n")
    assert status(NOW + timedelta(seconds=10))[0] == 0
    services.dispose()


def test_status_warns_then_is_critical_when_mail_waits_too_long(tmp_path):
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    cfg, _ = write_config(tmp_path, url)
    cfg.write_text(cfg.read_text() + "\n[cluster]\nlease_seconds = 100000\n")
    services = build(make_config(url, tmp_path))
    member = Membership(services.engine, lambda: NOW, "127.0.0.1:1", 100000.0, [])
    member.join()
    member.beat()
    store(services.spool, message(), source="ingest", now=NOW)

    def status(minutes):
        at = (NOW + timedelta(minutes=minutes)).isoformat()
        out = _run(["--config", str(cfg), "status", "--now", at], tmp_path)
        return out.returncode, out.stdout.decode().splitlines()[0]

    assert status(10)[0] == 0
    code, summary = status(20)
    assert code == 1
    assert "oldest pending mail 20 min old (above 15)" in summary
    assert status(61)[0] == 2
    services.dispose()


# --- --version and --help ---------------------------------------------------------------


def test_version_and_help_tell_what_callers_need(tmp_path):
    version = _run(["--version"], tmp_path)
    assert version.returncode == 0
    assert version.stdout.decode().strip() == f"maildesk {__version__}"
    top = _run(["--help"], tmp_path).stdout.decode()
    for text in ("exit codes:", "75 (EX_TEMPFAIL)", "65 (EX_DATAERR)", "0 OK, 1 WARNING"):
        assert text in top
    run = _run(["run", "--help"], tmp_path).stdout.decode()
    for text in ("SIGTERM", "SIGHUP", "NOTIFY_SOCKET", "WATCHDOG_USEC", "JOURNAL_STREAM", "69"):
        assert text in run, text


# --- the journal: syslog priorities so `journalctl -p err` finds quarantines -------------


def test_log_lines_to_the_journal_carry_syslog_priorities(tmp_path):
    cfg, _ = write_config(tmp_path, f"sqlite:///{tmp_path / 'desk.db'}")
    err = tmp_path / "stderr"
    with err.open("wb") as stream:
        found = os.fstat(stream.fileno())
        subprocess.run(
            [sys.executable, "-m", "maildesk", "--config", str(cfg), "ingest", "-"],
            input=_nested(60),
            stdout=subprocess.DEVNULL,
            stderr=stream,
            timeout=120,
            check=True,
            env={**os.environ, "JOURNAL_STREAM": f"{found.st_dev}:{found.st_ino}"},
        )
    lines = err.read_text().splitlines()
    assert any(line.startswith("<3>ERROR ") and "quarantined" in line for line in lines), lines
    assert all(line.startswith("<") for line in lines), lines
    # not the journal: no prefix
    plain = _run(
        ["--config", str(cfg), "ingest", "-"], tmp_path, message(), {"JOURNAL_STREAM": "1:2"}
    )
    assert not any(line.startswith("<") for line in plain.stderr.decode().splitlines())
