"""Watch IMAP mailboxes: store each new message, process it, then move it out of the way.

A message leaves the watched folder only after its raw bytes are committed (it is fetched
with BODY.PEEK[], so never marked read before that), and is never expunged without a copy
in the processed or quarantine folder. One thread per mailbox; a broken one retries alone.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from functools import partial
from pathlib import Path
from typing import Protocol

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from maildesk import logs
from maildesk.addresses import normalise_address
from maildesk.config import Config
from maildesk.config.imap import ImapAccount
from maildesk.daemon.worker import Worker
from maildesk.store.db import reading
from maildesk.store.models import inbound
from maildesk.store.spool import store


class MailboxParts(Protocol):
    """What a mailbox watcher uses (the composition root's `Services` has these, and more):
    the spool to store into and read back, the worker, the sender's wake-up, the limits."""

    engine: Engine
    spool: Engine
    worker: Worker
    config: Config
    sender_wake: Callable[[], None]


log = logging.getLogger("maildesk.imap")
FIRST_DELAY, MAX_DELAY = 1.0, 300.0  # reconnect back-off: 1 s doubling up to 5 min
RECHECK_SECONDS = 30.0  # how soon a message still being retried by the worker is looked at again
DONE = frozenset({"created", "appended", "duplicate", "ignored"})
TOKEN_COMMAND_SECONDS = 60


@dataclass(frozen=True)
class Handled:
    """What became of one message: `folder` None means it stays for a later look."""

    uid: int
    inbound_id: int | None
    outcome: str
    folder: str | None


class Mailbox:
    """One `[[imap]]` account: catch up on what is waiting, then IDLE (or poll) for more."""

    def __init__(
        self,
        account: ImapAccount,
        services: MailboxParts,
        clock: Callable[[], datetime],
        *,
        after_commit: Callable[[int], None] = lambda _id: None,
        holds: Callable[[], bool] = lambda: True,
        on_state: Callable[[str, str], None] = lambda _name, _state: None,
    ) -> None:
        self.on_state = on_state  # told each change of state (the metrics)
        self.account = account
        self.services = services
        self.clock = clock
        self.after_commit = after_commit  # called once the raw bytes are committed
        self.holds = holds  # does this instance hold the mailbox's lease? (cluster.py)
        self.client: IMAPClient | None = None
        self.uidvalidity = 0
        self.state = ""  # connected | failing, as last logged
        self.reason: str | None = None
        self.failures = 0
        self.pending = 0
        self.idle_broken = False

    def connect(self) -> None:
        """Log in, create the processed and quarantine folders if missing, select the folder."""
        self.close()
        self.client = connect(self.account)
        for folder in (self.account.processed_folder, self.account.quarantine_folder):
            if not self.client.folder_exists(folder):
                self.client.create_folder(folder)
                logs.decision(log, imap=self.account.name, action="folder-created", folder=folder)
        selected = self.client.select_folder(self.account.folder)
        self.uidvalidity = int(selected[b"UIDVALIDITY"])

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            _close(client)

    def run(self, stop: threading.Event) -> None:
        """Until `stop`: connect, catch up, watch; on any failure wait and start again."""
        delay = FIRST_DELAY
        while not stop.is_set():
            if not self.holds():
                self._report("standby", logging.INFO, "another instance watches this mailbox")
                stop.wait(1.0)
                continue
            try:
                self.connect()
                self.catch_up()
                self._report("connected", logging.INFO, None)
                delay = FIRST_DELAY
                self._watch(stop)
            except Exception as exc:  # noqa: BLE001 - any fault: this mailbox retries alone
                self.failures += 1
                self._report("failing", logging.ERROR, explain(exc, self.account))
                stop.wait(delay)
                delay = min(delay * 2, MAX_DELAY)
            finally:
                self.close()
        logs.decision(log, imap=self.account.name, action="stopped")

    def catch_up(self) -> list[Handled]:
        """Handle every message still in the watched folder: nothing there is processed yet."""
        assert self.client is not None, "connect() first"
        uids = sorted(self.client.search(["NOT", "DELETED"]))
        handled = [self._handle(uid) for uid in uids]
        self.pending = sum(1 for h in handled if h.folder is None)
        return handled

    def _watch(self, stop: threading.Event) -> None:
        assert self.client is not None
        while not stop.is_set() and self.holds():
            idle = self.account.idle and self.client.has_capability("IDLE")
            if idle and not self.idle_broken:
                self._idle(stop)
            else:
                wait = self.account.poll_seconds
                until = time.monotonic() + (min(wait, RECHECK_SECONDS) if self.pending else wait)
                while time.monotonic() < until and self.holds() and not stop.wait(1.0):
                    pass
            if not stop.is_set():
                self.catch_up()

    def _idle(self, stop: threading.Event) -> None:
        """IDLE until the server reports a change, `stop`, or the time to renew the IDLE."""
        assert self.client is not None
        renew = self.account.idle_renew_seconds
        deadline = time.monotonic() + (min(renew, RECHECK_SECONDS) if self.pending else renew)
        try:
            self.client.idle()
        except IMAPClientError as exc:
            # Advertised but refused: poll on this account from now on, and say so once.
            self.idle_broken = True
            logs.decision(
                log, logging.WARNING, imap=self.account.name, action="polling", reason=str(exc)
            )
            return
        try:
            while not stop.is_set() and not _already_read(self.client):
                left = deadline - time.monotonic()
                # Short slices keep `stop` responsive; any response means "look again".
                if left <= 0 or self.client.idle_check(timeout=min(1.0, left)):
                    break
                if not self.holds():
                    break  # the lease went to another instance: let go of the mailbox
        finally:
            self.client.idle_done()

    def _handle(self, uid: int) -> Handled:
        key = f"imap:{self.account.name}:{self.uidvalidity}:{uid}"
        row = _stored(self.services.engine, key)
        if row is None:
            taken = self._take_in(uid, key)
            if isinstance(taken, Handled):
                return taken
            inbound_id, status, outcome, reason = taken, "received", None, None
        else:
            inbound_id, status, outcome, reason = row
        if status == "received":
            result = self.services.worker.process(inbound_id, self.clock())
            outcome, reason = result.outcome, result.reason
            self.services.sender_wake()  # its acknowledgement goes out now, not at the next poll
        return self._file(Handled(uid, inbound_id, outcome or status, ""), reason)

    def _take_in(self, uid: int, key: str) -> int | Handled:
        """Fetch without setting \\Seen and commit: the spool id, or what stopped it."""
        assert self.client is not None
        size = self.client.fetch([uid], ["RFC822.SIZE"]).get(uid, {}).get(b"RFC822.SIZE")
        limit = self.services.config.smtp.max_message_bytes
        if size is not None and size > limit:
            reason = f"message of {size} bytes is over the {limit} byte limit"
            return self._file(Handled(uid, None, "too-large", ""), reason)
        raw = self.client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]")
        if raw is None:
            return Handled(uid, None, "vanished", None)  # removed by someone else meanwhile
        inbound_id, _new = store_once(
            self.services.spool,
            raw,
            source=f"imap:{self.account.name}",
            source_key=key,
            now=self.clock(),
            rcpt_tos=recipients_for(raw, self.account, self.services.config),
        )
        self.after_commit(inbound_id)
        return inbound_id

    def _file(self, handled: Handled, reason: str | None) -> Handled:
        """Move to the processed or quarantine folder, or leave it while the worker retries."""
        folder: str | None = None
        if handled.outcome in DONE:
            folder = self.account.processed_folder
        elif handled.outcome in ("quarantined", "too-large"):
            folder = self.account.quarantine_folder
        if folder is not None:
            move(self.client, handled.uid, folder)
        level = logging.WARNING if folder == self.account.quarantine_folder else logging.INFO
        logs.decision(
            log,
            level,
            imap=self.account.name,
            uid=handled.uid,
            inbound=handled.inbound_id,
            action=f"moved to {folder}" if folder else "left for retry",
            outcome=handled.outcome,
            reason=reason if folder != self.account.processed_folder else None,
        )
        return Handled(handled.uid, handled.inbound_id, handled.outcome, folder)

    def _report(self, state: str, level: int, reason: str | None) -> None:
        """Log a change of state once, not every retry."""
        if (state, reason) == (self.state, self.reason):
            return
        self.state, self.reason = state, reason
        self.on_state(self.account.name, state)
        account = self.account
        where = f"{account.host}:{account.port}"
        logs.decision(log, level, imap=account.name, server=where, action=state, reason=reason)


def start_all(
    accounts: tuple[ImapAccount, ...] | list[ImapAccount],
    services: MailboxParts,
    clock: Callable[[], datetime],
    stop: threading.Event,
    holds: Callable[[str], bool] = lambda _name: True,
    on_state: Callable[[str, str], None] = lambda _name, _state: None,
    on_accepted: Callable[[str], None] = lambda _source: None,
) -> list[threading.Thread]:
    """One daemon thread per mailbox; they end soon after `stop` is set (join them).

    `holds(name)` says whether this instance may watch that mailbox now (its lease);
    `on_state(name, state)` and `on_accepted(source)` feed the metrics.
    """
    threads = []
    for account in accounts:
        mailbox = Mailbox(
            account,
            services,
            clock,
            holds=partial(holds, account.name),
            on_state=on_state,
            after_commit=lambda _id, source=f"imap:{account.name}": on_accepted(source),
        )
        thread = threading.Thread(
            target=mailbox.run, args=(stop,), name=f"imap-{account.name}", daemon=True
        )
        thread.start()
        threads.append(thread)
    return threads


def store_once(
    engine: Engine,
    raw: bytes,
    *,
    source: str,
    source_key: str,
    now: datetime,
    rcpt_tos: tuple[str, ...] = (),
) -> tuple[int, bool]:
    """Store, or find the row an earlier attempt stored: (spool id, whether it is new)."""
    try:
        return store(
            engine, raw, source=source, now=now, rcpt_tos=rcpt_tos, source_key=source_key
        ), True
    except IntegrityError:
        row = _stored(engine, source_key)
        if row is None:
            raise
        return row[0], False


def _stored(engine: Engine, source_key: str) -> tuple[int, str, str | None, str | None] | None:
    with reading(engine) as conn:
        row = conn.execute(
            select(inbound.c.id, inbound.c.status, inbound.c.outcome, inbound.c.reason).where(
                inbound.c.source_key == source_key
            )
        ).first()
    return None if row is None else (row.id, row.status, row.outcome, row.reason)


def recipients_for(raw: bytes, account: ImapAccount, config: Config) -> tuple[str, ...]:
    """The account's queue address when no header names one of our queues, else nothing.

    A mailbox has no envelope; the routing step reads the headers, and falls back to the
    envelope recipient given here, which makes the account's `queue` the default.
    """
    if not account.queue:
        return ()
    headers = BytesHeaderParser().parsebytes(raw)
    values = [
        str(v)
        for h in ("to", "cc", "delivered-to", "x-original-to")
        for v in headers.get_all(h, [])
    ]
    for _name, address in getaddresses(values):
        if config.queue_for_address(normalise_address(address) or ""):
            return ()
    return config.queue_named(account.queue).addresses[:1]


def move(client: IMAPClient | None, uid: int, folder: str) -> None:
    """MOVE where the server has it; else copy first, and only then flag and expunge."""
    assert client is not None
    if client.has_capability("MOVE"):
        client.move([uid], folder)
        return
    client.copy([uid], folder)
    client.delete_messages([uid])
    # Without UIDPLUS a plain EXPUNGE would also remove mail others flagged \Deleted: the
    # copy stays flagged instead, and catch_up() skips \Deleted messages.
    if client.has_capability("UIDPLUS"):
        client.uid_expunge([uid])


def connect(account: ImapAccount) -> IMAPClient:
    context = ssl.create_default_context()
    client = IMAPClient(
        account.host,
        port=account.port,
        ssl=account.tls == "implicit",
        ssl_context=context,
        timeout=account.timeout_seconds,
    )
    try:
        if account.tls == "starttls":
            client.starttls(context)
        if account.uses_oauth2:
            client.oauth2_login(account.username, _secret(account))
        else:
            client.login(account.username, _secret(account))
    except BaseException:
        _close(client)
        raise
    return client


def _secret(account: ImapAccount) -> str:
    if account.password:
        return account.password
    file = account.password_file or account.oauth2_token_file
    if file:
        return Path(file).read_text(encoding="utf-8").strip()
    done = subprocess.run(  # noqa: S603 - the admin's own command, split without a shell
        shlex.split(account.oauth2_token_command),
        capture_output=True,
        text=True,
        timeout=TOKEN_COMMAND_SECONDS,
        check=False,
    )
    token = done.stdout.strip()
    if done.returncode != 0 or not token:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise LoginError(f"oauth2_token_command failed (exit {done.returncode}): {detail}")
    return token


def _already_read(client: IMAPClient) -> bool:
    """True when the server has said something that a poll of the socket cannot see.

    `IMAPClient.idle()` reads the server's go-ahead through imaplib's buffered reader, which
    may take the lines after it (the EXISTS of mail that came in since the last search) into
    its buffer too; `idle_check` polls the socket, which is then empty, so that mail would
    wait for the server's next keep-alive or the IDLE renewal, minutes later. Peeking
    without blocking sees those lines (or takes in what the socket holds): news either way.
    imapclient gives no public access to the reader, hence `_imap`."""
    sock = client.socket()
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        return bool(client._imap.file.peek(1))
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    finally:
        sock.settimeout(timeout)


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - closing must never raise over the real error
        # A dead connection cannot log out; closing the socket is all that is left.
        with contextlib.suppress(Exception):
            client.shutdown()


def explain(exc: BaseException, account: ImapAccount) -> str:
    """What went wrong, in the words an admin needs to fix it."""
    if isinstance(exc, LoginError):
        detail = str(exc)
        if detail.startswith(("b'", 'b"')):  # imapclient passes the server's bytes through str()
            detail = detail[2:-1]
        return f"login refused for {account.username} (wrong password or token?): {detail}"
    if isinstance(exc, OSError) and exc.filename:
        return f"cannot read {exc.filename}: {exc.strerror}"
    if isinstance(exc, OSError):
        return _network_trouble(exc, account)
    return f"{type(exc).__name__}: {exc}"


def _network_trouble(exc: OSError, account: ImapAccount) -> str:
    where = f"{account.host}:{account.port}"
    if isinstance(exc, socket.gaierror):
        return f"host name {account.host!r} not found"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {where} (server down or wrong port?)"
    if isinstance(exc, TimeoutError):
        return f"no answer from {where} within {account.timeout_seconds:g} s"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the TLS certificate of {where} is not trusted: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed with {where} (is tls = {account.tls!r} right for this port?): {exc}"
    return f"connection to {where} failed: {type(exc).__name__}: {exc}"


def check(account: ImapAccount) -> tuple[bool, list[str]]:
    """Log in and look around: (all well, lines to print) for `maildesk imap check NAME`."""
    where = f"{account.host}:{account.port}"
    try:
        client = connect(account)
    except Exception as exc:  # noqa: BLE001 - every fault is reported in plain words
        return False, [f"{account.name}: cannot log in to {where}: {explain(exc, account)}"]
    lines = [f"{account.name}: logged in to {where} as {account.username} (tls: {account.tls})"]
    try:
        ok = _look_around(client, account, lines)
    except Exception as exc:  # noqa: BLE001 - every fault is reported in plain words
        ok = False
        lines.append(f"{account.name}: {explain(exc, account)}")
    finally:
        _close(client)
    return ok, lines


def _look_around(client: IMAPClient, account: ImapAccount, lines: list[str]) -> bool:
    folders = [name for _flags, _sep, name in client.list_folders()]
    lines.append("folders: " + ", ".join(folders))
    if account.folder not in folders:
        lines.append(f"problem: the watched folder {account.folder!r} does not exist")
        return False
    waiting = client.select_folder(account.folder, readonly=True)[b"EXISTS"]
    lines.append(f"{account.folder}: {waiting} message(s) waiting to be taken in")
    for folder in (account.processed_folder, account.quarantine_folder):
        if folder not in folders:
            lines.append(f"{folder!r} does not exist yet: it is created on start")
    if not account.idle:
        lines.append(f"IDLE is turned off (idle = false): polling every {account.poll_seconds:g} s")
    elif not client.has_capability("IDLE"):
        lines.append(f"the server has no IDLE: polling every {account.poll_seconds:g} s instead")
    if not client.has_capability("MOVE"):
        how = "expunged" if client.has_capability("UIDPLUS") else "left flagged (no UIDPLUS)"
        lines.append(
            f"the server has no MOVE: messages are copied, then flagged \\Deleted and {how}"
        )
    return True
