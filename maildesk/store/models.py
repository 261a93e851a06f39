"""The tables, as SQLAlchemy Core metadata.

The Alembic migrations in `maildesk/migrations/versions` create exactly this schema; a test
compares the two so they cannot drift apart.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()

# Raw mail exactly as received. A row is committed before the sender hears `250`;
# processing only ever updates its status columns, never its bytes.
inbound = Table(
    "inbound",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("source", String(100), nullable=False),  # smtp | ingest | imap:<name>
    Column("source_key", String(200), nullable=True, unique=True),  # e.g. IMAP uidvalidity:uid
    Column("mail_from", Text, nullable=False, default=""),
    Column("rcpt_tos", JSON, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("sha256", String(64), nullable=False, index=True),
    Column("status", String(20), nullable=False, index=True),  # received|done|quarantined
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("outcome", String(20), nullable=True),
    Column("reason", Text, nullable=True),
    Column("ticket_key", String(30), nullable=True),
    Column("message_id", Text, nullable=True),
    Column("processed_at", DateTime(timezone=True), nullable=True),
    # How it reached us, recorded at intake: the SMTP client's address, whether that client
    # is a `[smtp] trusted_relays` MTA (its spam verdict is believed), and the TLS version
    # and cipher of the session ("" / NULL: plain text, or not SMTP).
    Column("peer", String(100), nullable=True),
    Column("relay_trusted", Boolean, nullable=False, default=False, server_default=false()),
    Column("tls", String(100), nullable=True),
)

queue_counters = Table(
    "queue_counters",
    metadata,
    Column("queue", String(32), primary_key=True),
    Column("last_number", Integer, nullable=False),
)

tickets = Table(
    "tickets",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("key", String(30), nullable=False, unique=True),
    Column("queue", String(32), nullable=False, index=True),
    Column("number", Integer, nullable=False),
    Column("subject", Text, nullable=False),
    Column("requester", Text, nullable=False),
    Column("requester_name", Text, nullable=False, default=""),
    Column("status", String(30), nullable=False, index=True),
    Column("resolution", String(30), nullable=True),
    Column("linked_ticket_id", ForeignKey("tickets.id"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("assignee", Text, nullable=True),
    # The waiting-for-the-customer clock: set on entering waiting_customer, cleared on leaving;
    # reminders_sent counts the reminders of this waiting period (0, 1, 2).
    Column("waiting_since", DateTime(timezone=True), nullable=True, index=True),
    Column("reminders_sent", Integer, nullable=False, default=0, server_default="0"),
    Column("first_response_at", DateTime(timezone=True), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    # When the service levels of this ticket must next be looked at (a threshold passes);
    # NULL when nothing is left to watch. The scheduler reads only rows due by this index.
    Column("sla_check_at", DateTime(timezone=True), nullable=True, index=True),
    UniqueConstraint("queue", "number", name="uq_tickets_queue_number"),
)
Index(
    "ix_tickets_waiting_ladder", tickets.c.status, tickets.c.reminders_sent, tickets.c.waiting_since
)
# The new-ticket cap per sender counts a sender's tickets of the last hour by this index.
Index("ix_tickets_requester_created", tickets.c.requester, tickets.c.created_at)

participants = Table(
    "participants",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("ticket_id", ForeignKey("tickets.id"), nullable=False),
    Column("address", Text, nullable=False),
    Column("name", Text, nullable=False, default=""),
    Column("role", String(20), nullable=False),  # requester | cc
    UniqueConstraint("ticket_id", "address", name="uq_participants_ticket_address"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("ticket_id", ForeignKey("tickets.id"), nullable=False, index=True),
    Column("inbound_id", ForeignKey("inbound.id"), nullable=True),
    Column("direction", String(3), nullable=False),  # in | out
    Column("message_id", Text, nullable=False),
    # sha256(message_id + sender): one ticket entry per message, however often it arrives.
    Column("dedup_key", String(64), nullable=False, unique=True),
    Column("sender", Text, nullable=False),
    Column("sender_name", Text, nullable=False, default=""),
    Column("subject", Text, nullable=False),
    Column("text_body", Text, nullable=False),
    Column("html_body", Text, nullable=True),  # sanitised, never the raw HTML
    Column("automatic", Boolean, nullable=False, default=False),
    # customer | staff | note | refused: a note or a refused command mail never reaches a customer
    Column("kind", String(10), nullable=False, default="customer", server_default="customer"),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index("ix_messages_message_id", messages.c.message_id)

attachments = Table(
    "attachments",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("message_id", ForeignKey("messages.id"), nullable=False, index=True),
    Column("filename", Text, nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("size", Integer, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("ticket_id", ForeignKey("tickets.id"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("from_value", Text, nullable=True),
    Column("to_value", Text, nullable=True),
    Column("reason", Text, nullable=True),
)

# Every decision taken about an inbound message, in order: what `maildesk trace` prints.
decisions = Table(
    "decisions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("inbound_id", ForeignKey("inbound.id"), nullable=False, index=True),
    Column("message_id", Text, nullable=True, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("step", String(30), nullable=False),
    Column("action", String(40), nullable=False),
    Column("reason", Text, nullable=True),
    Column("ticket_key", String(30), nullable=True),
)

# Small instance-wide values (e.g. the generated secret that signs our Message-IDs).
settings = Table(
    "settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# Notifications, rendered to their final bytes in the same transaction as the ticket
# change that caused them; a sender delivers them later, outside any transaction.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("ticket_id", ForeignKey("tickets.id"), nullable=True, index=True),
    # What caused it (e.g. "inbound:41"): with recipient and template, sent at most once.
    Column("cause", String(100), nullable=False),
    Column("template", String(40), nullable=False),
    Column("language", String(5), nullable=False),
    Column("mail_from", Text, nullable=False),  # envelope sender: a queue address
    Column("recipient", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("message_id", Text, nullable=False, unique=True),
    Column("automatic", Boolean, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("status", String(10), nullable=False),  # pending|sending|sent|failed|dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("bounced_at", DateTime(timezone=True), nullable=True),
    Column("bounce_reason", Text, nullable=True),
    UniqueConstraint("cause", "recipient", "template", name="uq_outbox_cause_recipient_template"),
)
Index("ix_outbox_recipient_created", outbox.c.recipient, outbox.c.created_at)
# The sender claims the next due row of each claimable status from its own range of this
# index, already in order: a claim costs the same with ten rows waiting or a hundred thousand.
Index("ix_outbox_status_due", outbox.c.status, outbox.c.next_attempt_at, outbox.c.id)

# What maildesk read from a request (filled by the quality assessment) and how it talks to
# the customer; kept on the ticket so every later mail uses the same language.
ticket_details = Table(
    "ticket_details",
    metadata,
    Column("ticket_id", ForeignKey("tickets.id"), primary_key=True),
    Column("language", String(5), nullable=False),
    Column("criticality", String(10), nullable=False),
    Column("request_type", String(20), nullable=False),
    Column("fields", JSON, nullable=False),
    Column("missing_fields", JSON, nullable=False),
    Column("subject_quality", JSON, nullable=False),
)

# Service-level warnings already sent (one per ticket, objective and state, ever).
sla_notices = Table(
    "sla_notices",
    metadata,
    Column("ticket_id", ForeignKey("tickets.id"), primary_key=True),
    Column("objective", String(20), primary_key=True),  # first_response | resolution
    Column("state", String(10), primary_key=True),  # at_risk | breached
    Column("at", DateTime(timezone=True), nullable=False),
)

# Running daemons (for `maildesk status`) and who watches which IMAP mailbox. A lease
# that is not renewed expires, and another instance takes the mailbox over.
instances = Table(
    "instances",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
    Column("smtp", Text, nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
