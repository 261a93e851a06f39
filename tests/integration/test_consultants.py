"""Consultants answer from their mail client, over real SMTP both ways, on SQLite and PostgreSQL.

Every mail enters through the real SMTP listener and is processed by the worker; every
notification leaves through the sender to the sink in `sink.py`. Replies written the way
Outlook, Thunderbird and Gmail write them are the templates in `tests/fixtures/eml`, filled
with the Message-ID of the staff notification they answer.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from maildesk.daemon.app import Services, build
from maildesk.daemon.smtp import IntakeHandler, controller
from maildesk.daemon.worker import Result
from maildesk.inbound import commands
from maildesk.store import reports as report
from maildesk.store.models import messages, outbox
from tests.conftest import NOW, free_port, make_config
from tests.integration.sink import Received, Sink
from tests.mail import message

QUEUE = "support@help.example"
CUSTOMER = "alice@acme.ch"
CONSULTANT = "consultant@help.example"
BOSS = "boss@help.example"
STAFF = (CONSULTANT, BOSS)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eml"
# Our staff notification, as the replies quote it, carries this line: never for a customer.
INTERNAL = "INTERNE: ne pas transmettre"


@dataclass(frozen=True)
class Client:
    """A fixture: who sends it, what the consultant newly wrote, the quote marks it must lose."""

    staff: str
    new_text: str
    quote_marks: tuple[str, ...]


CLIENTS = {
    "outlook_fr_pdf": Client(
        CONSULTANT,
        "Bonjour Madame Martin,\n\nLe correctif pour la transmission SwissDec est joint à ce "
        "message : installez-le puis relancez la transmission.\n\nMeilleures salutations\n"
        "Marc Dubois",
        ("De :", "Envoyé :", "À :", "Objet :", "_____"),
    ),
    "thunderbird_de": Client(
        BOSS,
        "Guten Tag Frau Martin\n\nVielen Dank für Ihre Meldung. Die Übermittlung an SwissDec "
        "schlägt wegen\neines abgelaufenen Zertifikats fehl; bitte erneuern Sie es unter\n"
        "Einstellungen > Zertifikate und senden Sie die Lohnmeldung erneut.\n\n"
        "Freundliche Grüsse\nAnna Keller",
        ("schrieb", "> Nouvelle demande", "Tel. +41"),
    ),
    "gmail_en": Client(
        CONSULTANT,
        "Hello Ms Martin,\n\nThank you for the details. We could reproduce the error: the "
        "certificate for the SwissDec transmission has expired. Please renew it and send the "
        "payroll again.\n\nBest regards,\nTom",
        ("wrote:", "On Mon, Mar 2", "> Nouvelle demande"),
    ),
}


# --- the desk: listener in, sink out ---------------------------------------------------------


@dataclass
class Desk:
    services: Services
    sink: Sink
    host: str
    port: int

    def send(self, raw: bytes, envelope_from: str) -> Result:
        """Deliver over SMTP to the queue, process it, flush the outbox; the one result."""
        crlf = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # as an MTA sends it
        with smtplib.SMTP(self.host, self.port, timeout=10) as client:
            client.sendmail(envelope_from, [QUEUE], crlf)
        results = self.services.worker.process_due(NOW)
        assert len(results) == 1, results
        self.services.sender.flush(NOW)
        return results[0]

    def template(self, mail: Received) -> str:
        with self.services.engine.connect() as conn:
            return conn.execute(
                select(outbox.c.template).where(outbox.c.message_id == mail.message_id)
            ).scalar_one()

    def mails(self, address: str, template: str | None = None) -> list[Received]:
        return [m for m in self.sink.to(address) if template in (None, self.template(m))]

    def ticket(self, key: str = "SUP-1") -> dict:
        shown = report.show_ticket(self.services.engine, key)
        assert shown is not None
        return shown

    def stored(self, message_id: str) -> tuple[str, str]:
        """(kind, text) of a message stored on a ticket."""
        with self.services.engine.connect() as conn:
            row = conn.execute(
                select(messages.c.kind, messages.c.text_body).where(
                    messages.c.message_id == message_id
                )
            ).one()
        return row.kind, row.text_body

    def trace(self, message_id: str) -> list[str]:
        return [d["action"] for d in report.trace(self.services.engine, message_id)]

    def open_ticket(self) -> dict[str, Received]:
        """A customer's request; the `staff_new_ticket` each staff member got for it."""
        result = self.send(message(sender=f"Alice Martin <{CUSTOMER}>"), CUSTOMER)
        assert (result.outcome, result.ticket) == ("created", "SUP-1")
        told = {a: self.mails(a, "staff_new_ticket") for a in STAFF}
        assert all(len(mails) == 1 for mails in told.values()), told
        return {a: mails[0] for a, mails in told.items()}


DeskFactory = Callable[..., Desk]


@pytest.fixture
def make_desk(db_url: str, tmp_path: Path) -> Iterator[DeskFactory]:
    started: list[tuple[Services, Sink, Controller]] = []

    def factory(**staff: object) -> Desk:
        sink = Sink().start()
        outbound = {
            "host": sink.host,
            "port": sink.port,
            "from_name": "Service Clients Muster",
            "pickup_dir": str(tmp_path / "outbox"),
            "timeout_seconds": 10,
        }
        config = make_config(
            db_url, tmp_path, outbound=outbound, staff={"addresses": list(STAFF), **staff}
        )
        config = replace(config, smtp=replace(config.smtp, port=free_port()))
        services = build(config)
        listener = controller(IntakeHandler(services.engine, config, lambda: NOW), config)
        listener.start()
        started.append((services, sink, listener))
        return Desk(services, sink, config.smtp.host, config.smtp.port)

    yield factory
    for services, sink, listener in started:
        listener.stop()
        sink.stop()
        services.engine.dispose()


@pytest.fixture
def desk(make_desk: DeskFactory) -> Desk:
    return make_desk()


# --- building and reading mail ---------------------------------------------------------------


def fixture(name: str, notification: Received) -> bytes:
    raw = (FIXTURES / f"{name}.eml").read_bytes()
    return raw.replace(b"{MSGID}", notification.message_id.encode()).replace(b"{TAG}", b"[SUP-1]")


def consultant_mail(
    notification: Received | None,
    body: str,
    number: int,
    *,
    sender: str = CONSULTANT,
    subject: str = "Re: [SUP-1] Nouvelle demande (Moyenne) : Erreur SwissDec",
    auth_results: tuple[str, ...] = (),
) -> bytes:
    """A Thunderbird-style reply quoting the notification; None: it references nothing."""
    msg = EmailMessage()
    msg["From"] = f"Marc Dubois <{sender}>"
    msg["To"] = f"Service Clients Muster <{QUEUE}>"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 02 Mar 2026 10:30:00 +0100"
    msg["Message-ID"] = f"<reply-{number}@help.example>"
    quoted = f"> {INTERNAL}\n>\n> Nouvelle demande SUP-1 dans la file support.\n"
    if notification is not None:
        msg["In-Reply-To"] = notification.message_id
        msg["References"] = notification.message_id
        quoted = "\n".join(f"> {line}".rstrip() for line in [INTERNAL, *text_of(notification)])
    for value in auth_results:
        msg["Authentication-Results"] = value
    msg.set_content(f"{body}\n\nAm 02.03.26 um 10:05 schrieb Service Clients Muster:\n{quoted}\n")
    return msg.as_bytes()


def text_of(mail: Received) -> list[str]:
    part = mail.message.get_body(("plain",))
    assert part is not None
    return part.get_content().splitlines()


def shown_text(mail: Received) -> str:
    """Everything a customer can read in a mail: both alternatives of the body."""
    parts = (mail.message.get_body((kind,)) for kind in ("plain", "html"))
    return "\n".join(p.get_content() for p in parts if p is not None)


def relayed_body(mail: Received, consultant: str) -> str:
    """The consultant's text in a `reply`: what precedes the name the template signs with."""
    plain = "\n".join(text_of(mail))
    body, signed, _ = plain.partition(f"\n\n{consultant}\nCustomer Services\n")
    assert signed, plain
    return body


def utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def assert_relayed_once(desk: Desk, before: int, consultant: str) -> Received:
    """Exactly one `reply` reached the customer since `before`, as the queue, signed by name."""
    new = desk.mails(CUSTOMER)[before:]
    replies = [m for m in new if desk.template(m) == "reply"]
    assert len(replies) == 1, [desk.template(m) for m in new]
    reply = replies[0]
    sender = reply.message["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == (consultant, QUEUE)
    assert reply.mail_from == QUEUE
    assert "[SUP-1]" in str(reply.message["Subject"])
    assert "INTERNE" not in shown_text(reply)
    return reply


# --- replies from real mail clients ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_reply_from_mail_client_reaches_customer_once(desk: Desk, name: str):
    client = CLIENTS[name]
    notification = desk.open_ticket()[client.staff]
    assert desk.services.ids.ticket_key(notification.message_id) == "SUP-1"
    raw = fixture(name, notification)
    consultant = BytesParser(policy=policy.default).parsebytes(raw)["From"].addresses[0]
    before = len(desk.mails(CUSTOMER))

    result = desk.send(raw, client.staff)

    assert (result.outcome, result.ticket) == ("appended", "SUP-1")
    reply = assert_relayed_once(desk, before, consultant.display_name)
    body = relayed_body(reply, consultant.display_name)
    assert body == client.new_text
    for mark in client.quote_marks:
        assert mark not in shown_text(reply)
    sent_files = [(p.get_filename(), p.get_content()) for p in reply.message.iter_attachments()]
    original = BytesParser(policy=policy.default).parsebytes(raw)
    assert sent_files == [(p.get_filename(), p.get_content()) for p in original.iter_attachments()]
    assert (name == "outlook_fr_pdf") == bool(sent_files)
    assert desk.stored(result.message_id) == ("staff", client.new_text)
    ticket = desk.ticket()
    assert ticket["status"] == "waiting_customer"
    assert utc(ticket["first_response_at"]) == NOW

    # The customer answers the reply: back on SUP-1, back to a consultant.
    answer = message(
        subject=f"RE: {reply.message['Subject']}",
        body="Merci, cela fonctionne à nouveau.\n",
        message_id="<answer-1@acme.ch>",
        in_reply_to=reply.message_id,
    )
    result = desk.send(answer, CUSTOMER)
    assert (result.outcome, result.ticket) == ("appended", "SUP-1")
    assert desk.ticket()["status"] == "in_progress"
    assert desk.stored("<answer-1@acme.ch>")[0] == "customer"
    assert all(len(desk.mails(a, "staff_customer_reply")) == 1 for a in STAFF)


def html_only(raw: bytes) -> bytes:
    """The same reply as a client sends it without a plain-text alternative."""
    original = BytesParser(policy=policy.default).parsebytes(raw)
    html = original.get_body(("html",))
    assert html is not None
    msg = EmailMessage()
    for name in ("From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References"):
        msg[name] = str(original[name])
    msg.set_content(html.get_content(), subtype="html")
    return msg.as_bytes()


@pytest.mark.parametrize(
    "name",
    [
        "gmail_en",
        pytest.param(
            "outlook_fr_pdf",
        ),
    ],
)
def test_html_only_reply_keeps_only_the_new_text(desk: Desk, name: str):
    client = CLIENTS[name]
    notification = desk.open_ticket()[client.staff]
    raw = html_only(fixture(name, notification))
    consultant = BytesParser(policy=policy.default).parsebytes(raw)["From"].addresses[0]

    desk.send(raw, client.staff)

    reply = assert_relayed_once(desk, 1, consultant.display_name)
    body = relayed_body(reply, consultant.display_name)
    # Paragraph spacing may differ from the plain-text alternative; the words may not.
    assert body.split() == client.new_text.split()
    for mark in client.quote_marks:
        assert mark not in shown_text(reply)


# --- commands --------------------------------------------------------------------------------

LOWER_REASON = "Un contournement par saisie manuelle existe"
COMMANDS = [
    pytest.param("#status in_progress", {"status": "in_progress"}, (), id="status"),
    pytest.param(
        f"#criticality low\n#reason {LOWER_REASON}",
        {"criticality": "low", "status": "waiting_customer"},
        ("criticality_lowered",),
        id="criticality",
    ),
    pytest.param(
        "#assign me", {"assignee": CONSULTANT, "status": "waiting_customer"}, (), id="assign"
    ),
    pytest.param("#close", {"status": "closed", "resolution": "solved"}, (), id="close"),
    pytest.param("#escalate l2", {"status": "escalated_l2"}, (), id="escalate"),
    pytest.param("#consulting", {"status": "consulting"}, (), id="consulting"),
    pytest.param("#type patch", {"type": "patch", "status": "waiting_customer"}, (), id="type"),
    pytest.param(
        f"#statut in_progress\n#criticité basse\n#raison {LOWER_REASON}",
        {"status": "in_progress", "criticality": "low"},
        ("criticality_lowered",),
        id="fr-statut-criticite",
    ),
    pytest.param("#clore", {"status": "closed", "resolution": "solved"}, (), id="fr-clore"),
    pytest.param(
        "#clôturer",
        {"status": "closed", "resolution": "solved"},
        (),
        id="fr-cloturer",
    ),
]
ANSWER = "Bonjour Madame Martin,\n\nnous analysons la transmission et revenons vers vous."


@pytest.mark.parametrize(("lines", "expected", "also_told"), COMMANDS)
def test_command_is_applied_and_removed_from_the_relayed_text(
    desk: Desk, lines: str, expected: dict, also_told: tuple[str, ...]
):
    notification = desk.open_ticket()[CONSULTANT]

    result = desk.send(consultant_mail(notification, f"{lines}\n\n{ANSWER}", 1), CONSULTANT)

    assert result.outcome == "appended"
    reply = assert_relayed_once(desk, 1, "Marc Dubois")
    assert relayed_body(reply, "Marc Dubois") == ANSWER
    assert "#" not in "\n".join(text_of(reply))
    assert not any(line in shown_text(reply) for line in lines.splitlines())
    ticket = desk.ticket()
    assert {k: ticket[k] for k in expected} == expected
    told = sorted(desk.template(m) for m in desk.mails(CUSTOMER)[1:])
    assert told == sorted(("reply", *also_told))
    if also_told:
        (lowered,) = desk.mails(CUSTOMER, "criticality_lowered")
        assert LOWER_REASON in shown_text(lowered)
    assert desk.stored(result.message_id) == ("staff", ANSWER)


def test_assigned_ticket_tells_only_the_assignee_of_customer_replies(desk: Desk):
    notification = desk.open_ticket()[BOSS]
    desk.send(consultant_mail(notification, f"#assign me\n\n{ANSWER}", 1, sender=BOSS), BOSS)
    reply = assert_relayed_once(desk, 1, "Marc Dubois")
    assert desk.ticket()["assignee"] == BOSS

    for number in (1, 2):
        answer = message(
            subject=f"RE: {reply.message['Subject']}",
            body=f"Précision numéro {number} : le problème touche aussi la société Acme Nord.\n",
            message_id=f"<answer-{number}@acme.ch>",
            in_reply_to=reply.message_id,
        )
        assert desk.send(answer, CUSTOMER).ticket == "SUP-1"

    assert len(desk.mails(BOSS, "staff_customer_reply")) == 2
    assert desk.mails(CONSULTANT, "staff_customer_reply") == []


def test_note_is_stored_and_reaches_no_customer(desk: Desk):
    notification = desk.open_ticket()[CONSULTANT]
    note = "#note\nLe client a déjà eu ce problème en 2025, voir SUP-1 chez Acme Nord."
    sent_before = len(desk.sink.received)

    result = desk.send(consultant_mail(notification, note, 1), CONSULTANT)

    assert result.outcome == "appended"
    assert [desk.template(m) for m in desk.mails(CUSTOMER)] == ["ack"]
    assert all(set(m.rcpt_tos) <= set(STAFF) for m in desk.sink.received[sent_before:])
    kind, text = desk.stored(result.message_id)
    assert kind == "note"
    assert "Le client a déjà eu ce problème en 2025" in text
    ticket = desk.ticket()
    assert (ticket["status"], ticket["first_response_at"]) == ("new", None)


REFUSED = [
    # The refusal is worded in the consultant's language (French by default).
    pytest.param("#frobnicate", "#frobnicate : commande inconnue", False, id="unknown-command"),
    pytest.param(
        "#status new",
        "une demande « Attente client » ne peut pas passer à « En attente de qualification »",
        True,
        id="refused-transition",
    ),
    pytest.param(
        "#criticality low", "baisser la criticité demande un motif", False, id="no-reason"
    ),
]


@pytest.mark.parametrize(("lines", "error", "after_a_reply"), REFUSED)
def test_refused_command_relays_nothing_and_tells_the_consultant(
    desk: Desk, lines: str, error: str, after_a_reply: bool
):
    notification = desk.open_ticket()[CONSULTANT]
    if after_a_reply:  # first an ordinary answer: the ticket then waits for the customer
        desk.send(consultant_mail(notification, ANSWER, 0), CONSULTANT)
    before = desk.ticket()
    customer_mails = len(desk.mails(CUSTOMER))

    result = desk.send(consultant_mail(notification, f"{lines}\n\n{ANSWER}", 1), CONSULTANT)

    assert result.outcome == "appended"
    assert len(desk.mails(CUSTOMER)) == customer_mails
    (refusal,) = desk.mails(CONSULTANT, "command_error")
    assert str(refusal.message["In-Reply-To"]) == result.message_id
    assert "[SUP-1]" in str(refusal.message["Subject"])
    text = "\n".join(text_of(refusal))
    assert error in text
    for valid in commands.VALID:
        assert valid in text
    after = desk.ticket()
    for field in ("status", "criticality", "type", "assignee", "first_response_at"):
        assert after[field] == before[field]
    assert desk.stored(result.message_id)[0] == "refused"


# --- trust -----------------------------------------------------------------------------------


def test_staff_address_with_only_the_subject_tag_is_a_suspected_forgery(desk: Desk):
    desk.open_ticket()
    forged = consultant_mail(None, f"#close\n\n{ANSWER}", 1)

    result = desk.send(forged, CONSULTANT)

    assert (result.outcome, result.ticket) == ("appended", "SUP-1")
    assert [desk.template(m) for m in desk.mails(CUSTOMER)] == ["ack"]
    assert "suspected-forgery" in desk.trace(result.message_id)
    assert desk.stored(result.message_id)[0] == "customer"
    assert desk.ticket()["status"] == "new"
    # Stored as customer mail, so the other consultants hear of it like any customer reply.
    assert len(desk.mails(BOSS, "staff_customer_reply")) == 1


def test_staff_address_answering_a_customer_notification_is_not_trusted(desk: Desk):
    desk.open_ticket()
    (ack,) = desk.mails(CUSTOMER, "ack")
    forged = consultant_mail(ack, f"#close\n\n{ANSWER}", 1)

    result = desk.send(forged, CONSULTANT)

    assert [desk.template(m) for m in desk.mails(CUSTOMER)] == ["ack"]
    assert "suspected-forgery" in desk.trace(result.message_id)
    assert desk.ticket()["status"] == "new"


AUTH = "mx.help.example"
OTHER = "relay.elsewhere.example"
VERDICTS = [
    pytest.param((f"{AUTH}; dkim=fail header.d=help.example",), False, id="dkim-fail"),
    pytest.param((f"{AUTH}; dkim=pass header.d=help.example",), True, id="dkim-pass"),
    pytest.param(
        (f"{AUTH}; spf=pass; dmarc=pass header.from=help.example",), True, id="dmarc-pass"
    ),
    pytest.param((), False, id="no-verdict"),
    pytest.param((f"{OTHER}; dkim=pass header.d=help.example",), False, id="other-authserv-pass"),
    pytest.param(
        (f"{OTHER}; dkim=pass header.d=help.example", f"{AUTH}; dkim=fail header.d=help.example"),
        False,
        id="other-pass-above-trusted-fail",
    ),
    pytest.param(
        (f"{OTHER}; dkim=fail header.d=help.example", f"{AUTH}; dkim=pass header.d=help.example"),
        True,
        id="other-fail-above-trusted-pass",
    ),
    pytest.param(
        (f"{AUTH}; dkim=pass header.d=acme.ch; dmarc=fail header.from=help.example",),
        False,
        id="pass-for-another-domain",
    ),
]


@pytest.mark.parametrize(("headers", "trusted"), VERDICTS)
def test_trusted_authserv_verdict_decides_staff_rights(
    make_desk: DeskFactory, headers: tuple[str, ...], trusted: bool
):
    desk = make_desk(trusted_authserv_ids=[AUTH])
    notification = desk.open_ticket()[CONSULTANT]

    result = desk.send(consultant_mail(notification, ANSWER, 1, auth_results=headers), CONSULTANT)

    assert result.ticket == "SUP-1"
    relayed = desk.mails(CUSTOMER, "reply")
    if trusted:
        assert len(relayed) == 1
        assert relayed_body(relayed[0], "Marc Dubois") == ANSWER
        assert desk.stored(result.message_id)[0] == "staff"
        assert "suspected-forgery" not in desk.trace(result.message_id)
    else:
        assert relayed == []
        assert desk.stored(result.message_id)[0] == "customer"
        assert "suspected-forgery" in desk.trace(result.message_id)
        assert desk.ticket()["status"] == "new"
