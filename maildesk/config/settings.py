"""Configuration: one TOML file, loaded once into frozen dataclasses and validated.

A wrong key or value stops start-up with a message naming the key and what is allowed;
nothing reads configuration from globals afterwards: the objects are passed along.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from maildesk.config.errors import ConfigError
from maildesk.config.hours import BusinessHoursConfig
from maildesk.config.hours import from_mapping as business_hours_from_mapping
from maildesk.config.imap import LOOPBACK, ImapAccount, accounts_from
from maildesk.config.quality import QualityConfig
from maildesk.config.quality import from_mapping as quality_from_mapping
from maildesk.config.sla import DEFAULT_OBJECTIVES, Objective
from maildesk.config.values import (
    _address,
    _address_list,
    _batch_size,
    _bool,
    _cap,
    _header_text,
    _language,
    _outbound_tls,
    _port,
    _positive_float,
    _positive_int,
    _relay_timeout,
    _str,
    _string_list,
    _timezone,
    _url,
    _worker_count,
)

DEFAULT_DB_URL = "sqlite:///maildesk.db"
KEY_PREFIX_RE = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")
SECTIONS = (
    "database",
    "smtp",
    "outbound",
    "queues",
    "staff",
    "clock",
    "processing",
    "templates",
    "quality",
    "reminders",
    "business_hours",
    "sla",
    "scheduler",
    "cluster",
    "imap",
)
QUEUE_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = DEFAULT_DB_URL


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "127.0.0.1"
    port: int = 2525
    max_message_bytes: int = 25 * 1024 * 1024
    # Open connections at once: in all, and from one client address. Past either, a new
    # connection is greeted with `421` and closed (the client retries later).
    max_connections: int = 100
    max_connections_per_client: int = 20
    # Messages one envelope sender may deliver per minute (sliding window, per instance);
    # past it, MAIL FROM answers `451 4.7.1` and the sender retries later. 0: no limit.
    messages_per_sender_per_minute: int = 60


@dataclass(frozen=True)
class OutboundConfig:
    host: str = ""
    port: int = 25
    from_address: str = "support@example.com"
    from_name: str = "Customer Services"
    pickup_dir: str = "outbox"
    message_id_secret: str = ""
    timeout_seconds: float = 30.0
    max_attempts: int = 12
    retry_seconds: float = 60.0
    auto_replies_per_hour: int = 5
    # How the relay connection is protected: "none", "starttls" (required: never falls
    # back to plain text) or "tls" (implicit TLS from the first byte, e.g. port 465).
    tls: str = "none"
    tls_verify: bool = True  # check the relay's certificate and name (starttls / tls)
    ca_file: str = ""  # PEM file of the CAs to trust instead of the system's
    username: str = ""  # AUTH at the relay when set, with password or password_file
    password: str = field(default="", repr=False)
    password_file: str = ""


@dataclass(frozen=True)
class TemplatesConfig:
    directory: str = ""  # empty: the templates/emails folder shipped with maildesk
    default_language: str = "fr"


CLOSED_REPLY_MODES = ("bounce", "reopen", "new_ticket")


@dataclass(frozen=True)
class Queue:
    name: str
    key_prefix: str
    addresses: tuple[str, ...]
    closed_reply: str = "bounce"  # what a customer's reply to a closed ticket does


@dataclass(frozen=True)
class StaffConfig:
    addresses: tuple[str, ...] = ()
    # A mail from a staff address is staff only if it answers one of our signed
    # Message-IDs and, when this list is set, carries a passing DKIM/DMARC result
    # (Authentication-Results) from one of these authserv-ids (your receiving server).
    trusted_authserv_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClockConfig:
    timezone: str = "Europe/Zurich"


@dataclass(frozen=True)
class ProcessingConfig:
    max_attempts: int = 3
    poll_seconds: float = 2.0
    default_queue: str = ""
    workers: int = 1  # processes that process spooled mail; 0: in the daemon's own process
    # New tickets one sender address may open per hour; past it, mail joins their latest
    # open ticket of that hour instead (a robot with fresh subjects). 0: no cap.
    new_tickets_per_sender_per_hour: int = 20
    # Spooled messages applied together in one transaction (1: one at a time).
    batch_size: int = 20


@dataclass(frozen=True)
class RemindersConfig:
    first_days: int = 10
    second_days: int = 15
    close_days: int = 20


@dataclass(frozen=True)
class SlaConfig:
    objectives: dict[str, Objective] = field(default_factory=lambda: dict(DEFAULT_OBJECTIVES))
    at_risk_share: float = 0.75


@dataclass(frozen=True)
class SchedulerConfig:
    tick_seconds: float = 60.0


@dataclass(frozen=True)
class ClusterConfig:
    lease_seconds: float = 30.0  # a dead instance's IMAP mailboxes are taken over within this


DEFAULT_QUEUES = (
    Queue("support", "SUP", ("support@example.com",)),
    Queue("consulting", "CON", ("consulting@example.com",)),
)


@dataclass(frozen=True)
class Config:
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    outbound: OutboundConfig = field(default_factory=OutboundConfig)
    queues: tuple[Queue, ...] = DEFAULT_QUEUES
    staff: StaffConfig = field(default_factory=StaffConfig)
    clock: ClockConfig = field(default_factory=ClockConfig)
    processing: ProcessingConfig = field(default_factory=ProcessingConfig)
    templates: TemplatesConfig = field(default_factory=TemplatesConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    reminders: RemindersConfig = field(default_factory=RemindersConfig)
    business_hours: BusinessHoursConfig = field(default_factory=BusinessHoursConfig)
    sla: SlaConfig = field(default_factory=SlaConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    imap: tuple[ImapAccount, ...] = ()
    source: str = "(embedded defaults)"

    def queue_for_address(self, address: str) -> Queue | None:
        address = address.lower()
        for queue in self.queues:
            if address in queue.addresses:
                return queue
        return None

    def queue_named(self, name: str) -> Queue:
        for queue in self.queues:
            if queue.name == name:
                return queue
        raise KeyError(name)

    @property
    def default_queue(self) -> Queue:
        name = self.processing.default_queue
        return self.queue_named(name) if name else self.queues[0]

    @property
    def own_addresses(self) -> frozenset[str]:
        """Every address maildesk sends from: mail from these is never answered (loops)."""
        addrs = {a for q in self.queues for a in q.addresses}
        addrs.add(self.outbound.from_address.lower())
        return frozenset(addrs)


# --- loading -----------------------------------------------------------------------


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """Load from `path`, else $MAILDESK_CONFIG, else the embedded defaults."""
    path = path or os.environ.get("MAILDESK_CONFIG")
    if not path:
        return Config()
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such configuration file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    return from_mapping(data, source=str(file))


def from_mapping(data: dict[str, Any], source: str = "(mapping)") -> Config:
    reader = _Reader(data)
    queues = _queues(reader.data.pop("queues", None))
    config = Config(
        database=reader.section("database", DatabaseConfig, {"url": _url}),
        smtp=reader.section(
            "smtp",
            SmtpConfig,
            {
                "host": _str,
                "port": _port,
                "max_message_bytes": _positive_int,
                "max_connections": _positive_int,
                "max_connections_per_client": _positive_int,
                "messages_per_sender_per_minute": _cap,
            },
        ),
        outbound=reader.section(
            "outbound",
            OutboundConfig,
            {
                "host": _str,
                "port": _port,
                "from_address": _address,
                "from_name": _header_text,
                "pickup_dir": _str,
                "message_id_secret": _str,
                "timeout_seconds": _relay_timeout,
                "max_attempts": _positive_int,
                "retry_seconds": _positive_float,
                "auto_replies_per_hour": _positive_int,
                "tls": _outbound_tls,
                "tls_verify": _bool,
                "ca_file": _str,
                "username": _header_text,
                "password": _str,
                "password_file": _str,
            },
        ),
        queues=queues,
        staff=reader.section(
            "staff",
            StaffConfig,
            {"addresses": _address_list, "trusted_authserv_ids": _string_list},
        ),
        clock=reader.section("clock", ClockConfig, {"timezone": _timezone}),
        processing=reader.section(
            "processing",
            ProcessingConfig,
            {
                "max_attempts": _positive_int,
                "poll_seconds": _positive_float,
                "default_queue": _str,
                "workers": _worker_count,
                "new_tickets_per_sender_per_hour": _cap,
                "batch_size": _batch_size,
            },
        ),
        templates=reader.section(
            "templates",
            TemplatesConfig,
            {"directory": _str, "default_language": _language},
        ),
        quality=_quality(reader.data.pop("quality", {})),
        reminders=reader.section(
            "reminders",
            RemindersConfig,
            {
                "first_days": _positive_int,
                "second_days": _positive_int,
                "close_days": _positive_int,
            },
        ),
        business_hours=_business_hours(reader.data.pop("business_hours", {}), data),
        sla=_sla(reader.data.pop("sla", {})),
        scheduler=reader.section("scheduler", SchedulerConfig, {"tick_seconds": _positive_float}),
        cluster=reader.section("cluster", ClusterConfig, {"lease_seconds": _positive_float}),
        imap=_imap(reader.data.pop("imap", []), queues),
        source=source,
    )
    r = config.reminders
    if not r.first_days < r.second_days < r.close_days:
        raise ConfigError(
            "reminders: first_days < second_days < close_days is required "
            f"(got {r.first_days}, {r.second_days}, {r.close_days})"
        )
    reader.reject_unknown()
    _check_smtp(config.smtp)
    _check_outbound(config.outbound)
    if config.processing.default_queue:
        try:
            config.queue_named(config.processing.default_queue)
        except KeyError:
            names = ", ".join(q.name for q in config.queues)
            raise ConfigError(
                f"processing.default_queue: {config.processing.default_queue!r} is not a "
                f"configured queue (queues: {names})"
            ) from None
    return config


def _check_smtp(smtp: SmtpConfig) -> None:
    if smtp.max_connections_per_client > smtp.max_connections:
        raise ConfigError(
            f"smtp.max_connections_per_client: at most smtp.max_connections "
            f"({smtp.max_connections}), got {smtp.max_connections_per_client}"
        )


def _check_outbound(out: OutboundConfig) -> None:
    """TLS options without TLS, or a password that would cross the network in clear text."""
    if out.tls == "none":
        for key in ("ca_file", "tls_verify"):
            if getattr(out, key) != getattr(OutboundConfig, key):
                raise ConfigError(
                    f"outbound.{key}: only used with tls = 'starttls' or 'tls' (tls is 'none')"
                )
    if out.ca_file and not Path(out.ca_file).is_file():
        raise ConfigError(f"outbound.ca_file: {out.ca_file!r}: no such file")
    secrets = [key for key in ("password", "password_file") if getattr(out, key)]
    if not out.username:
        if secrets:
            raise ConfigError(f"outbound.username: required when outbound.{secrets[0]} is set")
        return
    if len(secrets) != 1:
        raise ConfigError(
            "outbound.password: give exactly one of password, password_file with username"
            + (" (got both)" if secrets else "")
        )
    if out.tls == "none" and out.host not in LOOPBACK:
        raise ConfigError(
            "outbound.tls: 'none' would send the relay password in clear text, so AUTH "
            f"needs tls = 'starttls' or 'tls' for a relay not on this machine ({out.host!r})"
        )


class _Reader:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = dict(data)

    def section(self, name: str, cls: type, fields: dict[str, Any]) -> Any:
        raw = self.data.pop(name, {})
        if not isinstance(raw, dict):
            raise ConfigError(f"[{name}] must be a table, got {type(raw).__name__}")
        unknown = sorted(set(raw) - set(fields))
        if unknown:
            raise ConfigError(
                f"{name}.{unknown[0]}: unknown key (allowed in [{name}]: {', '.join(fields)})"
            )
        values = {
            key: check(f"{name}.{key}", raw[key]) for key, check in fields.items() if key in raw
        }
        return cls(**values)

    def reject_unknown(self) -> None:
        if self.data:
            key = sorted(self.data)[0]
            raise ConfigError(f"{key}: unknown section (allowed: {', '.join(SECTIONS)})")


def _queues(raw: Any) -> tuple[Queue, ...]:
    if raw is None:
        return DEFAULT_QUEUES
    if not isinstance(raw, list) or not raw:
        raise ConfigError("queues: must be a non-empty array of tables ([[queues]])")
    queues = [_queue(f"queues[{i}]", item) for i, item in enumerate(raw)]
    seen: dict[str, str] = {}
    for queue in queues:
        for address in queue.addresses:
            if address in seen:
                raise ConfigError(f"queues: {address} belongs to two queues")
            seen[address] = queue.name
    for attr in ("name", "key_prefix"):
        values = [getattr(q, attr) for q in queues]
        dupes = {v for v in values if values.count(v) > 1}
        if dupes:
            raise ConfigError(f"queues: {attr} {sorted(dupes)[0]!r} is used twice")
    return tuple(queues)


def _business_hours(raw: Any, data: dict[str, Any]) -> BusinessHoursConfig:
    if not isinstance(raw, dict):
        raise ConfigError("[business_hours] must be a table")
    raw = dict(raw)
    clock = data.get("clock", {})
    if "timezone" not in raw and isinstance(clock, dict) and "timezone" in clock:
        raw["timezone"] = clock["timezone"]  # one time zone unless told otherwise
    try:
        return business_hours_from_mapping(raw)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _sla(raw: Any) -> SlaConfig:
    if not isinstance(raw, dict):
        raise ConfigError("[sla] must be a table")
    levels = tuple(DEFAULT_OBJECTIVES)
    allowed = ("at_risk_share", *levels)
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise ConfigError(f"sla.{unknown[0]}: unknown key (allowed: {', '.join(allowed)})")
    share = raw.get("at_risk_share", 0.75)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
        raise ConfigError(f"sla.at_risk_share: must be a number in (0, 1], got {share!r}")
    objectives = dict(DEFAULT_OBJECTIVES)
    for level in levels:
        if level in raw:
            objectives[level] = _objective(f"sla.{level}", raw[level], objectives[level])
    return SlaConfig(objectives, float(share))


def _objective(key: str, raw: Any, default: Objective) -> Objective:
    if not isinstance(raw, dict):
        raise ConfigError(f"[{key}] must be a table with first_response_hours, resolution_hours")
    unknown = sorted(set(raw) - {"first_response_hours", "resolution_hours"})
    if unknown:
        raise ConfigError(
            f"{key}.{unknown[0]}: unknown key (allowed: first_response_hours, resolution_hours)"
        )
    first = raw.get("first_response_hours", default.first_response.total_seconds() / 3600)
    resolution = raw.get("resolution_hours", default.resolution.total_seconds() / 3600)
    hours = {"first_response_hours": first, "resolution_hours": resolution}
    for name, value in hours.items():
        _positive_float(f"{key}.{name}", value)
    try:
        return Objective(timedelta(hours=first), timedelta(hours=resolution))
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None


def _imap(raw: Any, queues: tuple[Queue, ...]) -> tuple[ImapAccount, ...]:
    return accounts_from(raw, queues=[q.name for q in queues])


def _quality(raw: Any) -> QualityConfig:
    if not isinstance(raw, dict):
        raise ConfigError("[quality] must be a table")
    try:
        return quality_from_mapping(raw)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _queue(where: str, item: Any) -> Queue:
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: must be a table")
    allowed = ("name", "key_prefix", "addresses", "closed_reply")
    unknown = sorted(set(item) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key (allowed: {', '.join(allowed)})")
    closed_reply = _str(f"{where}.closed_reply", item.get("closed_reply", "bounce"))
    if closed_reply not in CLOSED_REPLY_MODES:
        raise ConfigError(
            f"{where}.closed_reply: {closed_reply!r} is not allowed "
            f"(allowed: {', '.join(CLOSED_REPLY_MODES)})"
        )
    for key in ("name", "key_prefix", "addresses"):
        if key not in item:
            raise ConfigError(f"{where}.{key}: required")
    name = _str(f"{where}.name", item["name"])
    if not QUEUE_NAME_RE.match(name):
        raise ConfigError(f"{where}.name: {name!r} must be lower-case letters, digits, - or _")
    prefix = _str(f"{where}.key_prefix", item["key_prefix"])
    if not KEY_PREFIX_RE.match(prefix):
        raise ConfigError(
            f"{where}.key_prefix: {prefix!r} must be 2-10 capital letters or digits, "
            "starting with a letter (e.g. SUP)"
        )
    addresses = _address_list(f"{where}.addresses", item["addresses"])
    if not addresses:
        raise ConfigError(f"{where}.addresses: at least one address is required")
    return Queue(name, prefix, addresses, closed_reply)


# --- value checkers: each names the key and what is allowed --------------------------
