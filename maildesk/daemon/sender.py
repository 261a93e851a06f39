"""Deliver outbox rows: claim, send outside any transaction, then record the result.

Temporary failures (4xx, refused connection, timeout) retry with growing delays;
permanent ones (5xx) and too many attempts make the row `dead`, logged and recorded on
its ticket. A crash between the relay's `250` and our bookkeeping leaves the row
`sending`; when its lease expires it is sent once more with the same bytes and
Message-ID, so mail clients show it once. Nothing else can send a row twice.

The relay session is set up as configured or not at all: with `tls = "starttls"` a relay
that does not offer STARTTLS, or whose certificate fails, gets nothing in plain text; like
a refused login, that is a temporary failure (retried, logged as an error), never a reason
to give a mail up, because the fix is on the relay's or the admin's side.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, update

from maildesk import logs
from maildesk.addresses import normalise_address
from maildesk.clock import utc
from maildesk.config import OutboundConfig
from maildesk.store.db import reading
from maildesk.store.history import SYSTEM, record_event
from maildesk.store.models import outbox, tickets

log = logging.getLogger("maildesk.sender")
LEASE = timedelta(seconds=90)  # longer than any SMTP conversation (timeout_seconds)
MAX_DELAY = timedelta(hours=6)


@dataclass(frozen=True)
class Delivery:
    outbox_id: int
    status: str  # sent | failed | dead | busy
    detail: str = ""


class Permanent(Exception):
    """The relay refused the mail for good (5xx)."""


class RelayUnusable(smtplib.SMTPException):
    """No session with the relay as configured (TLS, certificate, login): retry later."""


class Sender:
    def __init__(self, engine: Engine, config: OutboundConfig) -> None:
        self.engine = engine
        self.config = config
        self._smtp: smtplib.SMTP | None = None  # kept open while a batch is sent
        self._keys: dict[int, str] = {}  # ticket id -> key, for the log (keys never change)
        # Told of each notification's final state (sent | dead): the metrics, when served.
        self.on_final: Callable[[Any, str], None] = lambda _row, _state: None

    def _key(self, ticket_id: int | None) -> str | None:
        if ticket_id is None:
            return None
        key = self._keys.get(ticket_id)
        if key is None:
            with reading(self.engine) as conn:
                key = conn.execute(_TICKET_KEY, {"ticket": ticket_id}).scalar()
            if key is not None:
                if len(self._keys) >= 10_000:
                    self._keys.clear()
                self._keys[ticket_id] = key
        return key

    def flush(self, now: datetime, batch: int = 100) -> list[Delivery]:
        """Send up to `batch` due notifications, claiming them one at a time.

        One at a time, so that a crash leaves only the row being sent waiting for its lease;
        the connection to the relay stays open across the batch, and the next row is
        claimed in the transaction that records the previous one as sent.
        """
        now = utc(now)
        done: list[Delivery] = []
        try:
            rows = self._claim_rows(None, now)
            while rows:
                more = len(done) + 1 < batch
                delivery, following = self._send(rows[0], now, claim_next=more)
                done.append(delivery)
                if not more:
                    break
                rows = self._claim_rows(None, now) if following is None else following
        finally:
            self._hang_up()
        return done

    def deliver(self, outbox_id: int, now: datetime) -> Delivery:
        now = utc(now)
        rows = self._claim_rows(outbox.c.id == outbox_id, now)
        if not rows:
            return Delivery(outbox_id, "busy", "claimed elsewhere or not due")
        try:
            return self._send(rows[0], now)[0]
        finally:
            self._hang_up()

    def _send(self, row, now: datetime, claim_next: bool = False) -> tuple[Delivery, list | None]:
        """Send one claimed row; with `claim_next` and success, also claim the next rows
        (an empty list: none is due; None: not looked for)."""
        if normalise_address(row.recipient) is None or normalise_address(row.mail_from) is None:
            return self._give_up(row, now, f"invalid address: {row.recipient!r}"), None
        try:
            self._transmit(row)  # outside any transaction, by construction
        except Permanent as exc:
            return self._give_up(row, now, str(exc)), None
        except RelayUnusable as exc:
            return self._retry(row, now, str(exc), logging.ERROR), None
        except (OSError, smtplib.SMTPException) as exc:
            return self._retry(row, now, f"{type(exc).__name__}: {exc}"), None
        with self.engine.begin() as conn:
            conn.execute(
                _SENT, {"row": row.id, "status": "sent", "sent_at": now, "last_error": None}
            )
            following = self._claim_in(conn, None, now) if claim_next else None
        logs.decision(
            log,
            ticket=self._key(row.ticket_id),
            msgid=row.message_id,
            action="sent",
            template=row.template,
            to=row.recipient,
            attempt=row.attempts,
        )
        self.on_final(row, "sent")
        return Delivery(row.id, "sent"), following

    def _claim_rows(self, which, now: datetime, limit: int = 1) -> list:
        """Mark due rows `sending` with a lease (committed) and return them, in due order."""
        with self.engine.begin() as conn:
            return self._claim_in(conn, which, now, limit)

    @staticmethod
    def _claim_in(conn: Connection, which, now: datetime, limit: int = 1) -> list:
        """Claim the rows due first (by due time, then id) in `conn`'s transaction.

        Each claimable status is read from its own range of `ix_outbox_status_due`, already
        in order, so a claim costs the same with ten rows waiting or a backlog of a hundred
        thousand; one query over all three statuses reads every waiting row and sorts them.
        The rows are locked with FOR UPDATE SKIP LOCKED (PostgreSQL; SQLite serialises
        writers), then updated by id: an UPDATE ... WHERE id IN (SELECT ... LIMIT n) may
        re-run its subquery on PostgreSQL and take more rows than asked.
        """
        params = {"now": now, "limit": limit}
        picks = CLAIM_QUERIES if which is None else [pick.where(which) for pick in CLAIM_QUERIES]
        found = [row for pick in picks for row in conn.execute(pick, params)]
        ids = [row.id for row in sorted(found, key=_due_order)[:limit]]
        if not ids:
            return []
        rows = conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(ids))
            .values(status="sending", attempts=outbox.c.attempts + 1, next_attempt_at=now + LEASE)
            .returning(*outbox.c)
        ).all()
        order = {row_id: place for place, row_id in enumerate(ids)}
        return sorted(rows, key=lambda row: order[row.id])

    def _transmit(self, row) -> None:
        if not self.config.host:
            self._pickup(row)
            return
        smtp = self._connection()
        try:
            smtp.sendmail(row.mail_from, [row.recipient], row.raw)
        except smtplib.SMTPRecipientsRefused as exc:
            smtp.rset()
            code, text = next(iter(exc.recipients.values()))
            _raise_for(code, text)
        except smtplib.SMTPResponseException as exc:
            self._hang_up()  # the session's state is unknown: start afresh next time
            _raise_for(exc.smtp_code, exc.smtp_error)
        except (OSError, smtplib.SMTPException):
            self._hang_up()
            raise

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            self._smtp = self._open()
        return self._smtp

    def _open(self) -> smtplib.SMTP:
        """A session with the relay, protected as configured, or RelayUnusable.

        A refused or timed-out connection stays an OSError (the relay is down: retried as
        before); what fails after it (TLS, certificate, login) is the setup's fault.
        """
        cfg = self.config
        context = _tls_context(cfg) if cfg.tls != "none" else None
        if cfg.tls == "tls":
            try:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    cfg.host, cfg.port, timeout=cfg.timeout_seconds, context=context
                )
            except ssl.SSLError as exc:
                raise RelayUnusable(self._failed("TLS", exc)) from None
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds)
        step = "STARTTLS"
        try:
            if cfg.tls == "starttls":
                smtp.starttls(context=context)
            step = "login"
            if cfg.username:
                smtp.login(cfg.username, _password(cfg))
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            raise RelayUnusable(self._failed(step, exc)) from None
        return smtp

    def _failed(self, step: str, exc: Exception) -> str:
        cfg = self.config
        detail = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, smtplib.SMTPNotSupportedError) and step == "STARTTLS":
            detail = "the relay does not offer STARTTLS"
        return (
            f"{step} with the relay {cfg.host}:{cfg.port} failed (tls = {cfg.tls!r}); "
            f"nothing was sent: {detail}"
        )

    def _hang_up(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()

    def _pickup(self, row) -> None:
        """No relay configured: write the mail as an .eml file (named by row: no duplicates)."""
        folder = Path(self.config.pickup_dir)
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{row.id:08d}-{row.template}.eml"
        temp = final.with_suffix(".tmp")
        with temp.open("wb") as fh:
            fh.write(row.raw)
            fh.flush()
            os.fsync(fh.fileno())
        temp.replace(final)

    def _retry(self, row, now: datetime, error: str, level: int = logging.WARNING) -> Delivery:
        if row.attempts >= self.config.max_attempts:
            return self._give_up(row, now, f"gave up after {row.attempts} attempts: {error}")
        delay = min(
            timedelta(seconds=self.config.retry_seconds * 2 ** (row.attempts - 1)), MAX_DELAY
        )
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == row.id)
                .values(status="failed", last_error=error[:2000], next_attempt_at=now + delay)
            )
        logs.decision(
            log,
            level,
            ticket=self._key(row.ticket_id),
            msgid=row.message_id,
            action="retry",
            template=row.template,
            to=row.recipient,
            attempt=row.attempts,
            retry_in=int(delay.total_seconds()),
            reason=error,
        )
        return Delivery(row.id, "failed", error)

    def _give_up(self, row, now: datetime, error: str) -> Delivery:
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == row.id)
                .values(status="dead", last_error=error[:2000])
            )
            if row.ticket_id is not None:
                record_event(
                    conn,
                    row.ticket_id,
                    now,
                    SYSTEM,
                    "notification-dead",
                    f"{row.template}: {error}"[:2000],
                    None,
                    row.recipient,
                )
        logs.decision(
            log,
            logging.ERROR,
            ticket=self._key(row.ticket_id),
            msgid=row.message_id,
            action="dead",
            template=row.template,
            to=row.recipient,
            attempt=row.attempts,
            reason=error,
        )
        self.on_final(row, "dead")
        return Delivery(row.id, "dead", error)


def _tls_context(cfg: OutboundConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cfg.ca_file or None)
    if not cfg.tls_verify:  # encrypted, but the relay is not authenticated
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _password(cfg: OutboundConfig) -> str:
    """Read at each login, so a rotated password file needs no restart."""
    if cfg.password_file:
        return Path(cfg.password_file).read_text(encoding="utf-8").strip()
    return cfg.password


_SENT = update(outbox).where(outbox.c.id == bindparam("row"))
_TICKET_KEY = select(tickets.c.key).where(tickets.c.id == bindparam("ticket"))


# Claimable: waiting to be sent or retried, or `sending` with an expired lease (its sender
# died), each once its `next_attempt_at` has come.
_CLAIMABLE = ("pending", "failed", "sending")
CLAIM_QUERIES = tuple(
    select(outbox.c.id, outbox.c.next_attempt_at)
    .where(outbox.c.status == status, outbox.c.next_attempt_at <= bindparam("now"))
    .order_by(outbox.c.next_attempt_at, outbox.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
    for status in _CLAIMABLE
)


def _due_order(row) -> tuple:
    return (row.next_attempt_at, row.id)


def _raise_for(code: int, text: bytes | str) -> None:
    message = f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    if 500 <= code < 600:
        raise Permanent(message)
    raise smtplib.SMTPException(message)
