"""Render a `Notify` effect into outbox bytes, inside the ticket change's transaction.

The row is final when it is stored (rendered bytes and Message-ID fixed), so a retry
resends exactly the same mail, and a notification exists if and only if the ticket change
that caused it committed. Nothing here talks to a mail server.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select

from maildesk import logs
from maildesk.addresses import domain_of
from maildesk.config import Config
from maildesk.desk import problems
from maildesk.desk.effects import AUTO_GENERATED, Notify, SendDigest
from maildesk.desk.labels import label
from maildesk.desk.labels import size_label as label_size
from maildesk.inbound.parse import attachment_payloads
from maildesk.msgid import MessageIds
from maildesk.outbound.compose import File, Headers, compose
from maildesk.outbound.render import CONTEXT_NAMES, TemplateSet
from maildesk.store import notice_files, ticket_history
from maildesk.store.history import SYSTEM, record_event
from maildesk.store.models import inbound, outbox, participants, ticket_details, tickets

log = logging.getLogger("maildesk.outbox")


class Notifier:
    def __init__(self, config: Config, templates: TemplateSet, ids: MessageIds) -> None:
        self.config = config
        self.templates = templates
        self.ids = ids
        self._held = threading.local()  # `queued` lines held until the caller's decision

    def hold_logs(self) -> list[dict]:
        """Hold this thread's `queued` lines until `say_queued`: the worker says its decision
        first, and only once the transaction that queued them committed."""
        self._held.lines = []
        return self._held.lines

    def release_logs(self) -> None:
        self._held.lines = None

    @staticmethod
    def say_queued(lines: list[dict]) -> None:
        for fields in lines:
            logs.decision(log, **fields)

    def _queued(self, **fields: object) -> None:
        held = getattr(self._held, "lines", None)
        if held is None:
            logs.decision(log, **fields)
        else:
            held.append(fields)

    def enqueue(
        self, conn: Connection, ticket_id: int, note: Notify, cause: str, now: datetime
    ) -> int | None:
        """Store the notification; None when this cause already produced it (idempotent).
        `staff_files` becomes one mail per batch of files (causes `…:files:1`, `…:2`…)."""
        if note.template == "staff_files":
            return self._enqueue_batches(conn, ticket_id, note, cause, now)
        return self._enqueue(conn, ticket_id, note, cause, now)

    def _enqueue_batches(
        self, conn: Connection, ticket_id: int, note: Notify, cause: str, now: datetime
    ) -> int | None:
        cap = self.config.staff.attachments_max_bytes
        found = self._left_out(conn, ticket_id, cap)
        mails, too_large = notice_files.batches(found, cap)
        first = None
        for number, batch in enumerate(mails or [[]], start=1):

            def prepare(lang: str, batch=batch, number=number) -> tuple[dict, list[File]]:
                context = {
                    "files": notice_files.described(batch + too_large, batch, lang),
                    "files_withheld": len(too_large),
                    "part": number,
                    "parts": max(len(mails), 1),
                }
                return context, [f.file for f in batch]

            row = self._enqueue(conn, ticket_id, note, f"{cause}:files:{number}", now, prepare)
            first = first or row
        return first

    def _left_out(self, conn: Connection, ticket_id: int, cap: int) -> list[notice_files.Found]:
        """The files each message's notice left out; when none were, every file."""
        everything = notice_files.files_of(conn, ticket_history.inbound_ids(conn, ticket_id))
        left_out = [
            f
            for inbound_id in dict.fromkeys(f.inbound_id for f in everything)
            for f in notice_files.within_cap(
                [g for g in everything if g.inbound_id == inbound_id], cap
            )[1]
        ]
        return left_out or everything

    def _enqueue(
        self,
        conn: Connection,
        ticket_id: int,
        note: Notify,
        cause: str,
        now: datetime,
        prepare: Any = None,
    ) -> int | None:
        if _already_queued(conn, note, cause):
            return None
        ticket = conn.execute(_TICKET, {"ticket": ticket_id}).one()
        details = conn.execute(_DETAILS, {"ticket": ticket_id}).first()
        lang = (
            note.language
            or (self.staff_language(note.recipient) if _for_staff(note.template) else "")
            or (details.language if details else "")
            or self.config.templates.default_language
        )
        queue = self.config.queue_named(ticket.queue)
        sender = queue.addresses[0]
        message_id = self.ids.make(ticket.key, domain_of(sender))
        try:
            rendered, raw = self._render(
                conn, ticket, details, note, lang, sender, message_id, now, prepare
            )
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
        self._queued(
            ticket=ticket.key,
            msgid=message_id,
            action="queued",
            template=note.template,
            to=note.recipient,
            lang=rendered.language,
        )
        return row_id

    def preview(
        self, conn: Connection, key: str, note: Notify, now: datetime
    ) -> tuple[Any, bytes] | None:
        """`note` rendered for ticket `key` as it would be sent now, stored nowhere (for
        `maildesk templates render --ticket`); None when there is no such ticket."""
        ticket = conn.execute(select(tickets).where(tickets.c.key == key)).first()
        if ticket is None:
            return None
        details = conn.execute(_DETAILS, {"ticket": ticket.id}).first()
        lang = (
            note.language
            or (details.language if details else "")
            or self.config.templates.default_language
        )
        sender = self.config.queue_named(ticket.queue).addresses[0]
        message_id = self.ids.make(ticket.key, domain_of(sender))
        return self._render(conn, ticket, details, note, lang, sender, message_id, now)

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
        prepare: Any = None,
    ) -> tuple[Any, bytes]:
        context = self.context(conn, ticket, details, note, lang)
        if note.template == "staff_history":
            context["history"] = ticket_history.entries(
                conn, ticket.id, lang, self.config.clock.timezone
            )
            note = replace(note, attachments_from=None)
        if prepare is not None:
            extra, files = prepare(lang)
            context |= extra
        elif note.attachments_capped:
            files, context = self._capped_files(conn, note, context, lang)
        else:
            files = self._attachments(conn, note.attachments_from)
        rendered = self.templates.render(note.template, lang, context)
        from_name = str(dict(note.extra).get("from_name") or self.config.outbound.from_name)
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

    def staff_language(self, address: str) -> str:
        """The language a consultant reads: their own (`[staff.people]`), else the default."""
        return self.config.staff.person(address).language or self.config.templates.default_language

    def enqueue_digest(self, conn: Connection, digest: SendDigest, now: datetime) -> int | None:
        """A consultant's digest: no ticket, sent once per cause (a day)."""
        template = "staff_digest"
        key = {"cause": digest.cause, "recipient": digest.recipient, "template": template}
        if conn.execute(_SAME_NOTIFICATION, key).first():
            return None
        sender = self.config.default_queue.addresses[0]
        context: dict[str, Any] = dict.fromkeys(CONTEXT_NAMES, "")
        context |= {
            "ticket": {"key": "", "subject": "", "queue": ""},
            "customer": {"name": "", "address": ""},
            "consultant": {"name": "", "address": digest.recipient},
            "errors": [],
            "valid_commands": [],
            "files": [],
            "history": [],
            "digest": digest.digest,
        }
        rendered = self.templates.render(template, digest.language, context)
        message_id = f"<digest.{secrets.token_hex(12)}@{domain_of(sender)}>"
        raw = compose(
            rendered,
            Headers(
                ticket_key="",
                from_name=self.config.outbound.from_name,
                from_address=sender,
                to_name="",
                to_address=digest.recipient,
                reply_to=sender,
                message_id=message_id,
                auto_submitted=AUTO_GENERATED,
            ),
            now,
        )
        row = {
            "ticket_id": None,
            "cause": digest.cause,
            "template": template,
            "language": rendered.language,
            "mail_from": sender,
            "recipient": digest.recipient,
            "subject": rendered.subject,
            "message_id": message_id,
            "automatic": True,
            "raw": raw,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        row_id = conn.execute(_INSERT_OUTBOX, row).scalar_one()
        logs.decision(
            log, msgid=message_id, action="queued", template=template, to=digest.recipient
        )
        return row_id

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

    def _capped_files(
        self, conn: Connection, note: Notify, context: dict[str, Any], lang: str
    ) -> tuple[list[File], dict[str, Any]]:
        """The files of the mail a staff notice is about (of the whole ticket for the
        history), within the cap; the rest listed."""
        if note.template == "staff_history":
            ids = ticket_history.inbound_ids(conn, context["ticket"]["id"])
        else:
            ids = [note.attachments_from] if note.attachments_from is not None else []
        found = notice_files.files_of(conn, ids)
        cap = self.config.staff.attachments_max_bytes
        sent, withheld = notice_files.within_cap(found, cap)
        context = context | {
            "files": notice_files.described(found, sent, lang),
            "files_withheld": len(withheld),
            "files_cap": label_size(cap, lang),
        }
        return [f.file for f in sent], context

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
                "id": ticket.id,
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
            "files": [],
            "files_withheld": 0,
            "files_cap": label_size(self.config.staff.attachments_max_bytes, lang),
            "history": [],
            "part": 1,
            "parts": 1,
            "lang": lang,
        }
        context |= {k: v for k, v in note.extra if k in CONTEXT_NAMES}
        if note.template == "command_error":  # the reasons, in the consultant's language
            context["errors"] = [problems.word(str(e), lang) for e in context["errors"]]
        return context


def _for_staff(template: str) -> bool:
    return template.startswith("staff_") or template == "command_error"


class WithheldNotifier(Notifier):
    """For imported mail: each notification the live desk would queue is recorded, with its
    signed Message-ID, as `withheld` (never sent, never rendered) instead of `pending`.

    Recorded rather than dropped, so that every later decision that reads the outbox (the
    automatic mails per address and hour, a bounce or reply quoting one of our Message-IDs,
    whether staff answered) comes out exactly as it would have for live mail."""

    def enqueue(
        self, conn: Connection, ticket_id: int, note: Notify, cause: str, now: datetime
    ) -> int | None:
        if _already_queued(conn, note, cause):
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


def _already_queued(conn: Connection, note: Notify, cause: str) -> bool:
    """The same notification (cause, recipient, template) is in the outbox: once only."""
    found = conn.execute(
        _SAME_NOTIFICATION,
        {"cause": cause, "recipient": note.recipient, "template": note.template},
    ).first()
    return found is not None
