"""Shared pieces of the hostile-input tests: a desk, ingest, a real listener, raw SMTP."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from sqlalchemy import func, select

from maildesk.config import Config
from maildesk.daemon.app import Services, build, system_clock
from maildesk.daemon.smtp import IntakeHandler, controller
from maildesk.daemon.worker import Result
from maildesk.store import reports as report
from maildesk.store.models import inbound, outbox, tickets
from maildesk.store.spool import store
from tests.conftest import NOW, free_port, make_config

QUEUE = "support@help.example"
SUBJECT = "Erreur lors de la transmission SwissDec pour M. Dupont"


def spool(services: Services):
    """The engine the listener writes the spool with (a separate, durable one if any)."""
    return getattr(services, "spool", services.engine)


def sqlite_desk(tmp_path: Path, **sections: dict) -> Services:
    return build(make_config(f"sqlite:///{tmp_path / 'desk.db'}", tmp_path, **sections))


def ingest(
    services: Services, raw: bytes, now=NOW, rcpt_tos=(QUEUE,), mail_from="x@a.ch"
) -> Result:
    inbound_id = store(
        services.engine, raw, source="smtp", now=now, rcpt_tos=rcpt_tos, mail_from=mail_from
    )
    return services.worker.process(inbound_id, now)


def count(services: Services, table) -> int:
    with services.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def spool_rows(services: Services) -> int:
    return count(services, inbound)


def ticket_count(services: Services) -> int:
    return count(services, tickets)


def outbox_to(services: Services, address: str) -> list[dict]:
    return [r for r in report.list_outbox(services.engine) if r["recipient"] == address]


def outbox_count(services: Services) -> int:
    return count(services, outbox)


def show(services: Services, key: str) -> dict:
    shown = report.show_ticket(services.engine, key)
    assert shown is not None, key
    return shown


def raw_mail(headers: str, body: str = "Bonjour,\r\nla transmission échoue.\r\n") -> bytes:
    """A message written by hand: `headers` are CRLF-separated lines, without the blank line."""
    return f"{headers}\r\n\r\n{body}".encode()


BASIC = f"From: Alice <alice@acme.ch>\r\nTo: {QUEUE}\r\nSubject: {SUBJECT}"


@contextmanager
def listener(services: Services, **smtp: object) -> Iterator[Config]:
    """The real SMTP listener of maildesk on a free port, over `services`' database."""
    cfg = replace(services.config, smtp=replace(services.config.smtp, port=free_port(), **smtp))
    ctl = controller(IntakeHandler(spool(services), cfg, system_clock), cfg)
    ctl.start()
    try:
        yield cfg
    finally:
        ctl.stop()


class Dialogue:
    """A raw SMTP conversation over a socket: send exact bytes, read whole replies."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        self.banner = self.reply()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> bytes:
        """One complete (possibly multi-line) reply."""
        while True:
            lines = self.buffer.split(b"\r\n")
            for i, line in enumerate(lines[:-1]):
                if len(line) >= 4 and line[3:4] == b" ":
                    taken = b"\r\n".join(lines[: i + 1])
                    self.buffer = b"\r\n".join(lines[i + 1 :])
                    return taken
            chunk = self.sock.recv(65536)
            if not chunk:
                taken, self.buffer = self.buffer, b""
                return taken
            self.buffer += chunk

    def command(self, line: bytes) -> bytes:
        self.send(line + b"\r\n")
        return self.reply()

    def envelope(self, sender: bytes = b"alice@acme.ch", rcpt: bytes = QUEUE.encode()) -> None:
        assert self.command(b"EHLO client.example").startswith(b"250")
        assert self.command(b"MAIL FROM:<" + sender + b">").startswith(b"250")
        assert self.command(b"RCPT TO:<" + rcpt + b">").startswith(b"250")
        assert self.command(b"DATA").startswith(b"354")
