"""The floor: the least a mail desk must do per message, run as its own process.

aiosmtpd receive, stdlib parse, one durable insert committed before `250` (SQLite in WAL
with synchronous=FULL, or PostgreSQL with its default synchronous_commit=on), then a
jinja2-rendered acknowledgement sent with smtplib. No threading rules, no quality
checks, no outbox: it exists only to be measured against maildesk.

    python bench/floor.py --port 2600 --relay-port 2601 --db sqlite:////tmp/floor.db
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import signal
import smtplib
import sqlite3
import threading
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid

import jinja2
from aiosmtpd.controller import Controller

ACK = jinja2.Environment(autoescape=False).from_string(  # noqa: S701 - plain-text mail
    'Hello {{ name or address }},\n\nWe have received your request "{{ subject }}".\n'
    "It is registered under the number {{ key }}.\n\nKind regards,\nCustomer Services\n"
)
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS floor_messages (id INTEGER PRIMARY KEY, message_id TEXT,"
    " sender TEXT, subject TEXT, body TEXT, raw BLOB)"
)
INDEX = "CREATE INDEX IF NOT EXISTS ix_floor_mid ON floor_messages (message_id)"
PG_SCHEMA = SCHEMA.replace("INTEGER PRIMARY KEY", "BIGSERIAL PRIMARY KEY").replace("BLOB", "BYTEA")


class Store:
    """One connection, one writer at a time (SQLite serialises writers anyway)."""

    def __init__(self, url: str) -> None:
        self.lock = threading.Lock()
        if url.startswith("sqlite:///"):
            self.conn = sqlite3.connect(url.removeprefix("sqlite:///"), check_same_thread=False)
            self.conn.isolation_level = None
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.mark = "?"
            self.conn.execute(SCHEMA)
        else:
            import psycopg

            self.conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
            self.conn.autocommit = True
            self.mark = "%s"
            self.conn.execute(PG_SCHEMA)
        self.conn.execute(INDEX)

    def insert(self, message_id: str, sender: str, subject: str, body: str, raw: bytes) -> None:
        m = self.mark
        with self.lock:
            cur = self.conn.cursor()
            cur.execute("BEGIN")
            cur.execute(
                f"INSERT INTO floor_messages (message_id, sender, subject, body, raw)"
                f" VALUES ({m}, {m}, {m}, {m}, {m})",
                (message_id, sender, subject, body, raw),
            )
            cur.execute("COMMIT")

    def known(self, message_ids: list[str]) -> bool:
        m = self.mark
        with self.lock:
            cur = self.conn.cursor()
            for mid in message_ids:
                cur.execute(f"SELECT 1 FROM floor_messages WHERE message_id = {m}", (mid,))
                if cur.fetchone():
                    return True
            return False


class FloorHandler:
    def __init__(self, store: Store, acks: queue.Queue) -> None:
        self.store = store
        self.acks = acks

    async def handle_DATA(self, server, session, envelope) -> str:
        raw = bytes(envelope.original_content or envelope.content)
        loop = asyncio.get_running_loop()
        ack = await loop.run_in_executor(None, self._store, raw)
        if ack is not None:
            self.acks.put(ack)  # after the commit, as maildesk does: never ack a lost mail
        return "250 2.0.0 OK"

    def _store(self, raw: bytes) -> dict | None:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        body_part = msg.get_body(("plain", "html"))
        body = body_part.get_content() if body_part is not None else ""
        sender = msg["From"].addresses[0] if msg["From"] else None
        address = sender.addr_spec if sender else ""
        message_id = str(msg.get("Message-ID", "")).strip()
        subject = str(msg.get("Subject", ""))
        parents = str(msg.get("In-Reply-To", "")).split()
        reply = bool(parents) and self.store.known(parents)
        self.store.insert(message_id, address, subject, body, raw)
        if reply:
            return None
        name = sender.display_name if sender else ""
        return {"to": address, "name": name, "subject": subject, "parent": message_id}


def send_acks(acks: queue.Queue, relay_port: int) -> None:
    """One connection to the relay, reopened when it drops; stops on a None."""
    smtp: smtplib.SMTP | None = None
    number = 0
    while (item := acks.get()) is not None:
        number += 1
        msg = EmailMessage(policy=policy.SMTP)
        msg["From"] = "Customer Services <support@example.com>"
        msg["To"] = item["to"]
        msg["Subject"] = f"[SUP-{number}] Request registered: {item['subject']}"
        msg["Message-ID"] = make_msgid(domain="example.com")
        msg["In-Reply-To"] = item["parent"]
        msg["Auto-Submitted"] = "auto-replied"
        msg.set_content(ACK.render(key=f"SUP-{number}", address=item["to"], **item))
        if smtp is None:
            smtp = smtplib.SMTP("127.0.0.1", relay_port, timeout=30)
        smtp.sendmail("support@example.com", [item["to"]], msg.as_bytes())
    if smtp is not None:
        smtp.quit()


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--port", type=int, required=True)
    args.add_argument("--relay-port", type=int, required=True)
    args.add_argument("--db", required=True, help="sqlite:///PATH or postgresql://...")
    opts = args.parse_args()
    acks: queue.Queue = queue.Queue()
    sender = threading.Thread(target=send_acks, args=(acks, opts.relay_port), name="acks")
    sender.start()
    controller = Controller(
        FloorHandler(Store(opts.db), acks),
        hostname="127.0.0.1",
        port=opts.port,
        decode_data=False,
        data_size_limit=0,
    )
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    controller.stop()
    acks.put(None)
    sender.join()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
