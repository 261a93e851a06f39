"""The SMTP listener: accept mail for our queues only, and say `250` only once it is stored.

Any internal fault answers `451 4.3.0` (the sender keeps the mail and retries), never a
`5xx` and never an internal detail. The DATA handler does one thing, the spool insert,
in a thread so the event loop keeps serving other connections.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Engine

from maildesk import logs
from maildesk.addresses import normalise_address
from maildesk.config import Config
from maildesk.inbound.spool import GroupCommit

log = logging.getLogger("maildesk.smtp")
MAX_RECIPIENTS = 100
TEMPFAIL = "451 4.3.0 Temporary local problem, please try again later"


class IntakeHandler:
    def __init__(
        self,
        engine: Engine,
        config: Config,
        clock: Callable[[], datetime],
        on_stored: Callable[[int], None] = lambda _id: None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock
        self.on_stored = on_stored
        self.spool = GroupCommit(engine)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"  # RFC 5321 §4.5.3.1.10
        normal = normalise_address(address)
        if normal is None or self.config.queue_for_address(normal) is None:
            logs.decision(
                log,
                peer=_peer(session),
                rcpt=address,
                action="rejected",
                reason="not a queue address (no relaying)",
            )
            return "550 5.1.1 No such mailbox here; this server does not relay"
        envelope.rcpt_tos.append(normal)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            inbound_id = await asyncio.get_running_loop().run_in_executor(
                None, self._store, bytes(raw), envelope.mail_from or "", tuple(envelope.rcpt_tos)
            )
        except Exception as exc:  # noqa: BLE001 - storage failed: the sender must retry (451)
            logs.decision(
                log,
                logging.ERROR,
                peer=_peer(session),
                action="tempfail",
                reason=f"{type(exc).__name__}: {exc}",
            )
            return TEMPFAIL
        self.on_stored(inbound_id)
        return f"250 2.0.0 OK queued as {inbound_id}"

    async def handle_exception(self, error: Exception) -> str:
        logs.decision(
            log, logging.ERROR, action="tempfail", reason=f"{type(error).__name__}: {error}"
        )
        return TEMPFAIL

    def _store(self, raw: bytes, mail_from: str, rcpt_tos: tuple[str, ...]) -> int:
        return self.spool.store(
            raw,
            source="smtp",
            now=self.clock(),
            mail_from=mail_from,
            rcpt_tos=rcpt_tos,
        )


def _peer(session: Session) -> str:
    peer = session.peer
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)


def controller(handler: IntakeHandler, config: Config) -> Controller:
    return Controller(
        handler,
        hostname=config.smtp.host,
        port=config.smtp.port,
        data_size_limit=config.smtp.max_message_bytes,
        ident="maildesk",
        decode_data=False,
    )
