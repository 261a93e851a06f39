"""One threading rule for every source, on SQLite and PostgreSQL.

Our own signed Message-IDs (in In-Reply-To or only in References), the `[SUP-1]` subject
tag and the Message-IDs of earlier inbound mail (in In-Reply-To or only in References)
each name a ticket. Each is honoured only for a participant of that ticket, staff, or a
sender of the requester's own non-public mail domain; anyone else opens a new ticket
linked to the one named, and the trace says which reference was refused and why.
"""

from __future__ import annotations

import pytest

from maildesk.daemon.app import Services
from maildesk.store import reports as report
from tests.db.test_pipeline import SUBJECT, all_keys, ingest, ticket
from tests.mail import message

REQUEST_ID = "<req-1@acme.ch>"
# Alice opens SUP-1 and puts Bob, of another company, in Cc: Bob is a participant.
ALICE = "Alice Martin <alice@acme.ch>"
BOB = "Bob Keller <bob@partner.example>"


def _own_in_reply_to(services: Services) -> dict:
    return {"in_reply_to": services.ids.make("SUP-1", "help.example")}


def _own_in_references(services: Services) -> dict:
    refs = f"<elsewhere-1@other.example> {services.ids.make('SUP-1', 'help.example')}"
    return {"headers": {"References": refs}}


def _tag(services: Services) -> dict:
    return {"subject": f"RE: [SUP-1] {SUBJECT}"}


def _known_in_reply_to(services: Services) -> dict:
    return {"in_reply_to": REQUEST_ID}


def _known_in_references(services: Services) -> dict:
    return {"headers": {"References": f"<elsewhere-1@other.example> {REQUEST_ID}"}}


SOURCES = {
    "own-message-id-in-reply-to": (_own_in_reply_to, "own-message-id"),
    "own-message-id-in-references": (_own_in_references, "own-message-id"),
    "subject-tag": (_tag, "subject-tag"),
    "known-message-id-in-reply-to": (_known_in_reply_to, "known-message-id"),
    "known-message-id-in-references": (_known_in_references, "known-message-id"),
}


def open_sup_1(services: Services, requester: str = ALICE) -> None:
    first = ingest(services, message(sender=requester, cc=BOB, message_id=REQUEST_ID))
    assert (first.outcome, first.ticket) == ("created", "SUP-1")


def answer(services: Services, source: str, sender: str, message_id: str = "<answer-1@x>"):
    fields, _via = SOURCES[source]
    mail = {"subject": "Nouvelle information", **fields(services)}
    return ingest(services, message(sender=sender, message_id=message_id, **mail))


def thread_step(services: Services, message_id: str) -> dict:
    [step] = [s for s in report.trace(services.engine, message_id) if s["step"] == "thread"]
    return step


def templates_for(services: Services, key: str) -> list[str]:
    return sorted(r["template"] for r in report.list_outbox(services.engine) if r["ticket"] == key)


STRANGERS = {
    "other-domain": (ALICE, "Carol <carol@other.example>", "carol@other.example"),
    "public-domain": (
        "Alice <alice@gmail.com>",
        "Mallory <mallory@gmail.com>",
        "mallory@gmail.com",
    ),
}


@pytest.mark.parametrize("stranger", sorted(STRANGERS))
@pytest.mark.parametrize("source", sorted(SOURCES))
def test_a_stranger_opens_a_new_ticket_linked_to_the_one_referenced(services, source, stranger):
    requester, sender, address = STRANGERS[stranger]
    open_sup_1(services, requester)
    before = ticket(services, "SUP-1")
    staff_notices = templates_for(services, "SUP-1")

    result = answer(services, source, sender)

    assert (result.outcome, result.ticket) == ("created", "SUP-2"), result
    assert result.reason == "new request linked to SUP-1"
    new = ticket(services, "SUP-2")
    assert (new["linked_to"], new["requester"]) == ("SUP-1", address)
    [link] = [e for e in new["events"] if e["kind"] == "linked"]
    assert link["to_value"] == "SUP-1"
    assert address in link["reason"]
    # The referenced ticket is untouched: no message, no participant, no "customer replied".
    after = ticket(services, "SUP-1")
    assert after["messages"] == before["messages"]
    assert after["participants"] == before["participants"]
    assert after["events"] == before["events"]
    assert templates_for(services, "SUP-1") == staff_notices
    assert "staff_customer_reply" not in templates_for(services, "SUP-2")
    step = thread_step(services, "<answer-1@x>")
    assert (step["action"], step["ticket"]) == ("untrusted-reference", "SUP-2")
    assert step["reason"].startswith("SUP-1 ")
    assert f"sender {address} is not a participant of SUP-1" in step["reason"]
    assert f"{SOURCES[source][1]} " in step["reason"]


PARTICIPANTS = {
    "requester": (ALICE, "participant"),
    "cc-of-the-request": (BOB, "participant"),
    "colleague-of-the-requester": ("Dora <dora@acme.ch>", "requester's mail domain"),
    "staff": ("Consultant <consultant@help.example>", "is staff"),
}


@pytest.mark.parametrize("who", sorted(PARTICIPANTS))
@pytest.mark.parametrize("source", sorted(SOURCES))
def test_a_participant_is_appended_to_the_ticket_referenced(services, source, who):
    sender, trusted_as = PARTICIPANTS[who]
    open_sup_1(services)

    result = answer(services, source, sender)

    assert (result.outcome, result.ticket, result.reason) == (
        "appended",
        "SUP-1",
        SOURCES[source][1],
    )
    assert all_keys(services) == ["SUP-1"]
    shown = ticket(services, "SUP-1")
    assert [m["message_id"] for m in shown["messages"]] == [REQUEST_ID, "<answer-1@x>"]
    step = thread_step(services, "<answer-1@x>")
    assert (step["action"], step["ticket"]) == (SOURCES[source][1], "SUP-1")
    assert trusted_as in step["reason"]
    if who != "staff":
        assert "staff_customer_reply" in templates_for(services, "SUP-1")


def test_the_first_reference_the_sender_may_use_wins(services):
    """Bob is no participant of SUP-1 but the requester of SUP-2: a reply carrying an
    acknowledgement of SUP-1 and the tag of SUP-2 goes to SUP-2."""
    open_sup_1(services, "Alice <alice@gmail.com>")
    second = ingest(services, message(sender="erin@other.example", message_id="<req-2@o>"))
    assert second.ticket == "SUP-2"
    own = services.ids.make("SUP-1", "help.example")
    result = ingest(
        services,
        message(
            sender="erin@other.example",
            subject="RE: [SUP-2] suite",
            in_reply_to=own,
            message_id="<answer-2@o>",
        ),
    )
    assert (result.outcome, result.ticket, result.reason) == ("appended", "SUP-2", "subject-tag")
    assert len(ticket(services, "SUP-1")["messages"]) == 1
