"""What the admin operating maildesk sets: the log format and the metrics listener.

`[logging] format = "text" | "json"` and `file` (stderr when empty), and `[metrics]
listen = "HOST:PORT"` (empty: no metrics endpoint, the default).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from maildesk.config.errors import ConfigError
from maildesk.config.values import _str

LOG_FORMATS = ("text", "json")
_HOST_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$")


@dataclass(frozen=True)
class LoggingConfig:
    format: str = "text"  # text: key=value pairs; json: one JSON object per line
    file: str = ""  # empty: stderr (the journal under systemd); SIGHUP reopens the file


@dataclass(frozen=True)
class MetricsConfig:
    listen: str = ""  # "127.0.0.1:9464": serve Prometheus metrics there; "": off

    @property
    def address(self) -> tuple[str, int] | None:
        if not self.listen:
            return None
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


def _log_format(key: str, value: Any) -> str:
    if value not in LOG_FORMATS:
        allowed = ", ".join(map(repr, LOG_FORMATS))
        raise ConfigError(f"{key}: must be one of {allowed}, got {value!r}")
    return value


def _listen(key: str, value: Any) -> str:
    """`HOST:PORT` (an IPv6 host in brackets), or "" for off."""
    if not isinstance(value, str):
        raise ConfigError(f'{key}: must be a string "HOST:PORT", got {type(value).__name__}')
    if value == "":
        return value
    host, sep, port = value.rpartition(":")
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    valid_host = bool(bare) and (_is_ip(bare) or bool(_HOST_RE.match(bare)))
    if not sep or not valid_host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(
            f'{key}: {value!r} is not HOST:PORT (e.g. "127.0.0.1:9464"; "" turns metrics off)'
        )
    return value


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


LOGGING_FIELDS = {"format": _log_format, "file": _str}
METRICS_FIELDS = {"listen": _listen}
