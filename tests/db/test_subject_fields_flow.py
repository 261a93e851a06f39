"""A version given only in the subject is stored and never asked for again."""

from __future__ import annotations

from email import message_from_bytes, policy

from sqlalchemy import select

from maildesk.store import reports as report
from maildesk.store.models import outbox
from maildesk.store.spool import store
from tests.conftest import NOW
from tests.mail import message


def test_version_in_the_subject_is_stored_and_not_asked_for(services):
    raw = message(
        subject="Export vide depuis la 12.4.1",
        body="Bonjour,\n\nl'export est vide.\n\nSociété : Muster SA\nTél. 031 555 01 23",
    )
    inbound_id = store(
        services.engine, raw, source="ingest", now=NOW, rcpt_tos=("support@help.example",)
    )
    result = services.worker.process(inbound_id, NOW)
    ticket = report.show_ticket(services.engine, result.ticket)
    assert ticket["fields"]["version"] == "12.4.1"
    assert ticket["missing_fields"] == []
    with services.engine.connect() as conn:
        (ack,) = conn.execute(select(outbox.c.raw).where(outbox.c.template == "ack")).scalars()
    text = message_from_bytes(ack, policy=policy.default).get_body(("plain",)).get_content()
    assert "Version du produit : 12.4.1" in text
    assert "version du produit" not in text
