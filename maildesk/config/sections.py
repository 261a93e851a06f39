"""The configuration's shape: one frozen dataclass per section, with its defaults.

Reading and validating a file into these is `maildesk.config.settings`; nothing here
reads a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from maildesk.config.edge import DEFAULT_SPAM_HEADERS
from maildesk.config.hours import BusinessHoursConfig
from maildesk.config.imap import ImapAccount
from maildesk.config.operating import LoggingConfig, MetricsConfig
from maildesk.config.quality import QualityConfig
from maildesk.config.sla import DEFAULT_OBJECTIVES, Objective
from maildesk.config.staff import DigestConfig, Person
from maildesk.config.values import LANGUAGES

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
    "languages",
    "quality",
    "reminders",
    "business_hours",
    "sla",
    "scheduler",
    "cluster",
    "imap",
    "logging",
    "status",
    "metrics",
    "digest",
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
    # Well above an MTA's parallel deliveries (Postfix: 20, plus cached connections).
    max_connections_per_client: int = 50
    # Messages one envelope sender may deliver per minute (sliding window, per instance);
    # past it, MAIL FROM answers `451 4.7.1` and the sender retries later. 0: no limit.
    messages_per_sender_per_minute: int = 60
    # The desk's own MTA (addresses or networks): not capped per client, and its spam
    # headers are believed (maildesk.inbound.relays).
    trusted_relays: tuple[str, ...] = ()
    # STARTTLS on the listener: both files (PEM) or neither; loaded at start.
    tls_cert_file: str = ""
    tls_key_file: str = ""
    require_tls: bool = False  # true: `530 5.7.0` to MAIL before STARTTLS


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


@dataclass(frozen=True)
class LanguagesConfig:
    # The languages customers are answered in; detection only ever picks one of these.
    enabled: tuple[str, ...] = LANGUAGES


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
    # The customer's files travel with the staff notices up to this size per notice; the
    # rest are listed, and `#files` sends them in mails of at most this size each.
    attachments_max_bytes: int = 10 * 1024 * 1024
    # Per consultant (`[staff.people."luc@example.com"]`): language, digest, queues.
    people: dict[str, Person] = field(default_factory=dict)

    def person(self, address: str) -> Person:
        return self.people.get(address) or Person()


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
    # The MIME-bomb guard (`maildesk.inbound.limits`): a message with more of one of these
    # than allowed is quarantined at once with `mime_limits: ...`, before the parser runs.
    max_header_fields: int = 1000
    max_mime_parts: int = 1000
    max_mime_depth: int = 50
    max_attachments: int = 200
    max_content_type_parameters: int = 100
    # The MTA's spam verdict is read from these headers (maildesk.inbound.spam), only in
    # mail from a `[smtp] trusted_relays` client. Empty: no verdict is read.
    spam_headers: tuple[str, ...] = DEFAULT_SPAM_HEADERS


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
    # `maildesk status` drops an instance silent for this long (seconds; one day).
    forget_after: float = 86400.0


@dataclass(frozen=True)
class StatusConfig:
    """`maildesk status` thresholds (Nagios: 0 OK, 1 WARNING, 2 CRITICAL)."""

    pending_warning_minutes: float = 15.0  # oldest waiting mail or notification
    pending_critical_minutes: float = 60.0
    quarantined_warning: int = 0  # WARNING when more messages than this are quarantined
    dead_warning: int = 0  # WARNING when more notifications than this are dead


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
    languages: LanguagesConfig = field(default_factory=LanguagesConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    reminders: RemindersConfig = field(default_factory=RemindersConfig)
    business_hours: BusinessHoursConfig = field(default_factory=BusinessHoursConfig)
    sla: SlaConfig = field(default_factory=SlaConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    imap: tuple[ImapAccount, ...] = ()
    digest: DigestConfig = field(default_factory=DigestConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    status: StatusConfig = field(default_factory=StatusConfig)
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
