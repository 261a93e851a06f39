"""The daemon's log for one new request: each thing said once, in order, by ticket key.

One intake line (`accepted`: from, to, Message-ID, size, source), one decision line
(`created`: ticket key, from, subject, reason), and one line per notification state
(`queued`, then `sent`) for each of the two notifications (the acknowledgement and the
staff notice), every one naming the ticket key once it exists. The same log in JSON form
parses line by line, with the same fields.
"""

from __future__ import annotations

import json
import re
import smtplib

import pytest

from tests.integration.daemon import Daemon, wait_for, write_config
from tests.mail import message
from tests.unit.test_logs import unescape

pytestmark = pytest.mark.slow
REQUEST_ID = "<log-1@acme.ch>"
PAIR = re.compile(r'([a-z0-9_]+)=("(?:[^"\\]|\\.)*"|[^\s"]+)(?:\s|$)')


def pairs(line: str) -> dict[str, str]:
    found = PAIR.findall(line)
    assert " ".join(f"{k}={v}" for k, v in found) == line, f"not only key=value pairs: {line!r}"
    return {key: unescape(value) for key, value in found}


def _one_request(tmp_path, db_url, fmt: str) -> list[str]:
    path, port = write_config(tmp_path, db_url)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[logging]\nformat = "{fmt}"\n')
    log_path = tmp_path / "daemon.log"
    daemon = Daemon(path, port, log_path).start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=15) as smtp:
            smtp.sendmail("alice@acme.ch", ["support@help.example"], message(message_id=REQUEST_ID))
        wait_for(lambda: len(list((tmp_path / "outbox").glob("*.eml"))) == 2)
        wait_for(lambda: log_path.read_text().count("sent") >= 2)
    finally:
        assert daemon.stop() == 0, daemon.log()
    return log_path.read_text(encoding="utf-8").splitlines()


def _about_the_request(records: list[dict]) -> list[dict]:
    """Every record but the daemon's own start/stop and cluster bookkeeping."""
    return [r for r in records if r["logger"] not in ("maildesk.app", "maildesk.cluster")]


def _check(records: list[dict]) -> None:
    told = _about_the_request(records)
    actions = [(r["logger"], r["action"]) for r in told]
    assert actions[:2] == [("maildesk.intake", "accepted"), ("maildesk.worker", "created")]
    assert sorted(actions[2:4]) == [("maildesk.outbox", "queued")] * 2
    assert sorted(actions[4:]) == [("maildesk.sender", "sent")] * 2
    intake, decision = told[0], told[1]
    assert intake["from"] == "alice@acme.ch"
    assert intake["to"] == "support@help.example"
    assert intake["msgid"] == REQUEST_ID
    assert intake["source"] == "smtp"
    assert int(intake["size"]) > 100
    assert "ticket" not in intake  # it does not exist yet
    assert decision["ticket"] == "SUP-1"
    assert decision["from"] == "alice@acme.ch"
    assert decision["msgid"] == REQUEST_ID
    assert decision["subject"] == "Erreur lors de la transmission SwissDec pour M. Dupont"
    assert decision["reason"]
    notes = told[2:]
    assert all(r["ticket"] == "SUP-1" for r in notes)
    assert all(r["template"] and r["to"] for r in notes)
    queued = {(r["template"], r["to"], r["msgid"]) for r in notes if r["action"] == "queued"}
    sent = {(r["template"], r["to"], r["msgid"]) for r in notes if r["action"] == "sent"}
    assert queued == sent
    assert {(t, to) for t, to, _m in queued} == {
        ("ack", "alice@acme.ch"),
        ("staff_new_ticket", "consultant@help.example"),
    }


def _text_record(line: str) -> dict:
    _date, _time, level, logger, rest = line.split(" ", 4)
    return {"level": level, "logger": logger, **pairs(rest)}


def test_text_log_says_each_thing_once_in_order(db_url, tmp_path):
    lines = _one_request(tmp_path, db_url, "text")
    records = [_text_record(line) for line in lines]  # every line is key=value pairs
    _check(records)


def test_json_log_parses_line_by_line_with_the_same_fields(db_url, tmp_path):
    lines = _one_request(tmp_path, db_url, "json")
    records = [json.loads(line) for line in lines]
    assert all({"time", "level", "logger"} <= set(r) for r in records)
    _check(records)
    assert isinstance(_about_the_request(records)[0]["size"], int)
