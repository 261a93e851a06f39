"""Durable intake: one INSERT of the raw bytes, committed before anyone is told "accepted".

No parsing happens here, so a slow or buggy parser can never delay or lose an accepted
mail (it is processed later by the worker, from this row).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from datetime import datetime

from sqlalchemy import Connection, Engine, bindparam, insert, select

from maildesk import logs
from maildesk.addresses import normalise_address, one_line
from maildesk.clock import utc
from maildesk.inbound.lenient import glance
from maildesk.inbound.relays import Origin
from maildesk.store.db import reading
from maildesk.store.models import inbound

log = logging.getLogger("maildesk.intake")

# Sources of `maildesk import`: processed as of the message's own Date (`received_at`);
# `import` records its notifications as withheld, `import-notify` sends them as live mail.
IMPORTED = "import"
IMPORTED_NOTIFYING = "import-notify"
IMPORT_SOURCES = frozenset({IMPORTED, IMPORTED_NOTIFYING})


def store(
    engine: Engine,
    raw: bytes,
    *,
    source: str,
    now: datetime,
    mail_from: str = "",
    rcpt_tos: tuple[str, ...] = (),
    source_key: str | None = None,
    origin: Origin | None = None,
) -> int:
    """Commit the raw message; return its spool id. Raises on any storage failure."""
    row = _row(raw, source, now, mail_from, rcpt_tos, source_key, origin)
    with engine.begin() as conn:
        inbound_id = _insert(conn, row)
    _accepted(inbound_id, row)
    return inbound_id


def store_many(
    engine: Engine, messages: list[dict], claimed_until: datetime | None = None
) -> list[int]:
    """Commit many messages in one transaction (one fsync); their spool ids, in order.

    Each item holds `store`'s keyword arguments (`raw`, `source`, `now`, ...). All or none
    are stored: a caller that needs one failure not to fail the others stores them again
    one by one. `claimed_until`: the caller processes them next, so they are stored claimed
    (one attempt counted, leased until then) instead of claimed by a second write of every
    row, raw bytes and all."""
    if not messages:
        return []
    rows = [
        _row(
            m["raw"],
            m["source"],
            m["now"],
            m.get("mail_from", ""),
            m.get("rcpt_tos", ()),
            m.get("source_key"),
            sha256=m.get("sha256"),
        )
        for m in messages
    ]
    if claimed_until is not None:
        for row in rows:
            row.update(attempts=1, next_attempt_at=claimed_until)
    with engine.begin() as conn:
        ids = list(
            conn.execute(
                insert(inbound).returning(inbound.c.id, sort_by_parameter_order=True), rows
            ).scalars()
        )
    for inbound_id, row in zip(ids, rows, strict=True):
        _accepted(inbound_id, row)
    return ids


_BY_SOURCE_KEY = select(inbound.c.source_key, inbound.c.id, inbound.c.status).where(
    inbound.c.source_key.in_(bindparam("keys", expanding=True))
)


def stored(engine: Engine, source_keys: list[str]) -> dict[str, tuple[int, str]]:
    """source_key -> (spool id, status) of those of `source_keys` already in the spool."""
    if not source_keys:
        return {}
    with reading(engine) as conn:
        found = conn.execute(_BY_SOURCE_KEY, {"keys": source_keys}).all()
    return {r.source_key: (r.id, r.status) for r in found}


def _row(raw, source, now, mail_from, rcpt_tos, source_key, origin=None, sha256=None) -> dict:
    origin = origin or Origin()
    return {
        "peer": origin.peer,
        "relay_trusted": origin.relay_trusted,
        "tls": origin.tls,
        "received_at": utc(now),  # SQLite keeps no offset: every stored instant is UTC
        "source": source,
        "source_key": source_key,
        "mail_from": mail_from,
        "rcpt_tos": list(rcpt_tos),
        "raw": raw,
        "sha256": sha256 or hashlib.sha256(raw).hexdigest(),
        "status": "received",
        "attempts": 0,
    }


def _insert(conn: Connection, row: dict) -> int:
    return conn.execute(insert(inbound).values(**row).returning(inbound.c.id)).scalar_one()


def _accepted(inbound_id: int, row: dict) -> None:
    """The one intake line: who wrote to whom, which message, how big, from where."""
    if not log.isEnabledFor(logging.INFO):
        return
    seen = glance(row["raw"], row["sha256"])
    logs.decision(
        log,
        inbound=inbound_id,
        action="accepted",
        source=row["source"],
        **{"from": _envelope(row["mail_from"]) or seen.sender or None},
        to=",".join(row["rcpt_tos"] or seen.to) or None,
        msgid=seen.message_id,
        size=len(row["raw"]),
        sha256=row["sha256"][:16],
    )


def _envelope(mail_from: str) -> str:
    text = mail_from.strip()
    if text in ("", "<>"):
        return "<>" if text == "<>" else ""
    return normalise_address(text) or one_line(text, 320)


class _Waiting:
    def __init__(self, row: dict) -> None:
        self.row = row
        self.inbound_id: int | None = None
        self.error: BaseException | None = None
        self.done = False


class GroupCommit:
    """`store` for many concurrent callers: the messages that arrive while one commit is on
    its way to disk are committed together by the next one (one fsync for all of them).

    Nobody waits for a timer: a lone message is committed at once, exactly as `store`
    does. Each caller returns only after the transaction holding its row committed, so a
    `250` still means "on disk". If a shared transaction fails, each of its messages is
    tried again on its own, so one bad row never fails its neighbours.
    """

    def __init__(self, engine: Engine, most: int = 64) -> None:
        self.engine = engine
        self.most = most
        self._turn = threading.Condition()
        self._queue: list[_Waiting] = []
        self._leading = False

    def store(
        self,
        raw: bytes,
        *,
        source: str,
        now: datetime,
        mail_from: str = "",
        rcpt_tos: tuple[str, ...] = (),
        source_key: str | None = None,
        origin: Origin | None = None,
    ) -> int:
        me = _Waiting(_row(raw, source, now, mail_from, rcpt_tos, source_key, origin))
        with self._turn:
            self._queue.append(me)
        while True:
            with self._turn:
                while self._leading and not me.done:
                    self._turn.wait()
                if me.done:
                    break
                self._leading = True  # nobody is committing: this thread commits the queue
                batch, self._queue = self._queue[: self.most], self._queue[self.most :]
            try:
                self._commit(batch)
            finally:
                with self._turn:
                    self._leading = False
                    self._turn.notify_all()
        if me.error is not None:
            raise me.error
        assert me.inbound_id is not None
        return me.inbound_id

    def _commit(self, batch: list[_Waiting]) -> None:
        try:
            with self.engine.begin() as conn:
                ids = [_insert(conn, w.row) for w in batch]
            for w, inbound_id in zip(batch, ids, strict=True):
                w.inbound_id = inbound_id
        except Exception as exc:  # noqa: BLE001 - reported to each caller (SMTP 451)
            if len(batch) == 1:
                batch[0].error = exc
            else:
                for w in batch:
                    self._commit([w])
                return
        for w in batch:
            if w.inbound_id is not None:
                _accepted(w.inbound_id, w.row)
            w.done = True
