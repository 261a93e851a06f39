"""Several instances on one database: heartbeats, and one watcher per IMAP mailbox.

PostgreSQL (or SQLite, for the single instance) is the only coordinator. Each instance
records a heartbeat; each IMAP mailbox is leased to one instance at a time, renewed by a
background thread. A lease not renewed for `lease_seconds` expires and another instance
takes the mailbox over; a mailbox thread only reads the cached verdict (`holds`).

An instance that was killed never leaves: `maildesk status` shows it `lost` once it has
missed three heartbeats, and the live instances delete its row once it has been silent
for `[cluster] forget_after` (its leases were taken over long before).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, or_, update
from sqlalchemy.exc import IntegrityError

from maildesk import logs
from maildesk.clock import utc
from maildesk.store.models import instances, leases

log = logging.getLogger("maildesk.cluster")
LOST_AFTER_BEATS = 3


def beat_seconds(lease_seconds: float) -> float:
    """How often an instance beats: 1/6 of the takeover time (see Membership)."""
    return lease_seconds / 6


def lost_after(lease_seconds: float) -> float:
    """Seconds of silence after which `status` calls an instance lost: three beats missed."""
    return LOST_AFTER_BEATS * beat_seconds(lease_seconds)


class Membership:
    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], datetime],
        smtp: str,
        lease_seconds: float = 30.0,
        names: Iterable[str] = (),
        forget_after: float = 86400.0,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.smtp = smtp
        # A lease lapses after 2/3 of the takeover time and is renewed every 1/6 of it, so a
        # dead instance's mailboxes are taken over within `lease_seconds`.
        self.lease = timedelta(seconds=lease_seconds * 2 / 3)
        self.beat_seconds = beat_seconds(lease_seconds)
        self.forget_after = timedelta(seconds=forget_after)
        self.names = tuple(f"imap:{n}" for n in names)
        self._held: set[str] = set()
        self._lock = threading.Lock()

    def holds(self, mailbox: str) -> bool:
        with self._lock:
            return f"imap:{mailbox}" in self._held

    def join(self) -> None:
        now = utc(self.clock())
        with self.engine.begin() as conn:
            conn.execute(
                insert(instances).values(
                    id=self.id,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=now,
                    heartbeat_at=now,
                    smtp=self.smtp,
                )
            )
        logs.decision(log, instance=self.id, action="joined")

    def beat(self) -> None:
        """Heartbeat, then renew or take the leases this instance can hold."""
        now = utc(self.clock())
        with self.engine.begin() as conn:
            conn.execute(
                update(instances).where(instances.c.id == self.id).values(heartbeat_at=now)
            )
            forgotten = conn.execute(
                delete(instances).where(
                    instances.c.heartbeat_at < now - self.forget_after, instances.c.id != self.id
                )
            ).rowcount
        if forgotten:
            logs.decision(log, instance=self.id, action="forgot-lost-instances", count=forgotten)
        held = {name for name in self.names if self._take(name, now)}
        with self._lock:
            gained, lost = held - self._held, self._held - held
            self._held = held
        for name in sorted(gained):
            logs.decision(log, instance=self.id, lease=name, action="acquired")
        for name in sorted(lost):
            logs.decision(log, logging.WARNING, instance=self.id, lease=name, action="lost")

    def _take(self, name: str, now: datetime) -> bool:
        expires = now + self.lease
        try:
            with self.engine.begin() as conn:
                taken = conn.execute(
                    update(leases)
                    .where(
                        leases.c.name == name,
                        or_(leases.c.holder == self.id, leases.c.expires_at < now),
                    )
                    .values(holder=self.id, expires_at=expires)
                ).rowcount
                if taken:
                    return True
                conn.execute(insert(leases).values(name=name, holder=self.id, expires_at=expires))
                return True
        except IntegrityError:
            return False  # another instance holds it

    def leave(self) -> None:
        """Give the leases back at once (a clean stop) so another instance need not wait."""
        with self.engine.begin() as conn:
            conn.execute(delete(leases).where(leases.c.holder == self.id))
            conn.execute(delete(instances).where(instances.c.id == self.id))
        with self._lock:
            self._held.clear()
        logs.decision(log, instance=self.id, action="left")


def run_beats(member: Membership, stop: threading.Event) -> threading.Thread:
    def loop() -> None:
        while not stop.is_set():
            try:
                member.beat()
            except Exception as exc:  # noqa: BLE001 - database away: leases lapse, retry
                with member._lock:
                    member._held.clear()
                logs.decision(
                    log,
                    logging.ERROR,
                    instance=member.id,
                    action="beat-failed",
                    reason=f"{type(exc).__name__}: {exc}",
                )
            stop.wait(member.beat_seconds)

    thread = threading.Thread(target=loop, name="heartbeat", daemon=True)
    thread.start()
    return thread
