"""The SMTP listener: accept mail for our queues only, and say `250` only once it is stored.

Any internal fault answers `451 4.3.0` (the sender keeps the mail and retries), never a
`5xx` and never an internal detail. The DATA handler does one thing, the spool insert,
in a thread so the event loop keeps serving other connections.

Floods are refused with temporary replies, so a real sender only waits: past
`max_connections_per_client` (or `max_connections` in all) a new connection is greeted
with `421` and closed; past `messages_per_sender_per_minute` MAIL FROM answers
`451 4.7.1`. Both are counted in memory, per instance. Clients in `trusted_relays` (the
desk's own MTA, which carries everyone's mail) are not capped per client; the total cap
holds for them too.

With `tls_cert_file`/`tls_key_file` the listener offers STARTTLS (and with `require_tls`
answers `530 5.7.0` to MAIL before it); each spool row records the client, whether it is a
trusted relay and the session's TLS version and cipher.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import AnyStr

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Engine

from maildesk import logs
from maildesk.addresses import normalise_address
from maildesk.config import Config
from maildesk.inbound.relays import Origin, TrustedRelays
from maildesk.store.spool import GroupCommit

log = logging.getLogger("maildesk.smtp")
MAX_RECIPIENTS = 100
TEMPFAIL = "451 4.3.0 Temporary local problem, please try again later"
SENDER_DEFERRED = "451 4.7.1 Too much mail from this sender, please try again later"
CLIENT_BUSY = "421 4.7.0 Too many connections from your address, please try again later"
SERVER_BUSY = "421 4.3.2 Too many connections, please try again later"
TLS_REQUIRED = "530 5.7.0 Must issue a STARTTLS command first"
WINDOW = timedelta(minutes=1)


class Quiet:
    """Whether a refusal is worth a log line: the first per key, then one per window at most.

    A flood is refused thousands of times a minute and admins read this log: each client or
    sender shows up at most once a minute, and the next line says how many refusals went
    unlogged since the previous one. Keys last logged a window ago are forgotten (bounded
    memory); their unlogged count goes with them.
    """

    def __init__(self, every: timedelta = WINDOW) -> None:
        self.every = every
        self._last: dict[str, tuple[datetime, int]] = {}  # key -> (logged at, unlogged since)
        self._swept: datetime | None = None

    def due(self, key: str, now: datetime) -> int | None:
        """None: stay quiet (counted). Else log now; the number is the refusals unlogged."""
        last = self._last.get(key)
        if last is not None and now - last[0] < self.every:
            self._last[key] = (last[0], last[1] + 1)
            return None
        self._last[key] = (now, 0)
        self._sweep(now)  # after reading this key's count, which its line now reports
        return last[1] if last is not None else 0

    def _sweep(self, now: datetime) -> None:
        if self._swept is not None and now - self._swept < self.every:
            return
        self._swept = now
        for key in [k for k, (at, _n) in self._last.items() if now - at >= self.every]:
            del self._last[key]


class SenderRate:
    """Messages accepted per envelope sender in the last minute: a sliding window in memory.

    Only accepted messages count, so a deferred sender that retries is let in again as soon
    as its oldest message of the window is a minute old. A burst from thousands of distinct
    senders is the common case, so each sender costs one list of POSIX seconds (about 250
    bytes with its key, not a deque's 600-byte block), and senders with nothing in the
    window are swept every quarter window: memory follows the mail of the last 75 seconds.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit  # 0: no limit
        self._times: dict[str, list[float]] = {}  # sender -> accepted at, oldest first
        self._swept = float("-inf")

    def exceeded(self, sender: str, now: datetime) -> bool:
        if not self.limit:
            return False
        at = now.timestamp()
        self._sweep(at)
        times = self._times.get(sender)
        if not times:
            return False
        _drop_older(times, at - _WINDOW_SECONDS)
        return len(times) >= self.limit

    def count(self, sender: str, now: datetime) -> None:
        if self.limit:
            at = now.timestamp()
            times = self._times.get(sender)
            if times is None:
                self._times[sender] = [at]
            else:
                times.append(at)
                _drop_older(times, at - _WINDOW_SECONDS)

    def senders(self) -> int:
        """How many senders the window holds now (what its memory follows)."""
        return len(self._times)

    def _sweep(self, at: float) -> None:
        if at - self._swept < _WINDOW_SECONDS / 4:
            return
        self._swept = at
        cutoff = at - _WINDOW_SECONDS
        for sender in [s for s, t in self._times.items() if not t or t[-1] <= cutoff]:
            del self._times[sender]


_WINDOW_SECONDS = WINDOW.total_seconds()


def _drop_older(times: list[float], cutoff: float) -> None:
    old = 0
    while old < len(times) and times[old] <= cutoff:
        old += 1
    if old:
        del times[:old]


def sender_key(mail_from: str) -> str:
    """The envelope sender as counted: the canonical address, `<>` for bounces."""
    text = mail_from.strip()
    if text in ("", "<>"):
        return "<>"
    return normalise_address(text) or text.lower()[:320]


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
        self.on_refusal: Callable[[int], None] = lambda _code: None  # 4xx/5xx replies
        self.spool = GroupCommit(engine)
        self.rate = SenderRate(config.smtp.messages_per_sender_per_minute)
        self.relays = TrustedRelays(config.smtp.trusted_relays)
        self._quiet = Quiet()

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.config.smtp.require_tls and session.ssl is None:
            logs.decision(log, peer=_peer(session), action="refused", reason="MAIL before STARTTLS")
            return TLS_REQUIRED
        sender = sender_key(address)
        now = self.clock()
        if self.rate.exceeded(sender, now):
            self._log_deferral(session, sender, now)
            return SENDER_DEFERRED
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    def _log_deferral(self, session: Session, sender: str, now: datetime) -> None:
        unlogged = self._quiet.due(sender, now)
        if unlogged is None:
            return
        logs.decision(
            log,
            logging.WARNING,
            peer=_peer(session),
            sender=sender,
            action="deferred",
            reason=f"more than {self.rate.limit} messages from this sender in a minute",
            unlogged=unlogged or None,
        )

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
        client = _client(session.peer)
        origin = Origin(client[:100], self.relays.covers(client), _tls_of(session))
        try:
            inbound_id = await asyncio.get_running_loop().run_in_executor(
                None,
                self._store,
                bytes(raw),
                envelope.mail_from or "",
                tuple(envelope.rcpt_tos),
                origin,
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
        self.rate.count(sender_key(envelope.mail_from or ""), self.clock())
        self.on_stored(inbound_id)
        return f"250 2.0.0 OK queued as {inbound_id}"

    async def handle_exception(self, error: Exception) -> str:
        logs.decision(
            log, logging.ERROR, action="tempfail", reason=f"{type(error).__name__}: {error}"
        )
        return TEMPFAIL

    def _store(self, raw: bytes, mail_from: str, rcpt_tos: tuple[str, ...], origin: Origin) -> int:
        return self.spool.store(
            raw,
            source="smtp",
            now=self.clock(),
            mail_from=mail_from,
            rcpt_tos=rcpt_tos,
            origin=origin,
        )


def _tls_of(session: Session) -> str | None:
    """The session's TLS version and cipher ("TLSv1.3 TLS_AES_256_GCM_SHA384"), or None."""
    extra = session.ssl
    conn = extra.get("ssl_object") if isinstance(extra, dict) else None
    if conn is None:
        return None
    cipher = conn.cipher()
    return f"{conn.version()} {cipher[0] if cipher else '?'}"[:100]


def tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """The listener's STARTTLS context: TLS 1.2 or later, no client certificate asked."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


def reload_certificate(context: ssl.SSLContext, cert_file: str, key_file: str) -> None:
    """Load a renewed certificate and key into the listener's live context (SIGHUP): the
    next STARTTLS handshakes use them, sessions already encrypted keep theirs. The pair is
    tried in a fresh context first, so that a bad pair (a key that does not match, a
    half-written file) is refused, logged, and leaves the one in use untouched."""
    try:
        tls_context(cert_file, key_file)
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        reason = f"{type(exc).__name__}: {exc}"
        logs.decision(
            log, logging.ERROR, action="reload-refused", certificate=cert_file, reason=reason
        )
        return
    logs.decision(log, action="reloaded", signal="SIGHUP", certificate=cert_file)


def _peer(session: Session) -> str:
    peer = session.peer
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)


def _client(peer: object) -> str:
    """The client's address without its port: what the connection limit counts."""
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)


class ConnectionGate:
    """Open connections, in all and per client address: which new one to refuse, and why.

    Used only from the listener's event loop, so it needs no lock. A client's entry goes
    when its last connection closes: memory follows the connections actually open.
    """

    def __init__(
        self,
        total: int,
        per_client: int,
        clock: Callable[[], datetime],
        uncapped: Callable[[str], bool] = lambda _client: False,
    ) -> None:
        self.total = total
        self.per_client = per_client
        self.clock = clock
        self.uncapped = uncapped  # trusted relays: only the total cap applies
        self.open = 0
        self._by_client: dict[str, int] = {}
        self._quiet = Quiet()

    def admit(self, client: str) -> str | None:
        """Count the connection in and return None, or return the `421` reply to refuse it."""
        if self.open >= self.total:
            return self._refuse(client, SERVER_BUSY, f"{self.total} connections open in all")
        if self._by_client.get(client, 0) >= self.per_client and not self.uncapped(client):
            return self._refuse(
                client, CLIENT_BUSY, f"{self.per_client} connections open from this client"
            )
        self.open += 1
        self._by_client[client] = self._by_client.get(client, 0) + 1
        return None

    def release(self, client: str) -> None:
        self.open -= 1
        left = self._by_client.pop(client) - 1
        if left:
            self._by_client[client] = left

    def _refuse(self, client: str, reply: str, reason: str) -> str:
        unlogged = self._quiet.due(client, self.clock())
        if unlogged is not None:
            logs.decision(
                log,
                logging.WARNING,
                peer=client,
                action="refused-connection",
                reason=reason,
                unlogged=unlogged or None,
            )
        return reply


class _Session(SMTP):
    """aiosmtpd's session, admitted by the listener's gate before its banner.

    aiosmtpd has no hook before the `220` (handle_PROXY only runs with the PROXY
    protocol), so the gate wraps the session's task: counted in when it starts, counted
    out when it ends in any way (QUIT, timeout, a client vanishing, the listener stopping).
    """

    def __init__(self, handler: IntakeHandler, gate: ConnectionGate, **kwargs: object) -> None:
        super().__init__(handler, **kwargs)  # type: ignore[arg-type]
        self.gate = gate

    async def _handle_client(self) -> None:
        client = _client(self.session.peer if self.session else None)
        refusal = self.gate.admit(client)
        if refusal is not None:
            await self._refuse(refusal)
            return
        try:
            await super()._handle_client()
        finally:
            self.gate.release(client)

    async def push(self, status: AnyStr) -> None:
        """Every reply passes here: refusals (4xx, 5xx) are counted by code."""
        text = status.decode("ascii", "replace") if isinstance(status, bytes) else status
        if text[:1] in ("4", "5") and text[:3].isdigit():
            self.event_handler.on_refusal(int(text[:3]))
        await super().push(status)

    async def _refuse(self, reply: str) -> None:
        try:
            await self.push(reply)
        except ConnectionError:
            pass  # the client is gone already
        finally:
            if self.transport is not None:
                self.transport.close()


class _Controller(Controller):
    def __init__(
        self,
        handler: IntakeHandler,
        gate: ConnectionGate,
        sock: socket.socket | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(handler, **kwargs)  # type: ignore[arg-type]
        self.gate = gate
        # The STARTTLS context, shared with every session: SIGHUP loads a renewed
        # certificate into it (`reload_certificate`).
        self.listener_tls: ssl.SSLContext | None = kwargs.get("tls_context")  # type: ignore[assignment]
        self.sock = sock
        if sock is not None:
            self.port = sock.getsockname()[1]

    def factory(self) -> SMTP:
        return _Session(self.handler, self.gate, **self.SMTP_kwargs)

    def _create_server(self):  # type: ignore[no-untyped-def]
        if self.sock is None:
            return super()._create_server()
        return self.loop.create_server(self._factory_invoker, sock=self.sock)


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound now (raises OSError: address in use, not allowed, ...),
    so a daemon that cannot listen stops before it forks workers or starts threads."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(100)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def controller(
    handler: IntakeHandler, config: Config, sock: socket.socket | None = None
) -> Controller:
    """`sock`: a socket from `listen()`; without one, the controller binds when started."""
    gate = ConnectionGate(
        config.smtp.max_connections,
        config.smtp.max_connections_per_client,
        handler.clock,
        handler.relays.covers,
    )
    smtp = config.smtp
    tls = tls_context(smtp.tls_cert_file, smtp.tls_key_file) if smtp.tls_cert_file else None
    return _Controller(
        handler,
        gate,
        sock,
        hostname=config.smtp.host,
        port=config.smtp.port,
        data_size_limit=config.smtp.max_message_bytes,
        ident="maildesk",
        decode_data=False,
        tls_context=tls,
    )
