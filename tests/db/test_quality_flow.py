"""Request quality end to end: the one acknowledgement, merged replies, fields set by hand."""

from __future__ import annotations

from email import message_from_bytes, policy

from sqlalchemy import select

from maildesk.store import edits as manage
from maildesk.store import reports as report
from maildesk.store.models import outbox
from maildesk.store.spool import store
from tests.conftest import NOW
from tests.mail import message

COMPLETE = """Bonjour,

Depuis la mise à jour, la transmission SwissDec échoue pour M. Dupont.
Message d'erreur : « ORA-00942: table or view does not exist »

Version : 12.4.1
Société : Muster SA
Criticité : Haute

Meilleures salutations
Anne Muster
Tél. +41 31 555 01 23
"""


def ingest(services, raw: bytes):
    inbound_id = store(
        services.engine, raw, source="ingest", now=NOW, rcpt_tos=("support@help.example",)
    )
    return services.worker.process(inbound_id, NOW)


def sent(services, template: str | None = None) -> list:
    with services.engine.connect() as conn:
        rows = conn.execute(select(outbox).order_by(outbox.c.id)).all()
    return [r for r in rows if template is None or r.template == template]


def text_of(raw: bytes) -> str:
    msg = message_from_bytes(raw, policy=policy.default)
    return msg.get_body(("plain",)).get_content()


def test_complete_request_gets_one_ack_without_questions(services):
    result = ingest(services, message(body=COMPLETE))
    assert result.outcome == "created"
    ticket = report.show_ticket(services.engine, result.ticket)
    assert ticket["fields"]["version"] == "12.4.1"
    assert ticket["fields"]["company"] == "Muster SA"
    assert ticket["fields"]["phone"] == "+41 31 555 01 23"
    assert ticket["criticality"] == "high"
    assert ticket["criticality_defaulted"] is False
    assert ticket["missing_fields"] == []
    assert ticket["subject_quality"] == {"ok": True, "reasons": []}
    assert ticket["incomplete"] is False
    acks = sent(services, "ack")
    assert len(acks) == 1
    body = text_of(acks[0].raw)
    assert "SUP-1" in body
    assert "12.4.1" in body
    assert "Haute" in body
    assert "merci de nous transmettre" not in body


def test_incomplete_request_is_created_and_told_precisely_what_to_add(services):
    result = ingest(services, message(subject="Salaire", body="Ça ne marche pas.\nAnne"))
    assert result.outcome == "created"
    ticket = report.show_ticket(services.engine, result.ticket)
    assert ticket["status"] == "new"
    assert ticket["incomplete"] is True
    assert ticket["missing_fields"] == ["version", "company", "phone"]
    assert ticket["subject_quality"]["ok"] is False
    reasons = ticket["subject_quality"]["reasons"]
    assert "module-name" in reasons or "generic-word" in reasons
    assert ticket["criticality"] == "medium"
    assert ticket["criticality_defaulted"] is True
    body = text_of(sent(services, "ack")[0].raw)
    assert "merci de nous transmettre" in body
    assert "version du produit" in body
    assert "Erreur lors de la transmission SwissDec pour M. Dupont" in body  # a good example
    assert "valeur retenue par défaut" in body


def test_german_and_english_requests_get_their_language(services):
    ingest(
        services,
        message(
            subject="Fehler bei der Lohnabrechnung im Modul Personal",
            body="Guten Tag, die Lohnabrechnung bricht ab, wenn wir sie starten.",
            message_id="<de@acme.ch>",
        ),
    )
    ingest(
        services,
        message(
            subject="Payroll export fails for the December run",
            body="Hello, the export stops with an error when we run it.",
            message_id="<en@acme.ch>",
            sender="Bob <bob@acme.ch>",
        ),
    )
    bodies = [text_of(r.raw) for r in sent(services, "ack")]
    assert "Wir haben Ihre Anfrage erhalten" in bodies[0]
    assert "Version" in bodies[0]
    assert "received your request" in bodies[1].replace("\n", " ")


def test_reply_supplying_missing_fields_is_merged_and_confirmed_once(services):
    ingest(services, message(body="La transmission échoue depuis ce matin.\nAnne"))
    reply = message(
        subject="RE: [SUP-1] Erreur",
        message_id="<r1@acme.ch>",
        body="Version : 12.4\nSociété : Muster SA\nTél. 031 555 01 23\n\n"
        "> Pour que nous puissions traiter votre demande",
    )
    assert ingest(services, reply).outcome == "appended"
    ticket = report.show_ticket(services.engine, "SUP-1")
    assert ticket["fields"]["version"] == "12.4"
    assert ticket["fields"]["company"] == "Muster SA"
    assert ticket["missing_fields"] == []
    assert ticket["incomplete"] is False
    confirmations = sent(services, "info_received")
    assert len(confirmations) == 1
    assert "12.4" in text_of(confirmations[0].raw)
    assert "fields-supplied" in [e["kind"] for e in ticket["events"]]

    again = message(
        subject="RE: [SUP-1] Erreur", message_id="<r2@acme.ch>", body="Version : 12.5 finalement"
    )
    assert ingest(services, again).outcome == "appended"
    assert len(sent(services, "info_received")) == 1  # nothing asked or confirmed twice
    assert report.show_ticket(services.engine, "SUP-1")["fields"]["version"] == "12.4"


def test_partial_reply_keeps_asking_only_what_is_still_missing(services):
    ingest(services, message(body="La transmission échoue.\nAnne"))
    ingest(
        services,
        message(subject="RE: [SUP-1] Erreur", message_id="<r1@acme.ch>", body="Version 12.4.1"),
    )
    ticket = report.show_ticket(services.engine, "SUP-1")
    assert ticket["missing_fields"] == ["company", "phone"]
    assert len(sent(services, "info_received")) == 1


def test_staff_sets_a_field_by_hand(services, config):
    ingest(services, message(body="La transmission échoue.\nAnne"))
    still = manage.set_fields(
        services.engine,
        config,
        "SUP-1",
        {"company": "Muster SA", "phone": "+41 31 555 01 23"},
        "consultant@help.example",
        "called the customer",
        NOW,
    )
    assert still == ("version",)
    ticket = report.show_ticket(services.engine, "SUP-1")
    assert ticket["fields"]["company"] == "Muster SA"
    events = [e for e in ticket["events"] if e["kind"] == "field-set"]
    assert {e["to_value"] for e in events} == {"company=Muster SA", "phone=+41 31 555 01 23"}
    assert events[0]["actor"] == "consultant@help.example"
