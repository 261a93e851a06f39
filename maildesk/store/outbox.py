"""Render a `Notify` effect into outbox bytes, inside the ticket change's transaction.

The row is final when it is stored (rendered bytes and Message-ID fixed), so a retry
resends exactly the same mail, and a notification exists if and only if the ticket change
that caused it committed. Nothing here talks to a mail server.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select

from maildesk import logs
from maildesk.addresses import domain_of
from maildesk.config import Config
from maildesk.desk.effects import Notify
from maildesk.desk.labels import label
from maildesk.inbound.parse import attachment_payloads
from maildesk.msgid import MessageIds
from maildesk.outbound.compose import Headers, compose
from maildesk.outbound.render import CONTEXT_NAMES, TemplateSet
from maildesk.store.history import SYSTEM, record_event
from maildesk.store.models import inbound, outbox, participants, ticket_details, tickets

log = logging.getLogger("maildesk.outbox")


class Notifier:
    def __init__(self, config: Config, templates: TemplateSet, ids: MessageIds) -> None:
        self.config = config
        self.templates = templates
        self.ids = ids

    def enqueue(
        self, conn: Connection, ticket_id: int, note: Notify, cause: str, now: datetime
    ) -> int | None:
        """Store the notification; None when this cause already produced it (idempotent)."""
        exists = conn.execute(
            _SAME_NOTIFICATION,
            {"cause": cause, "recipient": note.recipient, "template": note.template},
        ).first()
        if exists:
            return None
        ticket = conn.execute(_TICKET, {"ticket": ticket_id}).one()
        details = conn.execute(_DETAILS, {"ticket": ticket_id}).first()
        lang = (
            note.language
            or (details.language if details else "")
            or self.config.templates.default_language
        )
        queue = self.config.queue_named(ticket.queue)
        sender = queue.addresses[0]
        message_id = self.ids.make(ticket.key, domain_of(sender))
        try:
            rendered, raw = self._render(conn, ticket, details, note, lang, sender, message_id, now)
        except Exception as exc:  # noqa: BLE001 - a broken template must not lose the mail
            return self._render_failed(
                conn, ticket, note, cause, lang, sender, message_id, exc, now
            )
        row_id = conn.execute(
            _INSERT_OUTBOX,
            {
                "ticket_id": ticket_id,
                "cause": cause,
                "template": note.template,
                "language": rendered.language,
                "mail_from": sender,
                "recipient": note.recipient,
                "subject": rendered.subject,
                "message_id": message_id,
                "automatic": note.auto_submitted is not None,
                "raw": raw,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            },
        ).scalar_one()
        logs.decision(
            log,
            ticket=ticket.key,
            msgid=message_id,
            action="queued",
            template=note.template,
            to=note.recipient,
            lang=rendered.language,
        )
        return row_id

    def _render(
        self,
        conn: Connection,
        ticket: Any,
        details: Any,
        note: Notify,
        lang: str,
        sender: str,
        message_id: str,
        now: datetime,
    ) -> tuple[Any, bytes]:
        context = self.context(conn, ticket, details, note, lang)
        rendered = self.templates.render(note.template, lang, context)
        from_name = str(dict(note.extra).get("from_name") or self.config.outbound.from_name)
        files = self._attachments(conn, note.attachments_from)
        raw = compose(
            rendered,
            Headers(
                ticket_key=ticket.key,
                from_name=from_name,
                from_address=sender,
                to_name=note.recipient_name,
                to_address=note.recipient,
                reply_to=sender,
                message_id=message_id,
                in_reply_to=note.in_reply_to,
                references=note.references,
                auto_submitted=note.auto_submitted,
            ),
            now,
            files,
        )
        return rendered, raw

    def _render_failed(
        self,
        conn: Connection,
        ticket: Any,
        note: Notify,
        cause: str,
        lang: str,
        sender: str,
        message_id: str,
        exc: Exception,
        now: datetime,
    ) -> int:
        """The ticket change commits; the notification is kept as `dead` with the reason."""
        error = f"render failed: {type(exc).__name__}: {exc}"[:2000]
        row_id = conn.execute(
            insert(outbox)
            .values(
                ticket_id=ticket.id,
                cause=cause,
                template=note.template,
                language=lang,
                mail_from=sender,
                recipient=note.recipient,
                subject="(not rendered)",
                message_id=message_id,
                automatic=note.auto_submitted is not None,
                raw=b"",
                status="dead",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                last_error=error,
            )
            .returning(outbox.c.id)
        ).scalar_one()
        record_event(
            conn,
            ticket.id,
            now,
            SYSTEM,
            "notification-dead",
            f"{note.template}: {error}"[:2000],
            None,
            note.recipient,
        )
        logs.decision(
            log,
            logging.ERROR,
            ticket=ticket.key,
            action="render-failed",
            template=note.template,
            to=note.recipient,
            reason=error,
        )
        return row_id

    def _attachments(self, conn: Connection, inbound_id: int | None) -> list:
        if inbound_id is None:
            return []
        raw = conn.execute(select(inbound.c.raw).where(inbound.c.id == inbound_id)).scalar()
        return attachment_payloads(raw) if raw else []

    def context(
        self, conn: Connection, ticket: Any, details: Any, note: Notify, lang: str
    ) -> dict[str, Any]:
        fields = dict(details.fields) if details else {}
        missing = list(details.missing_fields) if details else []
        quality = dict(details.subject_quality) if details else {"ok": True, "reasons": []}
        criticality = details.criticality if details else "medium"
        rtype = details.request_type if details else "assistance"
        requester_name = (
            conn.execute(_NAME, {"ticket": ticket.id, "address": ticket.requester}).scalar()
            or ticket.requester_name
        )
        context: dict[str, Any] = dict.fromkeys(CONTEXT_NAMES, "")
        context |= {
            "ticket": {
                "key": ticket.key,
                "subject": ticket.subject,
                "queue": ticket.queue,
                "status": ticket.status,
                "status_label": label("status", ticket.status, lang),
                "criticality": criticality,
                "criticality_label": label("criticality", criticality, lang),
                "criticality_defaulted": bool(fields.get("criticality_defaulted")),
                "type": rtype,
                "type_label": label("type", rtype, lang),
                "fields": {k: v for k, v in fields.items() if k != "criticality_defaulted"},
                "field_labels": {k: label("field", k, lang) for k in fields},
                "missing_fields": missing,
                "missing_labels": [label("field", k, lang) for k in missing],
                "subject_quality": quality,
            },
            "customer": {"name": requester_name or "", "address": ticket.requester},
            "consultant": {"name": "", "address": ""},
            "days": 0,
            "close_after_days": 0,
            "supplied": {},
            "errors": [],
            "valid_commands": [],
            "lang": lang,
        }
        context |= {k: v for k, v in note.extra if k in CONTEXT_NAMES}
        return context


class WithheldNotifier(Notifier):
    """For imported mail: each notification the live desk would queue is recorded, with its
    signed Message-ID, as `withheld` (never sent, never rendered) instead of `pending`.

    Recorded rather than dropped, so that every later decision that reads the outbox (the
    automatic mails per address and hour, a bounce or reply quoting one of our Message-IDs,
    whether staff answered) comes out exactly as it would have for live mail."""

    def enqueue(
        self, conn: Connection, ticket_id: int, note: Notify, cause: str, now: datetime
    ) -> int | None:
        exists = conn.execute(
            _SAME_NOTIFICATION,
            {"cause": cause, "recipient": note.recipient, "template": note.template},
        ).first()
        if exists:
            return None
        ticket = conn.execute(_TICKET_KEY, {"ticket": ticket_id}).one()
        sender = self.config.queue_named(ticket.queue).addresses[0]
        return conn.execute(
            _INSERT_OUTBOX,
            {
                "ticket_id": ticket_id,
                "cause": cause,
                "template": note.template,
                "language": note.language or self.config.templates.default_language,
                "mail_from": sender,
                "recipient": note.recipient,
                "subject": "(withheld: imported mail)",
                "message_id": self.ids.make(ticket.key, domain_of(sender)),
                "automatic": note.auto_submitted is not None,
                "raw": b"",
                "status": WITHHELD,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            },
        ).scalar_one()


WITHHELD = "withheld"  # recorded, never sent: notifications of imported mail

# Built once: on the per-message path a statement costs more to build than to run.
_SAME_NOTIFICATION = select(outbox.c.id).where(
    outbox.c.cause == bindparam("cause"),
    outbox.c.recipient == bindparam("recipient"),
    outbox.c.template == bindparam("template"),
)
_TICKET = select(tickets).where(tickets.c.id == bindparam("ticket"))
_TICKET_KEY = select(tickets.c.key, tickets.c.queue).where(tickets.c.id == bindparam("ticket"))
_DETAILS = select(ticket_details).where(ticket_details.c.ticket_id == bindparam("ticket"))
_INSERT_OUTBOX = insert(outbox).returning(outbox.c.id)
_NAME = select(participants.c.name).where(
    participants.c.ticket_id == bindparam("ticket"),
    participants.c.address == bindparam("address"),
)
