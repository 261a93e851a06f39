"""The `[[imap]]` mailboxes maildesk watches: read and validated into frozen `ImapAccount`s.

Every error names its key (`imap[0].tls`) and what is allowed; nothing here connects to a
server or reads a password file (that happens when the mailbox logs in).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from maildesk.config.errors import ConfigError

NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
TLS_MODES = ("implicit", "starttls", "none")
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
DEFAULT_PORTS = {"implicit": 993, "starttls": 143, "none": 143}
# Servers drop an IDLE after 30 minutes (RFC 2177); renewing before 29 keeps it alive.
MAX_IDLE_RENEW_SECONDS = 29 * 60
CREDENTIALS = ("password", "password_file", "oauth2_token_command", "oauth2_token_file")


@dataclass(frozen=True)
class ImapAccount:
    name: str
    host: str
    username: str
    port: int = 993
    tls: str = "implicit"  # implicit | starttls | none (loopback only)
    # Exactly one way to authenticate; the secrets stay out of repr() and so out of logs.
    password: str = field(default="", repr=False)
    password_file: str = ""
    oauth2_token_command: str = ""  # prints an access token for XOAUTH2 (Microsoft 365, Gmail)
    oauth2_token_file: str = ""
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    queue: str = ""  # empty: the configured default queue
    idle: bool = True
    idle_renew_seconds: float = 600.0
    poll_seconds: float = 60.0
    timeout_seconds: float = 30.0

    @property
    def uses_oauth2(self) -> bool:
        return bool(self.oauth2_token_command or self.oauth2_token_file)


def accounts_from(raw: list, queues: Collection[str] | None = None) -> tuple[ImapAccount, ...]:
    """Validate the `[[imap]]` array; `queues`, when given, are the names `queue` may use."""
    if not isinstance(raw, list):
        raise ConfigError("imap: must be an array of tables ([[imap]])")
    accounts = tuple(_account(f"imap[{i}]", item, queues) for i, item in enumerate(raw))
    names = [a.name for a in accounts]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"imap: name {dupes[0]!r} is used twice (each mailbox needs its own)")
    return accounts


_TEXT = ("name", "host", "username", "tls", *CREDENTIALS, "folder")
_TEXT += ("processed_folder", "quarantine_folder", "queue")
_NUMBERS = ("idle_renew_seconds", "poll_seconds", "timeout_seconds")
ALLOWED = (*_TEXT, "port", "idle", *_NUMBERS)


def _account(where: str, item: Any, queues: Collection[str] | None) -> ImapAccount:
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: must be a table")
    unknown = sorted(set(item) - set(ALLOWED))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key (allowed: {', '.join(ALLOWED)})")
    for key in ("name", "host", "username"):
        if not item.get(key):
            raise ConfigError(f"{where}.{key}: required")
    values: dict[str, Any] = {k: _text(f"{where}.{k}", item[k]) for k in _TEXT if k in item}
    values |= {k: _positive(f"{where}.{k}", item[k]) for k in _NUMBERS if k in item}
    if "idle" in item:
        if not isinstance(item["idle"], bool):
            raise ConfigError(f"{where}.idle: must be true or false, got {item['idle']!r}")
        values["idle"] = item["idle"]
    tls = values.get("tls", "implicit")
    values["port"] = _port(f"{where}.port", item.get("port", DEFAULT_PORTS.get(tls, 993)))
    account = ImapAccount(**values)
    _check(where, account, queues)
    return account


def _check(where: str, account: ImapAccount, queues: Collection[str] | None) -> None:
    if not NAME_RE.match(account.name):
        raise ConfigError(
            f"{where}.name: {account.name!r} must be lower-case letters, digits, - or _"
        )
    if account.tls not in TLS_MODES:
        raise ConfigError(f"{where}.tls: {account.tls!r} is not allowed ({', '.join(TLS_MODES)})")
    if account.tls == "none" and account.host not in LOOPBACK:
        raise ConfigError(
            f"{where}.tls: 'none' sends the password in clear text, so it is only allowed "
            f"for a server on this machine (127.0.0.1, ::1, localhost), not {account.host!r}"
        )
    given = [key for key in CREDENTIALS if getattr(account, key)]
    if len(given) != 1:
        raise ConfigError(
            f"{where}.password: give exactly one of {', '.join(CREDENTIALS)}"
            + (f" (got {', '.join(given)})" if given else "")
        )
    folders = {"folder": account.folder, "processed_folder": account.processed_folder}
    folders["quarantine_folder"] = account.quarantine_folder
    for key, value in folders.items():
        if not value.strip():
            raise ConfigError(f"{where}.{key}: must not be empty")
    if len(set(folders.values())) != 3:
        raise ConfigError(
            f"{where}.processed_folder: folder, processed_folder and quarantine_folder "
            "must be three different folders"
        )
    if account.idle_renew_seconds > MAX_IDLE_RENEW_SECONDS:
        raise ConfigError(
            f"{where}.idle_renew_seconds: {account.idle_renew_seconds:g} is too long; servers "
            f"drop IDLE after 30 minutes (at most {MAX_IDLE_RENEW_SECONDS})"
        )
    if account.queue and queues is not None and account.queue not in queues:
        raise ConfigError(
            f"{where}.queue: {account.queue!r} is not a configured queue "
            f"(queues: {', '.join(queues)})"
        )


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: must be a string, got {type(value).__name__}")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ConfigError(f"{key}: must not contain control characters (line breaks, tabs)")
    return value


def _positive(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{key}: must be a positive number of seconds, got {value!r}")
    return float(value)


def _port(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ConfigError(f"{key}: must be a port number 1-65535, got {value!r}")
    return value
