"""Languages end to end, on SQLite and PostgreSQL: an Italian request answered in
Italian, a short German one in German, the Content-Language header and the requester's
earlier tickets deciding an ambiguous mail, and a consultant's `#language`."""

from __future__ import annotations

from email import message_from_bytes, policy

from sqlalchemy import select

from maildesk.store import reports as report
from maildesk.store.models import outbox
from maildesk.store.spool import store
from maildesk.store.sql_view import SqlView
from tests.conftest import NOW
from tests.mail import message

ALICE = "Alice Martin <alice@acme.ch>"


def ingest(services, raw: bytes):
    inbound_id = store(
        services.engine, raw, source="ingest", now=NOW, rcpt_tos=("support@help.example",)
    )
    return services.worker.process(inbound_id, NOW)


def mails(services, template: str, recipient: str | None = None) -> list:
    with services.engine.connect() as conn:
        rows = conn.execute(select(outbox).order_by(outbox.c.id)).all()
    return [
        r
        for r in rows
        if r.template == template and (recipient is None or r.recipient == recipient)
    ]


def text_of(row) -> str:
    msg = message_from_bytes(row.raw, policy=policy.default)
    return msg.get_body(("plain",)).get_content()


def language_of(services, key: str) -> str:
    return report.show_ticket(services.engine, key)["language"]


def test_an_italian_request_is_answered_in_italian(services):
    result = ingest(
        services,
        message(
            subject="Stampa dei conteggi salariali bloccata",
            body="Buongiorno,\nstamattina non riusciamo a stampare i conteggi.\n"
            "Società: Rossi SA\nCordiali saluti\nMarco Bernasconi",
        ),
    )
    assert language_of(services, result.ticket) == "it"
    [ack] = mails(services, "ack")
    assert ack.language == "it"
    text = text_of(ack)
    assert text.startswith("Buongiorno Alice Martin,")
    assert "Abbiamo ricevuto la Sua richiesta" in text
    assert "Società: Rossi SA" in text
    assert "Versione del prodotto: indichi la versione del prodotto" in text
    assert str(message_from_bytes(ack.raw, policy=policy.default)["Subject"]).startswith(
        "[SUP-1] Richiesta registrata:"
    )


def test_a_short_german_mail_is_answered_in_german(services):
    ingest(services, message(subject="Export", body="Hallo\nExport geht nicht.\nFirma: Acme AG"))
    [ack] = mails(services, "ack")
    assert ack.language == "de"
    assert "Firma: Acme AG" in text_of(ack)


def test_content_language_decides_an_ambiguous_mail(services):
    raw = message(subject="Export 12.4.1", body="Merci", headers={"Content-Language": "it-CH"})
    assert language_of(services, ingest(services, raw).ticket) == "it"


def test_the_requesters_earlier_ticket_decides_an_ambiguous_mail(services):
    ingest(services, message(subject="Stampa bloccata", body="Buongiorno, la stampa non va."))
    with services.engine.connect() as conn:
        assert SqlView(conn).requester_language("alice@acme.ch") == ("it", False)
        assert SqlView(conn).requester_language("bob@acme.ch") is None
    second = ingest(services, message(subject="Export 12.4.1", body="Merci", message_id="<2@a>"))
    assert language_of(services, second.ticket) == "it"


def staff_reply(services, body: str, message_id: str):
    [note] = mails(services, "staff_new_ticket", "consultant@help.example")
    return ingest(
        services,
        message(
            sender="Consultant <consultant@help.example>",
            subject="Re: [SUP-1] Export",
            body=body,
            message_id=message_id,
            in_reply_to=note.message_id,
        ),
    )


def test_a_consultant_sets_the_language_of_the_ticket_and_the_requester(services):
    ingest(services, message(subject="Export vide depuis la 12.4.1", body="Bonjour, export vide."))
    assert language_of(services, "SUP-1") == "fr"

    result = staff_reply(services, "#language de\n\nGuten Tag, wir prüfen das.\n", "<s1@help>")
    assert result.outcome == "appended"
    ticket = report.show_ticket(services.engine, "SUP-1")
    assert ticket["language"] == "de"
    [event] = [e for e in ticket["events"] if e["kind"] == "language"]
    assert (event["from_value"], event["to_value"]) == ("fr", "de")
    assert event["actor"] == "consultant@help.example"
    [relayed] = mails(services, "reply", "alice@acme.ch")
    assert relayed.language == "de"
    assert "Anfrage SUP-1 – Status" in text_of(relayed)

    with services.engine.connect() as conn:
        assert SqlView(conn).requester_language("alice@acme.ch") == ("de", True)
    # Her next short, ambiguous request is in German, though "Merci" reads French.
    later = ingest(services, message(subject="Export 12.4.2", body="Merci", message_id="<3@a>"))
    assert language_of(services, later.ticket) == "de"


def test_language_alone_is_stored_and_nothing_is_sent(services):
    ingest(services, message(subject="Export vide depuis la 12.4.1", body="Bonjour, export vide."))
    before = len(mails(services, "reply"))
    result = staff_reply(services, "#langue italiano\n", "<s2@help>")
    assert result.outcome == "appended"
    assert language_of(services, "SUP-1") == "it"
    assert len(mails(services, "reply")) == before


def test_an_unknown_language_is_refused(services):
    ingest(services, message(subject="Export vide depuis la 12.4.1", body="Bonjour, export vide."))
    staff_reply(services, "#language es\n\nHola.\n", "<s3@help>")
    assert language_of(services, "SUP-1") == "fr"
    [error] = mails(services, "command_error")
    assert "unknown language 'es'" in text_of(error)
