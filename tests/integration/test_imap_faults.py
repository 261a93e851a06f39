"""IMAP intake when the server drops the connection in the middle of a FETCH.

A small TCP relay sits between the mailbox and Dovecot and cuts the first connection once
the client has asked for a message body and only part of the answer has come back.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time

import pytest
from sqlalchemy import select as sql_select

from maildesk.daemon import imap
from maildesk.daemon.app import system_clock
from maildesk.daemon.imap import Mailbox
from maildesk.store.models import inbound
from tests.integration import dovecot
from tests.integration.dovecot import account, append, messages
from tests.integration.test_imap import imap_log, mailboxes, running, spooled, ticket_keys
from tests.integration.test_imap import wait_for as wait_until
from tests.mail import message

__all__ = ["imap_log", "mailboxes"]  # fixtures shared with test_imap, used by name below

BODY_FETCH = b"BODY.PEEK[]"  # the FETCH that carries the message itself
PASSED = 300  # bytes of the answer let through before the cut
# Long enough that the answer to the body FETCH is much larger than PASSED.
BODY = "Bonjour,\n\n" + "la transmission SwissDec échoue à l'étape 3.\n" * 60


class CuttingRelay:
    """Relays 127.0.0.1:`port` to Dovecot; cuts the first body FETCH after PASSED bytes."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.cut = threading.Event()
        self.passed = 0  # bytes of the cut answer that reached the client
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def __enter__(self) -> CuttingRelay:
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=5)
        self.listener.close()

    def _spawn(self, target, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            self._spawn(self._relay, client)

    def _relay(self, client: socket.socket) -> None:
        server = socket.create_connection((dovecot.HOST, dovecot.PORT), timeout=5)
        try:
            self._pump(client, server)
        finally:
            # shutdown first: the client must see the end now, not when it is collected.
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        armed = False  # the client asked for a body and the cut has not happened yet
        while not self.stop.is_set():
            readable, _, _ = select.select([client, server], [], [], 0.2)
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                if sock is client:
                    server.sendall(data)
                    armed = armed or (not self.cut.is_set() and BODY_FETCH in data.upper())
                    continue
                if armed:
                    part = data[: PASSED - self.passed]
                    client.sendall(part)
                    self.passed += len(part)
                    if self.passed >= PASSED:
                        self.cut.set()
                        return
                    continue
                client.sendall(data)


@pytest.fixture
def quick_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reconnect after 50 ms instead of 1 s; the delay still doubles."""
    monkeypatch.setattr(imap, "FIRST_DELAY", 0.05)


@pytest.mark.usefixtures("mailboxes", "quick_retry")
def test_connection_cut_mid_fetch_loses_and_doubles_nothing(services, imap_log):
    raw = message(message_id="<cut@acme.ch>", body=BODY)
    assert len(raw) > 4 * PASSED  # so the cut answer is really only a part
    append("desk1", raw)
    with CuttingRelay() as relay:
        box = Mailbox(account("desk1", port=relay.port), services, system_clock)
        with running(box):
            wait_until(lambda: box.state == "connected", 10)
            wait_until(lambda: len(messages("desk1", "Processed")) == 1, 5)
            time.sleep(0.3)  # room for a wrong second fetch, store or move to show up
    assert relay.cut.is_set(), "the relay never saw the body FETCH"
    assert 0 < relay.passed == PASSED
    assert relay.connections == 2  # the cut one, then one reconnect
    assert box.failures == 1
    assert ticket_keys(services) == ["SUP-1"]
    assert spooled(services) == 1
    assert messages("desk1", "INBOX") == []
    ((kept, flags),) = messages("desk1", "Processed")
    assert kept == raw.replace(b"\n", b"\r\n")  # APPEND stores CRLF line ends
    with services.engine.connect() as conn:
        stored = conn.execute(sql_select(inbound.c.raw)).scalar_one()
    assert stored == kept  # the whole message, not the part that passed before the cut
    assert b"\\Seen" not in flags
    states = [line for line in imap_log if "action=failing" in line or "action=connected" in line]
    assert [line.split()[0] for line in states] == ["ERROR", "INFO"], imap_log
    assert "action=failing" in states[0]
    assert "socket error: EOF" in states[0]
    assert "action=connected" in states[1]
