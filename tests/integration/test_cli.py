"""The command line as scripts and admins use it: JSON outcomes, exit codes, show and trace."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from maildesk.cli import EX_TEMPFAIL, main
from tests.integration.daemon import write_config
from tests.mail import message


def _run(args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "maildesk", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_ingest_files_and_stdin_print_one_json_object_each(db_url, tmp_path):
    cfg, _ = write_config(tmp_path, db_url)
    first = tmp_path / "first.eml"
    first.write_bytes(message(message_id="<one@acme.ch>"))
    done = _run(
        [
            "--config",
            str(cfg),
            "ingest",
            "--now",
            "2026-03-02T09:00:00+01:00",
            str(first),
            str(first),
        ]
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in done.stdout.decode().splitlines()]
    assert lines == [
        {
            "schema": 1,
            "outcome": "created",
            "ticket": "SUP-1",
            "message_id": "<one@acme.ch>",
            "reason": "new request",
        },
        {
            "schema": 1,
            "outcome": "duplicate",
            "ticket": "SUP-1",
            "message_id": "<one@acme.ch>",
            "reason": "the same message (Message-ID, sender, subject, text) is already stored",
        },
    ]
    reply = message(subject="AW: [SUP-1] Erreur", message_id="<two@acme.ch>", body="Danke")
    piped = _run(["--config", str(cfg), "ingest", "-"], stdin=reply)
    assert json.loads(piped.stdout)["outcome"] == "appended"

    shown = json.loads(_run(["--config", str(cfg), "tickets", "show", "sup-1", "--json"]).stdout)
    assert shown["key"] == "SUP-1"
    assert [m["message_id"] for m in shown["messages"]] == ["<one@acme.ch>", "<two@acme.ch>"]
    assert shown["participants"][0] == {
        "address": "alice@acme.ch",
        "name": "Alice Martin",
        "role": "requester",
    }
    assert [e["kind"] for e in shown["events"]] == ["created", "message-in"]
    listed = json.loads(_run(["--config", str(cfg), "tickets", "list", "--json"]).stdout)
    assert [(t["key"], t["messages"]) for t in listed["tickets"]] == [("SUP-1", 2)]
    assert json.loads(
        _run(["--config", str(cfg), "tickets", "list", "--json", "--status", "closed"]).stdout
    ) == {"schema": 1, "tickets": []}

    trace = _run(["--config", str(cfg), "trace", "two@acme.ch"]).stdout.decode().splitlines()
    steps = [line.split(" step=")[1].split()[0] for line in trace]
    assert steps == ["dedupe", "screen", "route", "thread", "qualify", "decide"]
    assert "ticket=SUP-1" in trace[-1]


def test_ingest_exits_75_when_the_message_cannot_be_stored(tmp_path, capsys):
    cfg, _ = write_config(tmp_path, f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    eml = tmp_path / "m.eml"
    eml.write_bytes(message())
    assert main(["--config", str(cfg), "ingest", str(eml)]) == EX_TEMPFAIL
    assert capsys.readouterr().out == ""


def test_unknown_ticket_and_unknown_trace_exit_1(db_url, tmp_path):
    cfg, _ = write_config(tmp_path, db_url)
    assert main(["--config", str(cfg), "tickets", "show", "SUP-999"]) == 1
    assert main(["--config", str(cfg), "trace", "<nothing@here>"]) == 1


def test_config_error_names_the_key_and_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[smtp]\nport = "twenty-five"\n')
    assert main(["--config", str(bad), "check-config"]) == 2
    err = capsys.readouterr().err
    assert "smtp.port" in err
    assert "port number" in err


def test_help_lists_every_command():
    out = _run(["--help"]).stdout.decode()
    for command in ("run", "ingest", "tickets", "trace", "check-config"):
        assert command in out
    with pytest.raises(SystemExit):
        main(["tickets"])
