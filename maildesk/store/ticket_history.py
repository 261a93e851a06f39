"""A ticket's whole story for the `#history` mail, read from the database as it stands.

Rendered where notifications are rendered (`maildesk.store.outbox`), inside the change's
transaction: every message in and out in order (quoted history removed, internal notes
marked), the changes of status, criticality, type and assignee, and the automatic
notices the customer received. The pure pipeline only asks for it (a `Notify` with the
template `staff_history`); nothing here writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, select

from maildesk.clock import utc
from maildesk.desk.labels import label
from maildesk.inbound.quotes import strip_reply
from maildesk.store.models import attachments, events, messages, outbox

# Changes shown, and the label kind that words their values.
CHANGES = {"status": "status", "criticality": "criticality", "request_type": "type", "assignee": ""}
# Customer notices beside the messages: the relayed `reply` is the staff message itself.
HIDDEN_TEMPLATES = ("reply", "command_error")


def entries(conn: Connection, ticket_id: int, lang: str, timezone: str) -> list[dict[str, Any]]:
    """The ticket's messages, changes and customer notices, oldest first."""
    zone = ZoneInfo(timezone)
    found: list[tuple[datetime, int, int, dict[str, Any]]] = []
    files: dict[int, list[str]] = {}
    for row in conn.execute(_FILES, {"ticket": ticket_id}):
        name = label("file", "unnamed", lang) if row.filename == "(unnamed)" else row.filename
        files.setdefault(row.message_id, []).append(name)
    for row in conn.execute(_MESSAGES, {"ticket": ticket_id}):
        if row.kind == "command":
            continue  # a #history request itself is no part of the story
        text = row.text_body if row.kind == "staff" else strip_reply(row.text_body)
        entry = {
            "kind": "message",
            "direction": "out" if row.kind == "staff" else "in",
            "internal": row.kind in ("note", "refused"),
            "automatic": bool(row.automatic),
            "who": _who(row.sender_name, row.sender),
            "subject": row.subject,
            "text": text.strip(),
            "files": files.get(row.id, []),
        }
        found.append((utc(row.created_at), 0, row.id, entry))
    for row in conn.execute(_EVENTS, {"ticket": ticket_id}):
        kind = CHANGES[row.kind]
        entry = {
            "kind": "change",
            "what": label("change", row.kind, lang),
            "old": _value(kind, row.from_value, lang),
            "new": _value(kind, row.to_value, lang),
            "who": row.actor,
            "reason": row.reason or "",
        }
        found.append((utc(row.at), 1, row.id, entry))
    for row in conn.execute(_NOTICES, {"ticket": ticket_id}):
        if row.template in HIDDEN_TEMPLATES or row.template.startswith("staff_"):
            continue
        entry = {"kind": "notice", "who": row.recipient, "subject": row.subject}
        found.append((utc(row.created_at), 2, row.id, entry))
    found.sort(key=lambda item: item[:3])
    return [entry | {"at": f"{at.astimezone(zone):%d.%m.%Y %H:%M}"} for at, _, _, entry in found]


def inbound_ids(conn: Connection, ticket_id: int) -> list[int]:
    """The spooled mails of the ticket's messages, in order (their files, in order)."""
    rows = conn.execute(_MESSAGES, {"ticket": ticket_id})
    return [r.inbound_id for r in rows if r.inbound_id is not None and r.kind != "command"]


def _who(name: str, address: str) -> str:
    return f"{name} <{address}>" if name else address


def _value(kind: str, value: str | None, lang: str) -> str:
    if not value:
        return "–"
    return label(kind, value, lang) if kind else value


_MESSAGES = (
    select(messages)
    .where(messages.c.ticket_id == bindparam("ticket"))
    .order_by(messages.c.created_at, messages.c.id)
)
_FILES = (
    select(attachments.c.message_id, attachments.c.filename)
    .join(messages, messages.c.id == attachments.c.message_id)
    .where(messages.c.ticket_id == bindparam("ticket"))
    .order_by(attachments.c.id)
)
_EVENTS = (
    select(events)
    .where(events.c.ticket_id == bindparam("ticket"), events.c.kind.in_(tuple(CHANGES)))
    .order_by(events.c.at, events.c.id)
)
_NOTICES = (
    select(
        outbox.c.id, outbox.c.template, outbox.c.recipient, outbox.c.subject, outbox.c.created_at
    )
    .where(outbox.c.ticket_id == bindparam("ticket"))
    .order_by(outbox.c.created_at, outbox.c.id)
)
