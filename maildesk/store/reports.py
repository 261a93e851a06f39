"""Read-only views for the command line: ticket lists, one ticket in full, a message's trace.

Returns plain dicts (for `--json`) and formats them for people; it never writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, or_, select

from maildesk.clock import utc
from maildesk.config import Config
from maildesk.desk import sla_warnings
from maildesk.desk.business_hours import BusinessCalendar
from maildesk.desk.labels import label
from maildesk.store.db import reading
from maildesk.store.models import (
    attachments,
    decisions,
    events,
    inbound,
    instances,
    leases,
    messages,
    outbox,
    participants,
    ticket_details,
    tickets,
)


def list_tickets(engine: Engine, status: str | None = None, queue: str | None = None) -> list[dict]:
    counts = (
        select(messages.c.ticket_id, func.count().label("n"))
        .group_by(messages.c.ticket_id)
        .subquery()
    )
    query = (
        select(
            tickets.c.key,
            tickets.c.queue,
            tickets.c.status,
            tickets.c.requester,
            tickets.c.subject,
            tickets.c.created_at,
            tickets.c.updated_at,
            func.coalesce(counts.c.n, 0).label("messages"),
        )
        .outerjoin(counts, counts.c.ticket_id == tickets.c.id)
        .order_by(tickets.c.id.desc())
    )
    if status:
        query = query.where(tickets.c.status == status)
    if queue:
        query = query.where(tickets.c.queue == queue)
    with reading(engine) as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def show_ticket(engine: Engine, key: str, sla: SlaView | None = None) -> dict[str, Any] | None:
    """The whole ticket; with `sla`, also where each service-level objective stands."""
    with reading(engine) as conn:
        row = conn.execute(select(tickets).where(tickets.c.key == key)).first()
        if row is None:
            return None
        ticket = dict(row._mapping)
        tid = ticket.pop("id")
        linked = ticket.pop("linked_ticket_id")
        ticket["linked_to"] = (
            conn.execute(select(tickets.c.key).where(tickets.c.id == linked)).scalar()
            if linked
            else None
        )
        details = conn.execute(
            select(ticket_details).where(ticket_details.c.ticket_id == tid)
        ).first()
        fields = dict(details.fields) if details else {}
        defaulted = fields.pop("criticality_defaulted", None) == "yes"
        ticket["language"] = details.language if details else None
        ticket["criticality"] = details.criticality if details else None
        ticket["criticality_defaulted"] = defaulted
        ticket["type"] = details.request_type if details else None
        ticket["fields"] = fields
        ticket["missing_fields"] = list(details.missing_fields) if details else []
        quality = dict(details.subject_quality) if details else {"ok": True, "reasons": []}
        ok = bool(quality.get("ok", True))
        ticket["subject_quality"] = {"ok": ok, "reasons": [] if ok else quality.get("reasons", [])}
        ticket["incomplete"] = bool(ticket["missing_fields"]) or not quality.get("ok", True)
        ticket["status_label"] = label("status", ticket["status"], ticket["language"] or "fr")
        if sla is not None:
            ticket["sla"] = sla.describe(ticket)
        ticket["participants"] = [
            dict(r._mapping)
            for r in conn.execute(
                select(participants.c.address, participants.c.name, participants.c.role)
                .where(participants.c.ticket_id == tid)
                .order_by(participants.c.id)
            )
        ]
        ticket["messages"] = [
            _message(conn, r)
            for r in conn.execute(
                select(messages).where(messages.c.ticket_id == tid).order_by(messages.c.id)
            )
        ]
        ticket["events"] = [
            dict(r._mapping)
            for r in conn.execute(
                select(
                    events.c.at,
                    events.c.actor,
                    events.c.kind,
                    events.c.from_value,
                    events.c.to_value,
                    events.c.reason,
                )
                .where(events.c.ticket_id == tid)
                .order_by(events.c.id)
            )
        ]
    return ticket


@dataclass(frozen=True)
class SlaView:
    """What `tickets show` needs to report service levels as of `now`."""

    config: Config
    calendar: BusinessCalendar
    now: datetime

    def describe(self, ticket: dict[str, Any]) -> list[dict[str, Any]]:
        first = ticket["first_response_at"]
        closed = ticket["closed_at"]
        found = sla_warnings.reports(
            self.calendar,
            self.config,
            ticket["criticality"] or "medium",
            utc(ticket["created_at"]),
            utc(first) if first else None,
            utc(closed) if closed else None,
            self.now,
        )
        zone = ZoneInfo(self.config.business_hours.timezone)
        return [
            {
                "objective": r.name,
                "deadline": r.deadline.astimezone(zone).isoformat(),
                "business_time_used": str(r.used),
                "objective_time": str(r.objective),
                "state": r.state,
            }
            for r in found
        ]


def _message(conn, row) -> dict[str, Any]:
    files = [
        dict(r._mapping)
        for r in conn.execute(
            select(attachments.c.filename, attachments.c.content_type, attachments.c.size)
            .where(attachments.c.message_id == row.id)
            .order_by(attachments.c.id)
        )
    ]
    return {
        "message_id": row.message_id,
        "direction": row.direction,
        "sender": row.sender,
        "sender_name": row.sender_name,
        "subject": row.subject,
        "at": row.created_at,
        "automatic": row.automatic,
        "text": row.text_body,
        "has_html": row.html_body is not None,
        "attachments": files,
    }


def trace(engine: Engine, message_id: str) -> list[dict[str, Any]]:
    spool_ids = select(inbound.c.id).where(inbound.c.message_id == message_id)
    with reading(engine) as conn:
        rows = conn.execute(
            select(
                decisions.c.at,
                decisions.c.inbound_id,
                decisions.c.step,
                decisions.c.action,
                decisions.c.reason,
                decisions.c.ticket_key,
            )
            .where(or_(decisions.c.message_id == message_id, decisions.c.inbound_id.in_(spool_ids)))
            .order_by(decisions.c.id)
        )
        return [
            {
                "at": utc(r.at).isoformat() if r.at else None,
                "inbound": r.inbound_id,
                "step": r.step,
                "action": r.action,
                "ticket": r.ticket_key,
                "reason": r.reason,
            }
            for r in rows
        ]


def format_ticket_list(rows: list[dict]) -> str:
    if not rows:
        return "(no tickets)"
    lines = [f"{'KEY':<10} {'STATUS':<18} {'MSGS':>4}  {'REQUESTER':<32} SUBJECT"]
    for r in rows:
        lines.append(
            f"{r['key']:<10} {r['status']:<18} {r['messages']:>4}  "
            f"{r['requester'][:32]:<32} {r['subject'][:60]}"
        )
    return "\n".join(lines)


def format_ticket(t: dict[str, Any]) -> str:
    out = [
        f"{t['key']}  [{t['status']}{'/' + t['resolution'] if t['resolution'] else ''}]  "
        f"{t['subject']}",
        f"  queue: {t['queue']}   requester: {t['requester_name']} <{t['requester']}>",
        f"  created: {t['created_at']}   updated: {t['updated_at']}",
    ]
    out.append(
        f"  type: {t['type']}   criticality: {t['criticality']}"
        + (" (default)" if t["criticality_defaulted"] else "")
        + f"   language: {t['language']}"
    )
    out.append("  fields: " + ", ".join(f"{k}={v}" for k, v in t["fields"].items()))
    if t.get("assignee") or t.get("waiting_since"):
        out.append(
            f"  assignee: {t.get('assignee') or '-'}   waiting since: "
            f"{t.get('waiting_since') or '-'} (reminders sent: {t['reminders_sent']})"
        )
    for r in t.get("sla", []):
        out.append(
            f"  sla {r['objective']}: {r['state']}  deadline {r['deadline']}  "
            f"used {r['business_time_used']} of {r['objective_time']}"
        )
    out.append(f"  missing_fields: {', '.join(t['missing_fields']) or '(none)'}")
    quality = t["subject_quality"]
    out.append(f"  subject_quality: {'ok' if quality['ok'] else ', '.join(quality['reasons'])}")
    if t.get("linked_to"):
        out.append(f"  linked to: {t['linked_to']}")
    out.append(
        "  participants: " + ", ".join(f"{p['address']} ({p['role']})" for p in t["participants"])
    )
    out.append("  messages:")
    for m in t["messages"]:
        auto = " (automatic)" if m["automatic"] else ""
        out.append(f"    {m['at']} {m['direction']} {m['sender']}{auto}  {m['message_id']}")
        for a in m["attachments"]:
            out.append(
                f"      attachment: {a['filename']} ({a['content_type']}, {a['size']} bytes)"
            )
    out.append("  events:")
    for e in t["events"]:
        change = f" {e['from_value'] or ''}->{e['to_value']}" if e["to_value"] else ""
        out.append(
            f"    {e['at']} {e['kind']}{change} by {e['actor']}"
            + (f" ({e['reason']})" if e["reason"] else "")
        )
    return "\n".join(out)


def list_outbox(engine: Engine, status: str | None = None) -> list[dict[str, Any]]:
    query = (
        select(
            tickets.c.key.label("ticket"),
            outbox.c.id,
            outbox.c.template,
            outbox.c.recipient,
            outbox.c.subject,
            outbox.c.status,
            outbox.c.attempts,
            outbox.c.message_id,
            outbox.c.created_at,
            outbox.c.sent_at,
            outbox.c.next_attempt_at,
            outbox.c.last_error,
            outbox.c.bounced_at,
            outbox.c.bounce_reason,
        )
        .outerjoin(tickets, tickets.c.id == outbox.c.ticket_id)
        .order_by(outbox.c.id.desc())
    )
    if status:
        query = query.where(outbox.c.status == status)
    with reading(engine) as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def format_outbox(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(no notifications)"
    lines = [f"{'ID':>5} {'TICKET':<9} {'TEMPLATE':<20} {'STATUS':<8} {'TRIES':>5}  RECIPIENT"]
    for r in rows:
        lines.append(
            f"{r['id']:>5} {r['ticket'] or '-':<9} {r['template']:<20} "
            f"{r['status']:<8} {r['attempts']:>5}  {r['recipient']}  {r['message_id']}"
        )
    return "\n".join(lines)


def status(
    engine: Engine,
    now: datetime,
    alive_within: float = 60.0,
    forget_after: float | None = None,
) -> dict[str, Any]:
    """The whole cluster at a glance: instances, mailbox holders, backlogs, oldest pending.

    An instance silent for more than `alive_within` seconds (three missed heartbeats) is
    `lost`; one silent for more than `forget_after` seconds is left out (a killed
    instance never says goodbye: the live ones delete its row, see cluster.Membership)."""
    listed = select(instances).order_by(instances.c.started_at)
    if forget_after is not None:
        listed = listed.where(
            instances.c.heartbeat_at >= utc(now) - timedelta(seconds=forget_after)
        )
    with reading(engine) as conn:
        members = [dict(r._mapping) for r in conn.execute(listed)]
        held = [dict(r._mapping) for r in conn.execute(select(leases).order_by(leases.c.name))]
        spool = dict(
            conn.execute(select(inbound.c.status, func.count()).group_by(inbound.c.status)).all()
        )
        oldest_spool = conn.execute(
            select(func.min(inbound.c.received_at)).where(inbound.c.status == "received")
        ).scalar()
        queued = dict(
            conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status)).all()
        )
        oldest_out = conn.execute(
            select(func.min(outbox.c.created_at)).where(
                outbox.c.status.in_(("pending", "failed", "sending"))
            )
        ).scalar()
    for member in members:
        age = (now - utc(member["heartbeat_at"])).total_seconds()
        member["alive"] = age <= alive_within
        member["state"] = "alive" if member["alive"] else "lost"
        member["heartbeat_age_seconds"] = round(age, 1)
    return {
        "now": now.isoformat(),
        "instances": members,
        "mailboxes": [
            {
                "mailbox": h["name"].removeprefix("imap:"),
                "holder": h["holder"],
                "expires_at": h["expires_at"],
                "live": utc(h["expires_at"]) > now,
            }
            for h in held
        ],
        "spool": {
            "pending": spool.get("received", 0),
            "done": spool.get("done", 0),
            "quarantined": spool.get("quarantined", 0),
            "oldest_pending": oldest_spool,
        },
        "outbox": {
            "pending": queued.get("pending", 0)
            + queued.get("failed", 0)
            + queued.get("sending", 0),
            "sent": queued.get("sent", 0),
            "dead": queued.get("dead", 0),
            "oldest_pending": oldest_out,
        },
    }


def format_status(s: dict[str, Any]) -> str:
    alive = sum(m["alive"] for m in s["instances"])
    lost = len(s["instances"]) - alive
    lines = [f"instances ({alive} alive" + (f", {lost} lost):" if lost else "):")]
    for m in s["instances"]:
        lines.append(
            f"  {m['id']}  {m['state']}  heartbeat {m['heartbeat_age_seconds']}s ago"
            f"  smtp {m['smtp']}"
        )
    lines.append("mailboxes:")
    for b in s["mailboxes"]:
        lines.append(f"  {b['mailbox']}: {b['holder'] if b['live'] else 'nobody (lease expired)'}")
    if not s["mailboxes"]:
        lines.append("  (no IMAP mailbox watched)")
    sp, ob = s["spool"], s["outbox"]
    lines.append(
        f"spool: {sp['pending']} pending (oldest {sp['oldest_pending'] or '-'}), "
        f"{sp['quarantined']} quarantined, {sp['done']} done"
    )
    lines.append(
        f"outbox: {ob['pending']} pending (oldest {ob['oldest_pending'] or '-'}), "
        f"{ob['dead']} dead, {ob['sent']} sent"
    )
    return "\n".join(lines)
