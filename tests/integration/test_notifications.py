"""Notifications end to end over a real SMTP relay, on SQLite and PostgreSQL.

Mail is stored and processed the way `maildesk ingest` does, the outbox is flushed to the
sink in `sink.py`, and the assertions read the bytes the relay received: headers,
recipients, language, escaping, retries, crash recovery, mail loops and bounces.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import event, select

from maildesk.daemon.app import Services, build
from maildesk.daemon.worker import Result
from maildesk.store import reports as report
from maildesk.store.models import outbox
from maildesk.store.spool import store
from tests.conftest import NOW, make_config
from tests.integration.sink import Received, Sink
from tests.mail import message

QUEUE = "support@help.example"
FROM_NAME = "Service Clients Muster"
STAFF = ("consultant@help.example", "boss@help.example")
ROOT = Path(__file__).resolve().parents[2]
# Every header of an automatic notification, once each (RFC 3834 marks included).
AUTO_HEADERS = sorted(
    [
        "from",
        "to",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "auto-submitted",
        "x-auto-response-suppress",
        "precedence",
        "x-maildesk-loop",
        "mime-version",
        "content-type",
        "content-language",
    ]
)
# Staff notifications start a conversation: they answer nothing.
STAFF_HEADERS = sorted(set(AUTO_HEADERS) - {"in-reply-to", "references"})

DeskFactory = Callable[..., Services]


@pytest.fixture
def sink() -> Iterator[Sink]:
    with Sink() as running:
        yield running


@pytest.fixture
def make_desk(db_url: str, tmp_path: Path, sink: Sink) -> Iterator[DeskFactory]:
    """Build services whose outbound relay is the sink; `outbound` overrides its settings."""
    built: list[Services] = []

    def factory(**outbound: object) -> Services:
        settings = {
            "host": sink.host,
            "port": sink.port,
            "from_name": FROM_NAME,
            "pickup_dir": str(tmp_path / "outbox"),
            "timeout_seconds": 10,
            "retry_seconds": 60,
            **outbound,
        }
        services = build(make_config(db_url, tmp_path, outbound=settings))
        built.append(services)
        return services

    yield factory
    for services in built:
        services.engine.dispose()


@pytest.fixture
def desk(make_desk: DeskFactory) -> Services:
    return make_desk()


def ingest(services: Services, raw: bytes, now: datetime = NOW) -> Result:
    inbound_id = store(services.engine, raw, source="ingest", now=now, rcpt_tos=(QUEUE,))
    return services.worker.process(inbound_id, now)


def rows(services: Services) -> list[dict]:
    return sorted(report.list_outbox(services.engine), key=lambda r: r["id"])


def row_for(services: Services, template: str, recipient: str) -> dict:
    found = [r for r in rows(services) if (r["template"], r["recipient"]) == (template, recipient)]
    assert len(found) == 1, found
    return found[0]


def stored_raw(services: Services, message_id: str) -> bytes:
    with services.engine.connect() as conn:
        return conn.execute(select(outbox.c.raw).where(outbox.c.message_id == message_id)).scalar()


def events(services: Services, key: str, kind: str) -> list[dict]:
    shown = report.show_ticket(services.engine, key)
    assert shown is not None
    return [e for e in shown["events"] if e["kind"] == kind]


def utc(value: datetime) -> datetime:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parts(mail: EmailMessage) -> dict[str, str]:
    return {p.get_content_type(): p.get_content() for p in mail.iter_parts()}


def subject(mail: EmailMessage) -> str:
    """The Subject as a mail client shows it: a value folded onto its own line keeps the
    folding space in the stdlib's parse, where RFC 5322 unfolding makes it the usual separator.
    """
    return str(mail["Subject"]).lstrip(" ")


def header_names(mail: EmailMessage) -> list[str]:
    return sorted(k.lower() for k in mail)


# --- a new request ---------------------------------------------------------------------


def test_new_request_sends_one_ack_and_tells_staff(desk, sink):
    result = ingest(desk, message())
    assert (result.outcome, result.ticket) == ("created", "SUP-1")
    assert {d.status for d in desk.sender.flush(NOW)} == {"sent"}

    acks = sink.to("alice@acme.ch")
    assert len(acks) == 1
    ack = acks[0]
    assert (ack.mail_from, ack.rcpt_tos) == (QUEUE, ("alice@acme.ch",))
    mail = ack.message
    sender = mail["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == (FROM_NAME, QUEUE)
    assert [a.addr_spec for a in mail["Reply-To"].addresses] == [QUEUE]
    assert [a.addr_spec for a in mail["To"].addresses] == ["alice@acme.ch"]
    assert subject(mail).startswith("[SUP-1] ")
    assert desk.ids.ticket_key(ack.message_id) == "SUP-1"
    assert ack.message_id == row_for(desk, "ack", "alice@acme.ch")["message_id"]
    assert str(mail["In-Reply-To"]) == "<req-1@acme.ch>"
    assert str(mail["References"]) == "<req-1@acme.ch>"
    assert str(mail["Auto-Submitted"]) == "auto-replied"
    assert str(mail["X-Auto-Response-Suppress"]) == "OOF, AutoReply"
    assert header_names(mail) == AUTO_HEADERS
    assert mail.get_content_type() == "multipart/alternative"
    assert list(parts(mail)) == ["text/plain", "text/html"]
    assert "SUP-1" in parts(mail)["text/plain"]

    for address in STAFF:
        staff = sink.to(address)
        assert len(staff) == 1
        assert row_for(desk, "staff_new_ticket", address)["message_id"] == staff[0].message_id
        assert str(staff[0].message["Auto-Submitted"]) == "auto-generated"
        assert header_names(staff[0].message) == STAFF_HEADERS
        assert subject(staff[0].message).startswith("[SUP-1] ")
    assert len(sink.received) == 1 + len(STAFF)


REQUESTS = {
    "de": (
        "Fehler bei der Übermittlung an SwissDec seit heute",
        "Guten Tag,\n\nwir haben seit heute einen Fehler bei der Übermittlung. "
        "Bitte helfen Sie uns, danke.\n\nFreundliche Grüsse\n",
        ("Anfrage erfasst: ", "Guten Tag"),
    ),
    "en": (
        "Error when we send the payroll to SwissDec",
        "Hello,\n\nwe have an error since this morning when we send the payroll. "
        "Could you please have a look?\n\nKind regards\n",
        ("Request registered: ", "Hello"),
    ),
    "fr": (
        "Erreur lors de la transmission SwissDec pour M. Dupont",
        "Bonjour,\n\nla transmission échoue depuis ce matin. Merci pour votre aide.\n",
        ("Demande enregistrée : ", "Bonjour"),
    ),
    # Nothing to recognise a language by: the desk's default, French.
    "default": (
        "ProConcept 15.2.3 SwissDec XML 0x80004005",
        "ProConcept 15.2.3\nSwissDec XML\n+41 31 555 01 23\n",
        ("Demande enregistrée : ", "Bonjour"),
    ),
}


@pytest.mark.parametrize("case", list(REQUESTS))
def test_ack_is_written_in_the_language_of_the_request(desk, sink, case):
    text, body, (title, greeting) = REQUESTS[case]
    ingest(desk, message(subject=text, body=body))
    desk.sender.flush(NOW)
    [ack] = sink.to("alice@acme.ch")
    mail = ack.message
    assert subject(mail) == f"[SUP-1] {title}{text}"
    assert str(mail["Content-Language"]) == ("fr" if case == "default" else case)
    assert parts(mail)["text/plain"].startswith(greeting)
    # Consultants read the desk's language whatever the customer wrote in.
    [staff] = sink.to(STAFF[0])
    assert str(staff.message["Content-Language"]) == "fr"


# --- hostile input -----------------------------------------------------------------------


def _encoded(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


def _hostile_request(name: str) -> bytes:
    subject = "Erreur SwissDec\r\nBcc: victim@evil.example\r\n<script>alert(1)</script> {{ 7*7 }}"
    head = (
        f"From: {_encoded(name)} <eve@acme.ch>\r\n"
        "To: support@help.example\r\n"
        f"Subject: {_encoded(subject)}\r\n"
        "Message-ID: <hostile-1@acme.ch>\r\n"
        "Date: Mon, 02 Mar 2026 09:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
    )
    body = "Bonjour,\r\nFormule : {{ 7*7 }} fin.\r\n<script>alert(2)</script>\r\n"
    return f"{head}\r\n{body}".encode()


# The stdlib's address parser raises on an encoded display name that decodes to CR/LF;
# `addresses_in` fetches the header outside its try block, so `parse` raises.


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("Eve Bcc: victim@evil.example <script>alert(1)</script>", id="one-line"),
        pytest.param(
            "Eve\r\nBcc: victim@evil.example\r\n<script>alert(1)</script>",
            id="line-breaks",
        ),
    ],
)
def test_hostile_names_and_subjects_stay_inside_their_headers(desk, sink, name):
    assert ingest(desk, _hostile_request(name)).outcome == "created"
    desk.sender.flush(NOW)

    assert sorted(r for m in sink.received for r in m.rcpt_tos) == sorted(["eve@acme.ch", *STAFF])
    for received in sink.received:
        mail = received.message
        expected = STAFF_HEADERS if received.rcpt_tos[0] in STAFF else AUTO_HEADERS
        assert header_names(mail) == expected
        head = received.raw.split(b"\r\n\r\n", 1)[0]
        assert not any(line.lower().startswith(b"bcc") for line in head.split(b"\r\n"))
        for header, value in mail.items():
            assert not {"\r", "\n"} & set(str(value)), header
        html = parts(mail)["text/html"]
        assert "&lt;script&gt;" in html
        assert "<script" not in html.lower()

    [ack] = sink.to("eve@acme.ch")
    mail = ack.message
    assert [a.addr_spec for a in mail["To"].addresses] == ["eve@acme.ch"]
    title = subject(mail)
    assert "{{ 7*7 }}" in title
    assert "49" not in title
    staff_text = parts(sink.to(STAFF[0])[0].message)["text/plain"]
    assert "Formule : {{ 7*7 }} fin." in staff_text
    assert "Formule : 49" not in staff_text


def test_doubly_encoded_subject_still_gets_its_ack(desk, sink):
    inner = _encoded("x\r\nBcc: victim@evil.example")
    raw = message(subject="placeholder", sender="Eve <eve@acme.ch>").replace(
        b"Subject: placeholder", f"Subject: {_encoded(f'Erreur SwissDec {inner}')}".encode()
    )
    assert ingest(desk, raw).outcome == "created"
    desk.sender.flush(NOW)
    [ack] = sink.to("eve@acme.ch")
    assert "\n" not in subject(ack.message)


def test_long_display_name_cannot_readdress_the_ack(desk, sink):
    name = "Bcc: victim@evil.example" + "x" * 60
    # Written by hand: the stdlib would fold this From header the same broken way.
    raw = message(sender="Eve <eve@acme.ch>").replace(
        b"From: Eve <eve@acme.ch>", f'From: "{name}" <eve@acme.ch>'.encode()
    )
    assert ingest(desk, raw).outcome == "created"
    desk.sender.flush(NOW)
    [ack] = sink.to("eve@acme.ch")
    assert [a.addr_spec for a in ack.message["To"].addresses] == ["eve@acme.ch"]


# --- the outbox, and the pickup folder when no relay is configured -----------------------


def test_outbox_list_and_pickup_folder_without_relay(services, tmp_path):
    assert not services.config.outbound.host
    ingest(services, message())
    listed = rows(services)
    assert [(r["ticket"], r["template"], r["recipient"]) for r in listed] == [
        ("SUP-1", "ack", "alice@acme.ch"),
        *[("SUP-1", "staff_new_ticket", a) for a in STAFF],
    ]
    assert {(r["status"], r["attempts"]) for r in listed} == {("pending", 0)}
    assert listed[0]["subject"].startswith("Demande enregistrée : ")
    assert all(services.ids.ticket_key(r["message_id"]) == "SUP-1" for r in listed)

    assert [d.status for d in services.sender.flush(NOW)] == ["sent"] * 3
    folder = tmp_path / "outbox"
    files = sorted(folder.glob("*.eml"))
    assert len(files) == 3
    assert {f.read_bytes() for f in files} == {
        stored_raw(services, r["message_id"]) for r in listed
    }
    after = rows(services)
    assert {(r["status"], r["attempts"]) for r in after} == {("sent", 1)}
    assert all(utc(r["sent_at"]) == NOW for r in after)

    before = {f.name: f.read_bytes() for f in folder.iterdir()}
    assert services.sender.flush(NOW + timedelta(days=1)) == []
    assert {f.name: f.read_bytes() for f in folder.iterdir()} == before


# --- relay failures ------------------------------------------------------------------------


def test_relay_down_then_up_delivers_each_notification_once(desk, sink):
    ingest(desk, message())
    sink.stop()
    assert {d.status for d in desk.sender.flush(NOW)} == {"failed"}
    failed = rows(desk)
    assert {(r["status"], r["attempts"]) for r in failed} == {("failed", 1)}
    assert all(utc(r["next_attempt_at"]) > NOW for r in failed)
    assert all(r["last_error"] for r in failed)
    assert desk.sender.flush(NOW) == []

    sink.start()
    later = max(utc(r["next_attempt_at"]) for r in failed)
    assert {d.status for d in desk.sender.flush(later)} == {"sent"}
    assert desk.sender.flush(later + timedelta(hours=1)) == []
    assert sorted(m.message_id for m in sink.received) == sorted(r["message_id"] for r in failed)
    assert {(r["status"], r["attempts"]) for r in rows(desk)} == {("sent", 2)}


def test_permanent_refusal_makes_the_row_dead_at_once(desk, sink):
    ingest(desk, message())
    sink.answer(550)
    assert {d.status for d in desk.sender.flush(NOW)} == {"dead"}
    assert {(r["status"], r["attempts"]) for r in rows(desk)} == {("dead", 1)}
    dead = events(desk, "SUP-1", "notification-dead")
    assert sorted(e["to_value"] for e in dead) == sorted(["alice@acme.ch", *STAFF])
    assert all("550" in e["reason"] for e in dead)
    sink.answer(250)
    assert desk.sender.flush(NOW + timedelta(days=1)) == []
    assert (sink.refused, sink.received) == (3, [])


def test_temporary_refusals_past_max_attempts_make_the_row_dead(make_desk, sink):
    desk = make_desk(max_attempts=3)
    ingest(desk, message())
    sink.answer(451)
    seen = [{d.status for d in desk.sender.flush(NOW + timedelta(hours=hour))} for hour in range(3)]
    assert seen == [{"failed"}, {"failed"}, {"dead"}]
    assert {(r["status"], r["attempts"]) for r in rows(desk)} == {("dead", 3)}
    [dead] = [e for e in events(desk, "SUP-1", "notification-dead") if e["to_value"] == STAFF[0]]
    assert "451" in dead["reason"]
    sink.answer(250)
    assert desk.sender.flush(NOW + timedelta(days=2)) == []
    assert (sink.refused, sink.received) == (9, [])


# --- the order of sending, and what a claim costs ---------------------------------------


def _queue_row(desk: Services, name: str, status: str, due: datetime) -> None:
    """An outbox row as the notifier or an earlier attempt left it."""
    raw = message(subject=name, to=f"{name}@acme.ch", message_id=f"<{name}@help.example>")
    with desk.engine.begin() as conn:
        conn.execute(
            outbox.insert().values(
                cause=f"test:{name}",
                template="ack",
                language="en",
                mail_from=QUEUE,
                recipient=f"{name}@acme.ch",
                subject=name,
                message_id=f"<{name}@help.example>",
                automatic=True,
                raw=raw,
                status=status,
                attempts=0 if status == "pending" else 1,
                next_attempt_at=due,
                created_at=NOW - timedelta(hours=2),
            )
        )


def test_due_rows_of_every_status_are_sent_earliest_due_first(desk, sink):
    _queue_row(desk, "fresh", "pending", NOW - timedelta(minutes=1))
    _queue_row(desk, "retry-due", "failed", NOW - timedelta(hours=1))
    _queue_row(desk, "retry-later", "failed", NOW + timedelta(minutes=5))
    _queue_row(desk, "lease-expired", "sending", NOW - timedelta(minutes=30))
    _queue_row(desk, "lease-held", "sending", NOW + timedelta(seconds=30))
    _queue_row(desk, "done", "sent", NOW - timedelta(hours=2))
    _queue_row(desk, "given-up", "dead", NOW - timedelta(hours=2))
    _queue_row(desk, "also-fresh", "pending", NOW - timedelta(minutes=1))

    assert [d.status for d in desk.sender.flush(NOW)] == ["sent"] * 4
    assert [m.rcpt_tos[0].split("@")[0] for m in sink.received] == [
        "retry-due",
        "lease-expired",
        "fresh",
        "also-fresh",
    ]
    assert desk.sender.flush(NOW) == []
    later = [d.status for d in desk.sender.flush(NOW + timedelta(minutes=6))]
    assert later == ["sent"] * 2  # lease-held (its lease ran out), then retry-later
    assert [m.rcpt_tos[0].split("@")[0] for m in sink.received[4:]] == [
        "lease-held",
        "retry-later",
    ]


def _plan(dbapi, statement: str, parameters, postgresql: bool) -> str:
    cursor = dbapi.cursor()
    try:
        if postgresql:
            # A test table is tiny: the planner would read it whole; ask what the index gives.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            cursor.execute("EXPLAIN " + statement, parameters)
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        return "\n".join(row[-1] for row in cursor.fetchall())
    finally:
        cursor.close()


def test_a_claim_reads_its_rows_from_an_index_in_order_without_sorting(desk, sink):
    """The claim must not read and sort the whole backlog: with tens of thousands of rows
    waiting (a burst), that made every single send cost tens of milliseconds."""
    for n in range(30):
        _queue_row(desk, f"backlog-{n}", "pending", NOW - timedelta(minutes=n))
    _queue_row(desk, "retry", "failed", NOW - timedelta(minutes=90))
    seen: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "outbox" in statement:
            seen.append((statement, parameters))

    event.listen(desk.engine, "before_cursor_execute", record)
    try:
        assert [d.status for d in desk.sender.flush(NOW, batch=3)] == ["sent"] * 3
    finally:
        event.remove(desk.engine, "before_cursor_execute", record)
    assert seen, "the sender claimed nothing"
    postgresql = desk.engine.dialect.name == "postgresql"
    with desk.engine.connect() as conn:
        dbapi = conn.connection.dbapi_connection
        plans = {_plan(dbapi, statement, parameters, postgresql) for statement, parameters in seen}
        conn.rollback()
    for plan in plans:
        assert "ix_outbox_status_due" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
        assert "Sort" not in plan, plan


# --- the crash window between the relay's 250 and our bookkeeping -----------------------

_FLUSH_IN_CHILD = """
import sys
from datetime import datetime
from sqlalchemy import create_engine
from maildesk.config import OutboundConfig
from maildesk.daemon.sender import Sender
url, port, now = sys.argv[1:]
config = OutboundConfig(host="127.0.0.1", port=int(port), timeout_seconds=120)
Sender(create_engine(url), config).flush(datetime.fromisoformat(now))
"""


def _flush_and_die(desk: Services, sink: Sink) -> None:
    """A separate process sends the first row; it is killed while the relay holds the 250."""
    sink.hold(True)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _FLUSH_IN_CHILD,
            desk.config.database.url,
            str(sink.port),
            NOW.isoformat(),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert sink.wait_arrival(60), "the child never reached the relay"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        sink.hold(False)


def test_row_whose_sender_died_is_resent_once_with_the_same_bytes(desk, sink):
    ingest(desk, message())
    _flush_and_die(desk, sink)
    [first] = sink.received
    crashed = [r for r in rows(desk) if r["message_id"] == first.message_id]
    assert [(r["status"], r["attempts"]) for r in crashed] == [("sending", 1)]

    # The other rows go; the crashed one waits for its lease.
    assert [d.status for d in desk.sender.flush(NOW + timedelta(minutes=1))] == ["sent"] * 2
    assert [m.message_id for m in sink.received].count(first.message_id) == 1
    assert [d.status for d in desk.sender.flush(NOW + timedelta(minutes=6))] == ["sent"]
    copies = [m for m in sink.received if m.message_id == first.message_id]
    assert len(copies) == 2
    assert copies[0].raw == copies[1].raw == stored_raw(desk, first.message_id)
    assert copies[0].rcpt_tos == copies[1].rcpt_tos

    total = len(sink.received)
    for step in range(10):
        assert desk.sender.flush(NOW + timedelta(hours=step + 1)) == []
    assert len(sink.received) == total == 4
    assert {r["status"] for r in rows(desk)} == {"sent"}


# --- mail loops --------------------------------------------------------------------------


def _robot_reply(to: Received, number: int, *, threaded: bool) -> bytes:
    """An autoresponder's answer: never an Auto-Submitted header (that is the bug it has)."""
    ours = to.message
    subject = f"Re: {ours['Subject']}" if threaded else f"Your message no. {number} was read"
    return message(
        subject=subject,
        body="Thank you for your message, it will be read in order of arrival.\n",
        sender="Robot <robot@robot.example>",
        message_id=f"<robot-{number}@robot.example>",
        in_reply_to=to.message_id if threaded else None,
    )


def test_autoresponder_answering_our_thread_gets_one_ack_only(desk, sink):
    ingest(
        desk, message(sender="Robot <robot@robot.example>", subject="Order 4711 SwissDec export")
    )
    desk.sender.flush(NOW)
    for number in range(5):
        # Each round the robot answers again the last mail it received from us.
        now = NOW + timedelta(minutes=5 * (number + 1))
        result = ingest(
            desk, _robot_reply(sink.to("robot@robot.example")[-1], number, threaded=True), now
        )
        assert (result.outcome, result.ticket) == ("appended", "SUP-1")
        desk.sender.flush(now)
    assert len(sink.to("robot@robot.example")) == 1
    # The replies were not lost: consultants heard of each one.
    assert len(sink.to(STAFF[0])) == 1 + 5


def test_autoresponder_with_fresh_subjects_is_rate_limited(make_desk, sink):
    desk = make_desk(auto_replies_per_hour=3)
    robot = "robot@robot.example"
    ingest(desk, message(sender=f"Robot <{robot}>", subject="Order 4711 SwissDec export"))
    desk.sender.flush(NOW)
    answered: set[str] = set()
    last: Result | None = None
    for number in range(6):
        now = NOW + timedelta(minutes=5 * (number + 1))
        for mail in [m for m in sink.to(robot) if m.message_id not in answered]:
            answered.add(mail.message_id)
            last = ingest(desk, _robot_reply(mail, number, threaded=False), now)
            assert last.outcome == "created"
        desk.sender.flush(now)
    assert len(sink.to(robot)) == 3
    assert last is not None
    assert last.ticket == "SUP-4"
    actions = [(t["step"], t["action"]) for t in report.trace(desk.engine, last.message_id)]
    assert ("notify", "rate-limited") in actions
    assert ("notify", "ack") not in actions


AUTOMATIC = {
    "auto-submitted": {"headers": {"Auto-Submitted": "auto-replied"}},
    "precedence-bulk": {"headers": {"Precedence": "bulk"}},
    "list-id": {"headers": {"List-Id": "Acme news <news.acme.ch>"}},
    "mailer-daemon": {"sender": "MAILER-DAEMON@mx.acme.ch"},
    "our-own-queue": {"sender": f"Support <{QUEUE}>"},
}


@pytest.mark.parametrize("case", list(AUTOMATIC))
def test_automatic_mail_gets_no_notification(desk, sink, case):
    result = ingest(desk, message(**AUTOMATIC[case]))
    assert (result.outcome, result.ticket) == ("ignored", None)
    assert rows(desk) == []
    assert desk.sender.flush(NOW) == []
    assert sink.received == []


# --- bounces of our own notifications ------------------------------------------------------


def _dsn(final_recipient: str, quoted: Received | None) -> bytes:
    sections = [
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "Your message could not be delivered to one or more recipients.\r\n",
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.acme.ch\r\n\r\n"
        f"Final-Recipient: rfc822; {final_recipient}\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n",
    ]
    if quoted is not None:
        head = quoted.raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
        sections.append(f"Content-Type: text/rfc822-headers\r\n\r\n{head}\r\n")
    body = "".join(f"--BOUNDARY\r\n{s}\r\n" for s in sections) + "--BOUNDARY--\r\n"
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.acme.ch>\r\n"
        f"To: {QUEUE}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@mx.acme.ch>\r\n"
        "Date: Mon, 02 Mar 2026 09:10:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"\r\n'
        f"\r\n{body}"
    ).encode()


@pytest.mark.parametrize("quoting", [True, False], ids=["quoted-headers", "final-recipient"])
def test_bounce_of_our_ack_is_recorded_on_the_row_and_ticket(desk, sink, quoting):
    ingest(desk, message())
    desk.sender.flush(NOW)
    [ack] = sink.to("alice@acme.ch")
    later = NOW + timedelta(minutes=10)

    result = ingest(desk, _dsn("alice@acme.ch", ack if quoting else None), later)
    assert result.outcome == "ignored"
    assert [t["key"] for t in report.list_tickets(desk.engine)] == ["SUP-1"]
    row = row_for(desk, "ack", "alice@acme.ch")
    assert row["message_id"] == ack.message_id
    assert row["bounced_at"] is not None
    assert utc(row["bounced_at"]) == later
    assert all(r["bounced_at"] is None for r in rows(desk) if r["id"] != row["id"])
    [bounced] = events(desk, "SUP-1", "notification-bounced")
    assert bounced["to_value"] == "alice@acme.ch"
    assert desk.sender.flush(later) == []
    assert len(sink.received) == 3
