"""Configuration: one TOML file, loaded once into frozen dataclasses and validated.

A wrong key or value stops start-up with a message naming the key and what is allowed;
nothing reads configuration from globals afterwards: the objects are passed along.
"""

from __future__ import annotations

import os
import ssl
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

from maildesk.config.edge import _networks, _spam_headers
from maildesk.config.errors import ConfigError
from maildesk.config.hours import BusinessHoursConfig
from maildesk.config.hours import from_mapping as business_hours_from_mapping
from maildesk.config.imap import LOOPBACK, ImapAccount, accounts_from
from maildesk.config.operating import (
    LOGGING_FIELDS,
    METRICS_FIELDS,
    MetricsConfig,
)
from maildesk.config.paths import resolve_paths
from maildesk.config.quality import QualityConfig
from maildesk.config.quality import from_mapping as quality_from_mapping
from maildesk.config.sections import (
    CLOSED_REPLY_MODES,
    DEFAULT_QUEUES,
    KEY_PREFIX_RE,
    QUEUE_NAME_RE,
    SECTIONS,
    ClockConfig,
    ClusterConfig,
    Config,
    DatabaseConfig,
    LanguagesConfig,
    LoggingConfig,
    OutboundConfig,
    ProcessingConfig,
    Queue,
    RemindersConfig,
    SchedulerConfig,
    SlaConfig,
    SmtpConfig,
    StaffConfig,
    StatusConfig,
    TemplatesConfig,
)
from maildesk.config.sla import DEFAULT_OBJECTIVES, Objective
from maildesk.config.staff import digest_from, people_from
from maildesk.config.values import (
    _address,
    _address_list,
    _batch_size,
    _bool,
    _cap,
    _count,
    _header_text,
    _language,
    _languages,
    _mime_depth,
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
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the configuration file: {exc.strerror}") from None
    return from_mapping(resolve_paths(data, file.resolve().parent), source=str(file))


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
                "trusted_relays": _networks,
                "tls_cert_file": _str,
                "tls_key_file": _str,
                "require_tls": _bool,
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
            {
                "addresses": _address_list,
                "trusted_authserv_ids": _string_list,
                "attachments_max_bytes": _positive_int,
                "people": people_from,
            },
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
                "max_header_fields": _positive_int,
                "max_mime_parts": _positive_int,
                "max_mime_depth": _mime_depth,
                "max_attachments": _positive_int,
                "max_content_type_parameters": _positive_int,
                "spam_headers": _spam_headers,
                "batch_size": _batch_size,
            },
        ),
        templates=reader.section(
            "templates",
            TemplatesConfig,
            {"directory": _str, "default_language": _language},
        ),
        languages=reader.section("languages", LanguagesConfig, {"enabled": _languages}),
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
        cluster=reader.section(
            "cluster",
            ClusterConfig,
            {"lease_seconds": _positive_float, "forget_after": _positive_float},
        ),
        imap=_imap(reader.data.pop("imap", []), queues),
        logging=reader.section("logging", LoggingConfig, LOGGING_FIELDS),
        metrics=reader.section("metrics", MetricsConfig, METRICS_FIELDS),
        status=reader.section(
            "status",
            StatusConfig,
            {
                "pending_warning_minutes": _positive_float,
                "pending_critical_minutes": _positive_float,
                "quarantined_warning": _count,
                "dead_warning": _count,
            },
        ),
        digest=digest_from(reader.data.pop("digest", {})),
        source=source,
    )
    _check_people(config)
    r = config.reminders
    if not r.first_days < r.second_days < r.close_days:
        raise ConfigError(
            "reminders: first_days < second_days < close_days is required "
            f"(got {r.first_days}, {r.second_days}, {r.close_days})"
        )
    reader.reject_unknown()
    if config.templates.default_language not in config.languages.enabled:
        raise ConfigError(
            f"templates.default_language: {config.templates.default_language!r} is not in "
            f"languages.enabled ({', '.join(config.languages.enabled)})"
        )
    _check_smtp(config.smtp)
    _check_cluster(config.cluster)
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


def _check_people(config: Config) -> None:
    names = {q.name for q in config.queues}
    for address, person in config.staff.people.items():
        if address not in config.staff.addresses:
            raise ConfigError(f'staff.people."{address}": not one of staff.addresses')
        for queue in person.queues:
            if queue not in names:
                raise ConfigError(
                    f'staff.people."{address}".queues: {queue!r} is not a configured queue '
                    f"(queues: {', '.join(sorted(names))})"
                )


def _check_smtp(smtp: SmtpConfig) -> None:
    if smtp.max_connections_per_client > smtp.max_connections:
        raise ConfigError(
            f"smtp.max_connections_per_client: at most smtp.max_connections "
            f"({smtp.max_connections}), got {smtp.max_connections_per_client}"
        )
    _check_listener_tls(smtp)


def _check_listener_tls(smtp: SmtpConfig) -> None:
    """Both TLS files or neither; they must exist; require_tls needs them."""
    given = [key for key in ("tls_cert_file", "tls_key_file") if getattr(smtp, key)]
    if len(given) == 1:
        missing = "tls_key_file" if given == ["tls_cert_file"] else "tls_cert_file"
        raise ConfigError(f"smtp.{missing}: required when smtp.{given[0]} is set")
    for key in given:
        if not Path(getattr(smtp, key)).is_file():
            raise ConfigError(f"smtp.{key}: {getattr(smtp, key)!r}: no such file")
    if len(given) == 2:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(
                smtp.tls_cert_file, smtp.tls_key_file
            )
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"smtp.tls_cert_file: cannot use {smtp.tls_cert_file!r} with "
                f"{smtp.tls_key_file!r} (PEM certificate chain and its private key): {exc}"
            ) from None
    if smtp.require_tls and not given:
        raise ConfigError(
            "smtp.require_tls: needs smtp.tls_cert_file and smtp.tls_key_file "
            "(there is no TLS to require without a certificate)"
        )


def _check_cluster(cluster: ClusterConfig) -> None:
    lost_after = cluster.lease_seconds / 2  # three heartbeats (one every lease_seconds / 6)
    if cluster.forget_after <= lost_after:
        raise ConfigError(
            f"cluster.forget_after: must be longer than three heartbeats "
            f"({lost_after:g} s with lease_seconds = {cluster.lease_seconds:g}), "
            f"got {cluster.forget_after:g}"
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
