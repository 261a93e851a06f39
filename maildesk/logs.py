"""One line per decision on stderr, `key=value` pairs an admin can grep.

Values are escaped, never trusted: a customer's subject with CR/LF or ANSI escapes
cannot forge a second log line or repaint the terminal.
"""

from __future__ import annotations

import logging
import re
import sys

_NEEDS_QUOTES = re.compile(r'[\s"=\\]')
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def setup(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("maildesk")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


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
