"""A real SMTP relay for tests: records every envelope it accepts, and can misbehave.

It listens on 127.0.0.1 with aiosmtpd, answers `451` or `550` to DATA on demand, holds
the `250` back (to open a crash window), and can be stopped and restarted on its port.
Given a TLS context it offers STARTTLS (or, `implicit_tls`, speaks TLS from the first
byte) and records whether each mail came over TLS; without one it offers no TLS at all.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.conftest import free_port

ANSWERS = {
    250: "250 2.0.0 OK: queued",
    451: "451 4.3.0 Temporary failure, try again later",
    550: "550 5.1.1 Mailbox unavailable",
}


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    tls: bool = False  # the mail came over an encrypted connection

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.raw)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


class _Handler:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refused = 0
        self.code = 250
        self.arrived = threading.Event()
        self.hold = False  # while True, a received mail waits for its 250

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.code != 250:
            self.refused += 1
            return ANSWERS[self.code]
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else content.encode()
        mail_from = envelope.mail_from or ""
        tls = server.transport is not None and bool(server.transport.get_extra_info("ssl_object"))
        self.received.append(Received(mail_from, tuple(envelope.rcpt_tos), raw, tls))
        self.arrived.set()
        while self.hold:
            await asyncio.sleep(0.02)
        return ANSWERS[250]


class Sink:
    """Start with `start()` (or as a context manager); `received` lists what it accepted."""

    def __init__(
        self,
        port: int | None = None,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._handler = _Handler()
        self._controller: Controller | None = None
        self._tls: dict[str, ssl.SSLContext] = {}
        if tls_context is not None:
            self._tls = {"ssl_context" if implicit_tls else "tls_context": tls_context}

    def __enter__(self) -> Sink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> Sink:
        if self._controller is None:
            # A fresh controller each time: the port is the same, the received list is kept.
            self._controller = Controller(
                self._handler, hostname=self.host, port=self.port, decode_data=False, **self._tls
            )
            self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._handler.hold = False
            self._controller.stop()
            self._controller = None

    def answer(self, code: int) -> None:
        """Answer DATA with `code` from now on: 250 accepts, 451 or 550 refuse."""
        if code not in ANSWERS:
            raise ValueError(f"the sink only answers {sorted(ANSWERS)}")
        self._handler.code = code

    def hold(self, holding: bool) -> None:
        """While holding, a mail is recorded but its 250 is delayed until released."""
        self._handler.arrived.clear()
        self._handler.hold = holding

    def wait_arrival(self, timeout: float = 30) -> bool:
        return self._handler.arrived.wait(timeout)

    @property
    def received(self) -> list[Received]:
        return list(self._handler.received)

    @property
    def refused(self) -> int:
        return self._handler.refused

    def to(self, address: str) -> list[Received]:
        return [r for r in self._handler.received if address in r.rcpt_tos]
