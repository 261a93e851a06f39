"""Configuration: one TOML file read once into frozen dataclasses, then passed along.

The bottom layer above the small leaves: it imports no other maildesk package, reads no
database, socket or clock, and nothing reads configuration from a global. `errors` is its
leaf, so each section reader (`imap`, `quality`, `hours`, `sla`) stands in its own module.
"""

from maildesk.config.errors import ConfigError
from maildesk.config.sections import (
    ClockConfig,
    ClusterConfig,
    Config,
    DatabaseConfig,
    LanguagesConfig,
    OutboundConfig,
    ProcessingConfig,
    Queue,
    RemindersConfig,
    SchedulerConfig,
    SlaConfig,
    SmtpConfig,
    StaffConfig,
    TemplatesConfig,
)
from maildesk.config.settings import from_mapping, load
from maildesk.config.values import redact_url

__all__ = [
    "ClockConfig",
    "ClusterConfig",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "LanguagesConfig",
    "OutboundConfig",
    "ProcessingConfig",
    "Queue",
    "RemindersConfig",
    "SchedulerConfig",
    "SlaConfig",
    "SmtpConfig",
    "StaffConfig",
    "TemplatesConfig",
    "from_mapping",
    "load",
    "redact_url",
]
