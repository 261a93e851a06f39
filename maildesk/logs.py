"""One line per decision on stderr, `key=value` pairs an admin can grep.

Values are escaped, never trusted: a customer's subject with CR/LF or ANSI escapes
cannot forge a second log line or repaint the terminal.
"""

from __future__ import annotations

import logging
import os
import re
import sys

_NEEDS_QUOTES = re.compile(r'[\s"=\\]')
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# syslog priorities: systemd's journal reads a `<N>` prefix on each line of a service's
# stderr, so `journalctl -p err` finds quarantines and delivery failures.
PRIORITIES = {"CRITICAL": 2, "ERROR": 3, "WARNING": 4, "INFO": 6, "DEBUG": 7}


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"<{PRIORITIES.get(record.levelname, 6)}>{super().format(record)}"


def setup(level: str = "INFO", file: str = "") -> None:
    """Log lines go to `file` when given (reopened by `reopen()`), else to stderr: with
    priority prefixes when stderr is the journal ($JOURNAL_STREAM names it)."""
    if file:
        handler: logging.Handler = logging.FileHandler(file, encoding="utf-8")
        handler.setFormatter(logging.Formatter(FORMAT))
    else:
        handler = logging.StreamHandler(sys.stderr)
        journal = _stderr_is_journal()
        handler.setFormatter(
            _JournalFormatter("%(levelname)s %(name)s %(message)s")
            if journal
            else logging.Formatter(FORMAT)
        )
    root = logging.getLogger("maildesk")
    for old in root.handlers:
        old.close()
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def reopen() -> str | None:
    """Reopen the log file (after logrotate moved it); return its path, or None."""
    for handler in logging.getLogger("maildesk").handlers:
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
    logger.log(level, "%s", line(**fields))
