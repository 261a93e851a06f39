"""One line per decision on stderr, `key=value` pairs an admin can grep (or JSON).

Values are escaped, never trusted: a customer's subject with CR/LF or ANSI escapes
cannot forge a second log line or repaint the terminal. With `[logging] format = "json"`
each line is one JSON object with the same fields (ASCII only, so no character in a value
can split it). Libraries' own warnings (aiosmtpd, APScheduler, SQLAlchemy) go through the
same formatter, as `logger` and `message` fields.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime

_NEEDS_QUOTES = re.compile(r'[\s"=\\]')
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
FORMATS = ("text", "json")
# Libraries whose records pass the formatter too, at WARNING and above.
LIBRARIES = ("mail.log", "apscheduler", "sqlalchemy", "alembic", "imapclient", "asyncio")


# syslog priorities: systemd's journal reads a `<N>` prefix on each line of a service's
# stderr, so `journalctl -p err` finds quarantines and delivery failures.
PRIORITIES = {"CRITICAL": 2, "ERROR": 3, "WARNING": 4, "INFO": 6, "DEBUG": 7}
_handler: logging.Handler | None = None


def setup(level: str = "INFO", fmt: str = "text", file: str = "") -> None:
    """Every record through one formatter: maildesk's at `level`, libraries' warnings and
    errors (aiosmtpd's per-connection INFO lines would drown the decisions). Lines go to
    `file` when given (reopened by `reopen()`), else to stderr, with syslog priority
    prefixes when stderr is the journal ($JOURNAL_STREAM names it)."""
    global _handler  # noqa: PLW0603 - one handler of ours, replaced by a second setup
    if file:
        handler: logging.Handler = logging.FileHandler(file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    journal = not file and _stderr_is_journal()
    handler.setFormatter(JsonFormatter(journal) if fmt == "json" else TextFormatter(journal))
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
    root.addHandler(handler)
    _handler = handler
    root.setLevel(logging.WARNING)
    ours = logging.getLogger("maildesk")
    ours.handlers[:] = []
    ours.setLevel(level)
    ours.propagate = True
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def _priority(record: logging.LogRecord) -> str:
    return f"<{PRIORITIES.get(record.levelname, 6)}>"


class TextFormatter(logging.Formatter):
    """`2026-03-02 09:00:00,123 INFO maildesk.worker ticket=SUP-1 action=created …`; a
    library's message is escaped as one `message=` value. To the journal, which stamps
    its own time: `<6>INFO maildesk.worker …`."""

    def __init__(self, journal: bool = False) -> None:
        self.journal = journal
        time = "" if journal else "%(asctime)s "
        super().__init__(time + "%(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return _priority(record) + text if self.journal else text

    def formatMessage(self, record: logging.LogRecord) -> str:
        if getattr(record, "fields", None) is None:
            record.message = line(message=record.message)
        return super().formatMessage(record)

    def formatException(self, ei) -> str:
        return " " + line(exception=super().formatException(ei))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, then the decision's fields (or the
    library's `message`)."""

    def __init__(self, journal: bool = False) -> None:
        super().__init__()
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if fields is None:
            out["message"] = record.getMessage()
        else:
            out |= {k: _json_value(v) for k, v in fields.items() if v is not None}
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        text = json.dumps(out, ensure_ascii=True, default=str)
        return _priority(record) + text if self.journal else text


def _json_value(value: object) -> object:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return str(value)


def reopen() -> str | None:
    """Reopen the log file (after logrotate moved it); return its path, or None."""
    for handler in (_handler,):
        if isinstance(handler, logging.FileHandler):
            with handler.lock:
                old, handler.stream = handler.stream, handler._open()
            if old is not None:
                old.close()
            return handler.baseFilename
    return None


def _stderr_is_journal() -> bool:
    device, _, inode = os.environ.get("JOURNAL_STREAM", "").partition(":")
    try:
        found = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return f"{found.st_dev}:{found.st_ino}" == f"{device}:{inode}"


def escape(value: object) -> str:
    text = str(value)
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = _CONTROL.sub(_escape_char, escaped)
    if escaped == "" or escaped != text or _NEEDS_QUOTES.search(escaped):
        return f'"{escaped}"'
    return escaped


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def line(**fields: object) -> str:
    """`ticket=SUP-12 msgid=<…> action=appended reason=subject-tag` (None fields omitted)."""
    return " ".join(f"{k}={escape(v)}" for k, v in fields.items() if v is not None)


def decision(logger: logging.Logger, level: int = logging.INFO, **fields: object) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, "%s", line(**fields), extra={"fields": fields})
