"""Checkers for single configuration values: each returns the value or raises ConfigError
naming the key and what is allowed."""

from __future__ import annotations

import importlib.util
import re
import zoneinfo
from typing import Any

from maildesk.addresses import normalise_address
from maildesk.config.errors import ConfigError

LANGUAGES = ("fr", "de", "it", "en")
OUTBOUND_TLS_MODES = ("none", "starttls", "tls")


def _str(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: must be a string, got {type(value).__name__}")
    return value


def _header_text(key: str, value: Any) -> str:
    text = _str(key, value)
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ConfigError(f"{key}: must not contain control characters (line breaks, tabs)")
    return text


_PASSWORD_IN_URL = re.compile(r"(://[^/:@]*:)[^@/]*@")


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***`: what logs, errors and output may show."""
    return _PASSWORD_IN_URL.sub(r"\1***@", url)


def _url(key: str, value: Any) -> str:
    text = _str(key, value)
    if not text.startswith(("sqlite:///", "postgresql+psycopg://", "postgresql://")):
        raise ConfigError(
            f"{key}: {redact_url(text)!r} is not supported (allowed: sqlite:///PATH, "
            "postgresql+psycopg://USER@HOST:PORT/DB)"
        )
    text = text.replace("postgresql://", "postgresql+psycopg://", 1)
    if text.startswith("postgresql") and importlib.util.find_spec("psycopg") is None:
        raise ConfigError(
            f"{key}: PostgreSQL needs the psycopg driver, which is not installed: "
            "pip install 'maildesk[postgresql]'"
        )
    return text


def _positive_int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{key}: must be a positive integer, got {value!r}")
    return value


def _count(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{key}: must be a whole number, 0 or more, got {value!r}")
    return value


def _positive_float(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{key}: must be a positive number, got {value!r}")
    return float(value)


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: must be true or false, got {value!r}")
    return value


def _outbound_tls(key: str, value: Any) -> str:
    mode = _str(key, value)
    if mode not in OUTBOUND_TLS_MODES:
        raise ConfigError(
            f"{key}: {mode!r} is not allowed (allowed: {', '.join(OUTBOUND_TLS_MODES)})"
        )
    return mode


def _cap(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{key}: must be a whole number, 0 for no cap, got {value!r}")
    return value


MAX_MIME_DEPTH = 200  # deeper trees come near the parser's recursion limit


def _mime_depth(key: str, value: Any) -> int:
    depth = _positive_int(key, value)
    if depth > MAX_MIME_DEPTH:
        raise ConfigError(
            f"{key}: at most {MAX_MIME_DEPTH} (the parser recurses once per level), got {value!r}"
        )
    return depth


def _worker_count(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 16:
        raise ConfigError(f"{key}: must be a whole number from 0 to 16, got {value!r}")
    return value


def _relay_timeout(key: str, value: Any) -> float:
    seconds = _positive_float(key, value)
    if seconds > 60:
        raise ConfigError(
            f"{key}: at most 60 seconds (a notification being sent is leased "
            f"for 90 s), got {value!r}"
        )
    return seconds


def _port(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ConfigError(f"{key}: must be a port number 0-65535, got {value!r}")
    return value


def _string_list(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{key}: must be an array of non-empty strings")
    return tuple(v.strip().lower() for v in value)


def _address(key: str, value: Any) -> str:
    address = normalise_address(_str(key, value))
    if address is None:
        raise ConfigError(f"{key}: {value!r} is not a plain mail address (user@domain)")
    return address


def _address_list(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{key}: must be an array of mail addresses")
    return tuple(_address(f"{key}[{i}]", v) for i, v in enumerate(value))


def _language(key: str, value: Any) -> str:
    lang = _str(key, value)
    if lang not in LANGUAGES:
        raise ConfigError(f"{key}: {lang!r} is not a supported language ({', '.join(LANGUAGES)})")
    return lang


def _languages(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{key}: must be a non-empty array of languages ({', '.join(LANGUAGES)})")
    found = tuple(_language(f"{key}[{i}]", v) for i, v in enumerate(value))
    if len(set(found)) != len(found):
        raise ConfigError(f"{key}: lists a language twice")
    return found


def _timezone(key: str, value: Any) -> str:
    name = _str(key, value)
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{key}: {name!r} is not a known IANA time zone (e.g. Europe/Zurich)"
        ) from None
    return name


def _batch_size(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise ConfigError(f"{key}: must be a whole number from 1 to 1000, got {value!r}")
    return value
