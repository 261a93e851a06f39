"""Durable intake: one INSERT of the raw bytes, committed before anyone is told "accepted".

No parsing happens here, so a slow or buggy parser can never delay or lose an accepted
mail (it is processed later by the worker, from this row).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from sqlalchemy import Engine, insert

from maildesk import logs
from maildesk.clock import utc
from maildesk.models import inbound

log = logging.getLogger("maildesk.intake")


def store(
    engine: Engine,
    raw: bytes,
    *,
    source: str,
    now: datetime,
    mail_from: str = "",
    rcpt_tos: tuple[str, ...] = (),
    source_key: str | None = None,
) -> int:
    """Commit the raw message; return its spool id. Raises on any storage failure."""
    now = utc(now)  # SQLite keeps no offset: every stored instant is UTC
    sha = hashlib.sha256(raw).hexdigest()
    with engine.begin() as conn:
        inbound_id = conn.execute(
            insert(inbound)
            .values(
                received_at=now,
                source=source,
                source_key=source_key,
                mail_from=mail_from,
                rcpt_tos=list(rcpt_tos),
                raw=raw,
                sha256=sha,
                status="received",
                attempts=0,
            )
            .returning(inbound.c.id)
        ).scalar_one()
    logs.decision(
        log, inbound=inbound_id, source=source, action="accepted", bytes=len(raw), sha256=sha[:16]
    )
    return inbound_id
