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
