"""The log's two forms: key=value text and JSON lines, for ours and libraries' records."""

from __future__ import annotations

import json
import logging

import pytest

from maildesk import logs
from maildesk.cli import build_parser
from tests.unit.test_logs import HOSTILE_SUBJECT, pairs


def _record(name: str, msg: str, fields: dict | None = None) -> logging.LogRecord:
    record = logging.LogRecord(name, logging.WARNING, __file__, 1, "%s", (msg,), None)
    if fields is not None:
        record.fields = fields
    return record


def test_json_line_carries_the_same_fields_on_one_line():
    fields = {"ticket": "SUP-1", "action": "created", "subject": HOSTILE_SUBJECT, "size": 12}
    out = logs.JsonFormatter().format(_record("maildesk.worker", logs.line(**fields), fields))
    assert len(out.splitlines()) == 1
    parsed = json.loads(out)
    assert parsed["logger"] == "maildesk.worker"
    assert parsed["level"] == "WARNING"
    assert {k: parsed[k] for k in fields} == fields


def test_a_library_record_is_one_escaped_value_in_either_form():
    hostile = "connection reset\r\nticket=SUP-9 action=closed"
    text = logs.TextFormatter().format(_record("mail.log", hostile))
    assert len(text.splitlines()) == 1
    _date, _time, level, logger, rest = text.split(" ", 4)
    assert (level, logger) == ("WARNING", "mail.log")
    assert pairs(rest) == {"message": hostile}
    parsed = json.loads(logs.JsonFormatter().format(_record("apscheduler.scheduler", hostile)))
    assert parsed["message"] == hostile


@pytest.mark.parametrize(
    "argv",
    [
        ["--log-level", "DEBUG", "tickets", "list"],
        ["tickets", "--log-level", "DEBUG", "list"],
        ["tickets", "list", "--log-level", "DEBUG"],
        ["spool", "list", "--state", "quarantined", "--log-level", "DEBUG"],
    ],
)
def test_log_level_is_accepted_anywhere(argv):
    assert build_parser().parse_args(argv).log_level == "DEBUG"


def test_log_level_defaults_to_info_wherever_it_is_missing():
    assert build_parser().parse_args(["outbox", "retry", "--dead"]).log_level == "INFO"


@pytest.fixture
def installed():
    """logs.setup as the command line calls it; its handler removed again afterwards."""
    yield logs.setup
    root = logging.getLogger()
    if logs._handler is not None:
        root.removeHandler(logs._handler)
        logs._handler = None


def test_setup_sends_library_warnings_through_the_same_json_formatter(installed, capsys):
    installed("INFO", "json")
    logging.getLogger("mail.log").info("per-connection chatter")  # below WARNING: dropped
    logging.getLogger("mail.log").warning("SMTP session exception")
    logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed")
    logs.decision(logging.getLogger("maildesk.worker"), ticket="SUP-1", action="created")
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    assert [(x["logger"], x.get("message") or x.get("action")) for x in lines] == [
        ("mail.log", "SMTP session exception"),
        ("apscheduler.scheduler", "Run time of job was missed"),
        ("maildesk.worker", "created"),
    ]
    assert lines[2]["ticket"] == "SUP-1"


def test_a_second_setup_replaces_the_first_handler(installed, capsys):
    installed("INFO", "json")
    installed("INFO", "text")
    logs.decision(logging.getLogger("maildesk.worker"), ticket="SUP-2", action="created")
    [line] = capsys.readouterr().err.splitlines()
    assert line.endswith("INFO maildesk.worker ticket=SUP-2 action=created")
