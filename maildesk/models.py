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
    UniqueConstraint("queue", "number", name="uq_tickets_queue_number"),
)

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
