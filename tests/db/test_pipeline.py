"""Intake pipeline end to end, on SQLite and PostgreSQL: spool row in, ticket state out.

Each test stores raw bytes the way `maildesk ingest` does, lets the worker process them,
and checks the returned result, the ticket as `maildesk tickets show` sees it, and the trace.
"""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import Connection, Table, delete, select

from maildesk.daemon.app import Services
from maildesk.daemon.worker import Result
from maildesk.inbound import decide as decide_module
from maildesk.inbound import pipeline
from maildesk.msgid import MessageIds
from maildesk.store import reports as report
from maildesk.store.models import decisions, inbound, messages, metadata, tickets
from maildesk.store.spool import store
from tests.conftest import NOW
from tests.mail import message

SUBJECT = "Erreur lors de la transmission SwissDec pour M. Dupont"


def ingest(services: Services, raw: bytes, rcpt_tos: tuple[str, ...] = (), now=NOW) -> Result:
    inbound_id = store(services.engine, raw, source="ingest", now=now, rcpt_tos=rcpt_tos)
    return services.worker.process(inbound_id, now)


def ticket(services: Services, key: str) -> dict:
    shown = report.show_ticket(services.engine, key)
    assert shown is not None, f"{key} does not exist"
    return shown


def all_keys(services: Services) -> list[str]:
    with services.engine.connect() as conn:
        return list(conn.execute(select(tickets.c.key).order_by(tickets.c.id)).scalars())


def first_request(services: Services, sender: str = "Alice Martin <alice@acme.ch>") -> Result:
    result = ingest(services, message(sender=sender, message_id="<req-1@acme.ch>"))
    assert (result.outcome, result.ticket) == ("created", "SUP-1")
    return result


# --- a new request -------------------------------------------------------------------


def test_new_request_creates_ticket_with_requester_and_participants(services):
    cc = (
        "Bob Keller <bob@acme.ch>, Support <Support@Help.Example>, consulting@help.example, "
        "Consultant <consultant@help.example>, alice@acme.ch"
    )
    result = ingest(services, message(cc=cc))

    assert result.outcome == "created"
    assert result.ticket == "SUP-1"
    assert result.message_id == "<req-1@acme.ch>"
    t = ticket(services, "SUP-1")
    assert t["status"] == "new"
    assert t["queue"] == "support"
    assert t["subject"] == SUBJECT
    assert (t["requester"], t["requester_name"]) == ("alice@acme.ch", "Alice Martin")
    assert t["participants"] == [
        {"address": "alice@acme.ch", "name": "Alice Martin", "role": "requester"},
        {"address": "bob@acme.ch", "name": "Bob Keller", "role": "cc"},
    ]
    [stored] = t["messages"]
    assert stored["text"] == "Bonjour,\n\nla transmission échoue."
    assert (stored["direction"], stored["automatic"]) == ("in", False)
    assert [e["kind"] for e in t["events"]] == ["created"]


def rich_message() -> tuple[bytes, bytes, bytes]:
    msg = EmailMessage()
    msg["From"] = "Alice Martin <alice@acme.ch>"
    msg["To"] = "support@help.example"
    msg["Subject"] = "Écran blanc après la connexion initiale en client lourd"
    msg["Message-ID"] = "<rich-1@acme.ch>"
    msg.set_content("Bonjour,\nl'écran reste blanc.\n")
    msg.add_alternative(
        '<p onclick="steal()">Bonjour, <b>l\'écran</b> reste blanc.</p>'
        "<script>alert('x')</script><a href=\"javascript:alert(1)\">lien</a>",
        subtype="html",
    )
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    log = b"2026-03-02 09:00 ERROR transmission refused\n" * 7
    msg.add_attachment(png, maintype="image", subtype="png", filename="écran complet.png")
    msg.add_attachment(log, maintype="text", subtype="plain", filename="server.log")
    return msg.as_bytes(), png, log


def test_new_request_keeps_text_sanitised_html_and_attachment_metadata(services):
    raw, png, log = rich_message()
    assert ingest(services, raw).outcome == "created"

    [stored] = ticket(services, "SUP-1")["messages"]
    assert stored["text"] == "Bonjour,\nl'écran reste blanc."
    assert stored["attachments"] == [
        {"filename": "écran complet.png", "content_type": "image/png", "size": len(png)},
        {"filename": "server.log", "content_type": "text/plain", "size": len(log)},
    ]
    with services.engine.connect() as conn:
        html = conn.execute(select(messages.c.html_body)).scalar_one()
    assert "<p>Bonjour, <b>l'écran</b> reste blanc.</p>" in html
    lowered = html.lower()
    for forbidden in ("<script", "onclick", "alert(", "javascript:"):
        assert forbidden not in lowered, f"{forbidden!r} survived sanitising: {html!r}"


def test_html_only_request_gets_readable_text_without_script(services):
    msg = EmailMessage()
    msg["From"] = "alice@acme.ch"
    msg["To"] = "support@help.example"
    msg["Subject"] = "Ajout d'une nouvelle variable salaire « Prime de Noël »"
    msg["Message-ID"] = "<html-only@acme.ch>"
    msg.set_content("<p>Bonjour</p><script>var secret = 1;</script><p>Merci</p>", subtype="html")
    assert ingest(services, msg.as_bytes()).outcome == "created"

    [stored] = ticket(services, "SUP-1")["messages"]
    assert "Bonjour" in stored["text"]
    assert "Merci" in stored["text"]
    assert "secret" not in stored["text"]


def test_body_with_nul_character_creates_a_ticket_on_every_database(services):
    result = ingest(services, message(body="Le champ contient \x00 puis la suite.\n"))
    assert (result.outcome, result.ticket) == ("created", "SUP-1"), result
    [stored] = ticket(services, "SUP-1")["messages"]
    assert stored["text"] == "Le champ contient \ufffd puis la suite."


# --- keys and routing ----------------------------------------------------------------


def test_keys_are_per_queue(services):
    first = ingest(services, message(message_id="<a@acme.ch>"))
    consulting = ingest(services, message(to="consulting@help.example", message_id="<b@acme.ch>"))
    second = ingest(services, message(message_id="<c@acme.ch>"))
    assert [first.ticket, consulting.ticket, second.ticket] == ["SUP-1", "CON-1", "SUP-2"]
    assert ticket(services, "CON-1")["queue"] == "consulting"


def purge(conn: Connection, table: Table, where) -> None:
    """Delete rows and, first, every row that refers to them (an admin's clean-up)."""
    pk = next(iter(table.primary_key.columns))
    ids = conn.execute(select(pk).where(where)).scalars().all()
    for child in metadata.sorted_tables:
        for fk in child.foreign_keys:
            if fk.column.table is table and child is not table:
                purge(conn, child, fk.parent.in_(ids))
    conn.execute(delete(table).where(where))


def test_ticket_numbers_are_never_reused(services):
    ingest(services, message(message_id="<a@acme.ch>"))
    ingest(services, message(message_id="<b@acme.ch>"))
    with services.engine.begin() as conn:
        purge(conn, tickets, tickets.c.key == "SUP-2")

    result = ingest(services, message(message_id="<c@acme.ch>"))
    assert result.ticket == "SUP-3"


@pytest.mark.parametrize(
    ("header_to", "envelope", "expected"),
    [
        ("support@help.example", "consulting@help.example", "CON-1"),
        ("consulting@help.example", "support@help.example", "SUP-1"),
    ],
)
def test_envelope_recipient_beats_headers(services, header_to, envelope, expected):
    result = ingest(services, message(to=header_to), rcpt_tos=(envelope,))
    assert result.ticket == expected
    route = [s for s in report.trace(services.engine, "<req-1@acme.ch>") if s["step"] == "route"]
    assert route[0]["reason"] == f"envelope:{envelope}"


# --- threading -----------------------------------------------------------------------


def reply(services: Services, **fields) -> Result:
    fields.setdefault("subject", "Nouvelle information")
    fields.setdefault("message_id", "<reply-1@acme.ch>")
    return ingest(services, message(**fields))


def test_reply_to_our_message_id_is_appended(services):
    first_request(services)
    ours = services.ids.make("SUP-1", "help.example")
    result = reply(services, in_reply_to=ours)
    assert (result.outcome, result.ticket, result.reason) == ("appended", "SUP-1", "own-message-id")
    assert len(ticket(services, "SUP-1")["messages"]) == 2
    assert all_keys(services) == ["SUP-1"]


@pytest.mark.parametrize("prefix", ["RE:", "AW:", "TR:", "Fwd:", "WG:", "RE: AW: Fwd:"])
def test_subject_tag_behind_reply_prefixes_is_appended(services, prefix):
    first_request(services)
    result = reply(services, subject=f"{prefix} [SUP-1] {SUBJECT}")
    assert (result.outcome, result.ticket, result.reason) == ("appended", "SUP-1", "subject-tag")
    assert all_keys(services) == ["SUP-1"]


def test_known_inbound_message_id_in_references_is_appended(services):
    first_request(services)
    refs = {"References": "<unknown@elsewhere.example> <req-1@acme.ch>"}
    result = reply(services, headers=refs)
    assert (result.outcome, result.ticket) == ("appended", "SUP-1")
    assert result.reason == "known-message-id"


def test_our_message_id_wins_over_tag_and_tag_over_references(services):
    first_request(services)
    assert ingest(services, message(message_id="<req-2@acme.ch>")).ticket == "SUP-2"
    ours_for_1 = services.ids.make("SUP-1", "help.example")

    by_id = reply(services, subject="RE: [SUP-2] x", in_reply_to=ours_for_1)
    assert (by_id.ticket, by_id.reason) == ("SUP-1", "own-message-id")
    by_tag = reply(
        services,
        subject="RE: [SUP-2] x",
        message_id="<reply-2@acme.ch>",
        headers={"References": "<req-1@acme.ch>"},
    )
    assert (by_tag.ticket, by_tag.reason) == ("SUP-2", "subject-tag")


def forged_ids(services: Services) -> list[str]:
    genuine = services.ids.make("SUP-1", "help.example")
    head, _, domain = genuine.partition("@")
    key, nonce, _sig = head.split(".")
    return [
        f"{key}.{nonce}.{'0' * 20}@{domain}",
        MessageIds("another-instance-secret").make("SUP-1", "help.example"),
    ]


@pytest.mark.parametrize("which", [0, 1], ids=["bad-signature", "other-secret"])
def test_forged_message_id_of_ours_is_not_honoured(services, which):
    first_request(services)
    forged = forged_ids(services)[which]
    result = reply(services, sender="carol@other.example", in_reply_to=forged)
    assert result.outcome == "created"
    assert result.ticket == "SUP-2"
    assert len(ticket(services, "SUP-1")["messages"]) == 1


@pytest.mark.parametrize(
    ("requester", "stranger"),
    [
        ("Alice Martin <alice@acme.ch>", "carol@other.example"),
        ("Alice Martin <alice@gmail.com>", "mallory@gmail.com"),
    ],
    ids=["other-domain", "public-domain"],
)
def test_tag_from_a_stranger_opens_a_linked_ticket(services, requester, stranger):
    first_request(services, sender=requester)
    result = reply(services, sender=stranger, subject=f"AW: [SUP-1] {SUBJECT}")

    assert (result.outcome, result.ticket) == ("created", "SUP-2")
    assert "SUP-1" in result.reason
    linked = ticket(services, "SUP-2")
    assert linked["linked_to"] == "SUP-1"
    assert linked["requester"] == stranger
    link = [e for e in linked["events"] if e["kind"] == "linked"]
    assert len(link) == 1
    assert link[0]["to_value"] == "SUP-1"
    assert stranger in link[0]["reason"]
    original = ticket(services, "SUP-1")
    assert len(original["messages"]) == 1
    assert stranger not in {p["address"] for p in original["participants"]}


def test_reference_from_a_stranger_opens_a_linked_ticket(services):
    first_request(services)
    result = reply(services, sender="carol@other.example", in_reply_to="<req-1@acme.ch>")
    assert (result.outcome, result.ticket) == ("created", "SUP-2")
    assert ticket(services, "SUP-2")["linked_to"] == "SUP-1"


def test_tag_from_a_colleague_of_the_requester_is_honoured(services):
    first_request(services)
    result = reply(services, sender="Bob <bob@acme.ch>", subject=f"RE: [SUP-1] {SUBJECT}")
    assert (result.outcome, result.ticket) == ("appended", "SUP-1")
    addresses = [p["address"] for p in ticket(services, "SUP-1")["participants"]]
    assert addresses == ["alice@acme.ch", "bob@acme.ch"]


def test_tag_from_staff_is_honoured_and_staff_never_become_participants(services):
    first_request(services)
    result = reply(services, sender="consultant@help.example", subject=f"RE: [SUP-1] {SUBJECT}")
    assert (result.outcome, result.ticket) == ("appended", "SUP-1")
    addresses = [p["address"] for p in ticket(services, "SUP-1")["participants"]]
    assert addresses == ["alice@acme.ch"]


# --- duplicates ----------------------------------------------------------------------


def test_same_message_twice_is_stored_once(services):
    raw = message()
    assert ingest(services, raw).outcome == "created"
    again = ingest(services, raw, rcpt_tos=("consulting@help.example",))
    assert (again.outcome, again.ticket) == ("duplicate", "SUP-1")
    assert again.reason
    assert len(ticket(services, "SUP-1")["messages"]) == 1
    assert all_keys(services) == ["SUP-1"]


def test_same_message_id_from_another_sender_is_not_a_duplicate(services):
    first_request(services)
    other = ingest(services, message(sender="carol@other.example", subject="Autre problème"))
    assert other.outcome == "created"
    assert other.ticket == "SUP-2"


def test_message_without_message_id_is_created_and_its_copy_is_a_duplicate(services):
    raw = message(message_id=None)
    first = ingest(services, raw)
    assert (first.outcome, first.ticket) == ("created", "SUP-1")
    assert first.message_id
    second = ingest(services, raw)
    assert (second.outcome, second.ticket) == ("duplicate", "SUP-1")
    assert len(ticket(services, "SUP-1")["messages"]) == 1


# --- mail that must never be answered ------------------------------------------------

DSN = (
    b"From: Mail Delivery System <notifications@mx.acme.ch>\r\n"
    b"To: support@help.example\r\n"
    b"Subject: Returned mail\r\n"
    b"Message-ID: <dsn-1@mx.acme.ch>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
    b"\r\n--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
    b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
    b"Reporting-MTA: dns; mx.acme.ch\r\n\r\nFinal-Recipient: rfc822; x@acme.ch\r\n"
    b"Action: failed\r\nStatus: 5.1.1\r\n"
    b"--B--\r\n"
)

AUTOMATIC = {
    "auto-submitted": (message(headers={"Auto-Submitted": "auto-replied"}), "auto-submitted"),
    "x-autoreply": (message(headers={"X-Autoreply": "yes"}), "x-autoreply"),
    "precedence-bulk": (message(headers={"Precedence": "bulk"}), "precedence"),
    "list-id": (message(headers={"List-Id": "Newsletter <news.acme.ch>"}), "list"),
    "out-of-office": (message(subject="Out of Office: back on Monday"), "auto-reply"),
    "reponse-automatique": (message(subject="Réponse automatique : absent"), "auto-reply"),
    "abwesenheitsnotiz": (message(subject="Abwesenheitsnotiz: Ferien"), "auto-reply"),
    "dsn": (DSN, "dsn"),
    "mailer-daemon": (message(sender="MAILER-DAEMON@mx.acme.ch"), "mailer-daemon"),
    "own-queue": (message(sender="Support <support@help.example>"), "own"),
    "other-own-queue": (message(sender="consulting@help.example"), "own"),
}


@pytest.mark.parametrize("case", sorted(AUTOMATIC))
def test_automatic_mail_never_creates_a_ticket(services, case):
    raw, why = AUTOMATIC[case]
    result = ingest(services, raw)
    assert result.outcome == "ignored"
    assert result.ticket is None
    assert why in result.reason
    assert report.list_tickets(services.engine) == []
    [decide] = [
        s for s in report.trace(services.engine, result.message_id) if s["step"] == "decide"
    ]
    assert decide["action"] == "ignored"


def test_auto_reply_threading_onto_a_ticket_is_stored_without_changing_it(services):
    first_request(services)
    before = ticket(services, "SUP-1")
    auto = message(
        sender="Alice Martin <alice@acme.ch>",
        cc="newcomer@acme.ch",
        subject=f"Automatic reply: [SUP-1] {SUBJECT}",
        message_id="<oof-1@acme.ch>",
        in_reply_to=services.ids.make("SUP-1", "help.example"),
        headers={"Auto-Submitted": "auto-replied"},
    )
    result = ingest(services, auto, now=NOW + timedelta(hours=2))

    assert (result.outcome, result.ticket) == ("ignored", "SUP-1")
    assert "auto-reply" in result.reason
    after = ticket(services, "SUP-1")
    assert [m["automatic"] for m in after["messages"]] == [False, True]
    assert after["messages"][1]["message_id"] == "<oof-1@acme.ch>"
    assert after["status"] == before["status"]
    assert after["participants"] == before["participants"]
    assert after["events"] == before["events"]


def test_auto_reply_does_not_touch_the_ticket_timestamp(services):
    first_request(services)
    before = ticket(services, "SUP-1")["updated_at"]
    auto = message(
        subject="Automatic reply: back on Monday",
        message_id="<oof-2@acme.ch>",
        in_reply_to=services.ids.make("SUP-1", "help.example"),
        headers={"Auto-Submitted": "auto-replied"},
    )
    assert ingest(services, auto, now=NOW + timedelta(days=3)).ticket == "SUP-1"
    assert ticket(services, "SUP-1")["updated_at"] == before


# --- the trace -----------------------------------------------------------------------


CORE_STEPS = {"dedupe", "screen", "route", "thread", "decide"}


def test_trace_lists_every_step_in_order(services):
    result = ingest(services, message())
    steps = report.trace(services.engine, "<req-1@acme.ch>")
    core = [(s["step"], s["action"]) for s in steps if s["step"] in CORE_STEPS]
    assert core == [
        ("dedupe", "new"),
        ("screen", "human"),
        ("route", "support"),
        ("thread", "none"),
        ("decide", "create"),
    ]
    assert steps[0]["step"] == "dedupe"
    assert {s["ticket"] for s in steps} == {result.ticket}
    assert {s["inbound"] for s in steps} == {result.inbound_id}
    assert all(s["reason"] for s in steps)


def test_trace_of_a_duplicate_shows_both_deliveries(services):
    raw = message()
    first = ingest(services, raw)
    second = ingest(services, raw)
    steps = report.trace(services.engine, "<req-1@acme.ch>")
    assert {s["inbound"] for s in steps} == {first.inbound_id, second.inbound_id}
    again = [(s["step"], s["action"]) for s in steps if s["inbound"] == second.inbound_id]
    assert again == [("dedupe", "duplicate")]
    assert steps[-1]["inbound"] == second.inbound_id


# --- processing faults ---------------------------------------------------------------

BROKEN = "<broken@acme.ch>"


@pytest.fixture
def broken_decide(monkeypatch):
    """A decide step that fails for one message only, the way a parser bug would."""

    def decide(draft, ctx):
        if draft.parsed.message_id == BROKEN:
            raise RuntimeError("decide exploded")
        return decide_module.decide(draft, ctx)

    steps = tuple(decide if s is decide_module.decide else s for s in pipeline.STEPS)
    assert decide in steps, "the pipeline has no decide step to break"
    monkeypatch.setattr(pipeline, "STEPS", steps)


def inbound_row(services: Services, inbound_id: int):
    with services.engine.connect() as conn:
        return conn.execute(select(inbound).where(inbound.c.id == inbound_id)).one()


@pytest.mark.usefixtures("broken_decide")
def test_failing_message_is_retried_then_quarantined_and_others_go_on(services):
    raw = message(message_id=BROKEN)
    broken_id = store(services.engine, raw, source="ingest", now=NOW)
    good_id = store(services.engine, message(), source="ingest", now=NOW)

    first = services.worker.process_due(NOW)
    assert [(r.inbound_id, r.outcome) for r in first] == [
        (broken_id, "retry"),
        (good_id, "created"),
    ]
    assert services.worker.process_due(NOW + timedelta(seconds=10)) == []  # backing off
    second = services.worker.process_due(NOW + timedelta(minutes=1))
    third = services.worker.process_due(NOW + timedelta(minutes=3))
    assert [r.outcome for r in second + third] == ["retry", "quarantined"]
    assert "decide exploded" in third[0].reason

    row = inbound_row(services, broken_id)
    assert (row.status, row.outcome, row.attempts) == ("quarantined", "quarantined", 3)
    assert "decide exploded" in row.reason
    assert row.raw == raw
    assert services.worker.process_due(NOW + timedelta(days=30)) == []
    with services.engine.connect() as conn:
        actions = conn.execute(
            select(decisions.c.step, decisions.c.action)
            .where(decisions.c.inbound_id == broken_id)
            .order_by(decisions.c.id)
        ).all()
    assert [tuple(a) for a in actions] == [("worker", "retry-later")] * 2 + [
        ("worker", "quarantined")
    ]

    after = ingest(services, message(message_id="<after@acme.ch>"))
    assert (after.outcome, after.ticket) == ("created", "SUP-2")


@pytest.mark.usefixtures("broken_decide")
def test_fault_leaves_no_half_written_ticket(services):
    result = ingest(services, message(message_id=BROKEN))
    assert result.outcome == "retry"
    assert all_keys(services) == []
    assert ingest(services, message()).ticket == "SUP-1"


@pytest.mark.usefixtures("broken_decide")
def test_trace_of_a_quarantined_message_shows_the_failures(services):
    inbound_id = store(services.engine, message(message_id=BROKEN), source="ingest", now=NOW)
    for attempt in range(3):
        services.worker.process(inbound_id, NOW, force=attempt > 0)
    actions = [s["action"] for s in report.trace(services.engine, BROKEN)]
    assert actions == ["retry-later", "retry-later", "quarantined"]
