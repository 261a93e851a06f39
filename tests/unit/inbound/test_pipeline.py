"""The pure pipeline on an in-memory View: mail in, effects and a trace out, no database.

The same rules as tests/db/test_pipeline.py (which runs them through SQL and the writer),
here at the level of the steps: what each decides, and the effects it asks for.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from maildesk.config import from_mapping
from maildesk.desk import status as st
from maildesk.desk.effects import AppendMessage, CreateTicket, Notify, RecordEvent
from maildesk.desk.view import TicketRef
from maildesk.inbound.parse import parse
from maildesk.inbound.pipeline import STEPS, Context, Draft, run
from maildesk.msgid import MessageIds
from tests.mail import message
from tests.unit.inbound.memory_view import MemoryView, Sent, Stored

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SUPPORT = ("support@help.example",)
CONFIG = from_mapping(
    {
        "database": {"url": "sqlite:///never-opened.db"},
        "queues": [
            {"name": "support", "key_prefix": "SUP", "addresses": ["support@help.example"]},
            {"name": "consulting", "key_prefix": "CON", "addresses": ["consulting@help.example"]},
        ],
        "staff": {"addresses": ["consultant@help.example"]},
    }
)
IDS = MessageIds("unit-test-secret")


def process(view: MemoryView, raw: bytes, rcpt: tuple[str, ...] = SUPPORT) -> Draft:
    return run(Draft(parse(raw), rcpt), Context(CONFIG, view, IDS, NOW))


def kinds(draft: Draft) -> list[str]:
    return [
        f"{type(e).__name__}:{e.template}" if isinstance(e, Notify) else type(e).__name__
        for e in draft.effects
    ]


def steps(draft: Draft) -> list[str]:
    return [d.step for d in draft.decisions]


@pytest.fixture
def view() -> MemoryView:
    return MemoryView()


def open_ticket(view: MemoryView, status: str = st.NEW, **extra) -> str:
    """SUP-1 from alice@acme.ch, with her request stored and our acknowledgement sent."""
    ref = TicketRef(1, "SUP-1", "support", status, "alice@acme.ch", frozenset({"alice@acme.ch"}))
    view.add(ref, NOW - timedelta(days=1), "<req-1@acme.ch>")
    ack = IDS.make("SUP-1", "help.example")
    view.outbox.append(Sent(ack, "alice@acme.ch", "SUP-1", NOW - timedelta(days=1)))
    return ack


def test_the_steps_run_in_the_documented_order():
    assert [s.__name__ for s in STEPS] == [
        "dedupe",
        "screen_step",
        "spam_step",
        "route_step",
        "thread_step",
        "decide",
    ]


def test_a_new_request_creates_a_ticket_acknowledges_it_and_tells_staff(view):
    draft = process(view, message())
    assert draft.outcome.outcome == "created"
    assert kinds(draft) == ["CreateTicket", "Notify:ack", "Notify:staff_new_ticket"]
    create = draft.effects[0]
    assert isinstance(create, CreateTicket)
    assert (create.queue, create.requester) == ("support", "alice@acme.ch")
    ack = draft.effects[1]
    assert (ack.recipient, ack.auto_submitted) == ("alice@acme.ch", "auto-replied")
    assert draft.effects[2].recipient == "consultant@help.example"
    assert steps(draft)[:5] == ["dedupe", "screen", "route", "thread", "assess"]


def test_the_envelope_recipient_picks_the_queue(view):
    draft = process(view, message(), rcpt=("consulting@help.example",))
    assert draft.effects[0].queue == "consulting"


def test_a_reply_to_our_message_id_is_appended_and_staff_are_told(view):
    ack = open_ticket(view)
    draft = process(view, message(subject="RE: x", message_id="<r2@acme.ch>", in_reply_to=ack))
    assert (draft.outcome.outcome, draft.outcome.ticket_key) == ("appended", "SUP-1")
    assert draft.threading.via == "own-message-id"
    assert kinds(draft) == ["AppendMessage", "RecordEvent", "Notify:staff_customer_reply"]
    assert isinstance(draft.effects[0], AppendMessage)


def test_a_forged_message_id_of_ours_opens_a_new_ticket(view):
    open_ticket(view)
    forged = "<SUP-1.0000000000000000.deadbeefdeadbeef@help.example>"
    draft = process(
        view,
        message(
            subject="Autre problème avec les salaires de mars",
            message_id="<r3@acme.ch>",
            in_reply_to=forged,
        ),
    )
    assert draft.outcome.outcome == "created"


def test_the_subject_tag_from_the_requester_is_appended(view):
    open_ticket(view)
    draft = process(view, message(subject="RE: [SUP-1] Erreur SwissDec", message_id="<r4@acme.ch>"))
    assert (draft.outcome.outcome, draft.threading.via) == ("appended", "subject-tag")


def test_the_subject_tag_from_a_stranger_opens_a_linked_ticket(view):
    open_ticket(view)
    raw = message(
        subject="RE: [SUP-1] Erreur SwissDec",
        sender="Eve <eve@gmail.com>",
        message_id="<e@gmail.com>",
    )
    draft = process(view, raw)
    assert draft.outcome.outcome == "created"
    assert draft.threading.linked_to == "SUP-1"


def test_the_same_message_twice_is_a_duplicate_and_writes_nothing(view):
    first = process(view, message())
    view.add(TicketRef(1, "SUP-1", "support", st.NEW, "alice@acme.ch", frozenset()), NOW)
    view.messages.append(Stored("SUP-1", "<req-1@acme.ch>", first.parsed.dedup_key))
    again = process(view, message())
    assert (again.outcome.outcome, again.outcome.ticket_key) == ("duplicate", "SUP-1")
    assert again.effects == ()


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"X-Autoreply": "yes"},
    ],
)
def test_automatic_mail_opens_no_ticket_and_gets_no_answer(view, headers):
    draft = process(view, message(headers=headers))
    assert not any(isinstance(e, CreateTicket | Notify) for e in draft.effects)
    assert draft.outcome.outcome != "created"


def test_a_reply_to_a_closed_ticket_is_answered_with_the_closed_rule(view):
    ack = open_ticket(view, status=st.CLOSED)
    draft = process(view, message(subject="RE: x", message_id="<r5@acme.ch>", in_reply_to=ack))
    notes = [e for e in draft.effects if isinstance(e, Notify)]
    assert [n.template for n in notes] == ["closed_reply"]
    assert notes[0].recipient == "alice@acme.ch"
    assert not any(isinstance(e, CreateTicket) for e in draft.effects)


def test_answers_to_one_address_are_capped_per_hour(view):
    for n in range(CONFIG.outbound.auto_replies_per_hour):
        view.outbox.append(
            Sent(f"<n{n}@help.example>", "alice@acme.ch", None, NOW - timedelta(minutes=5))
        )
    draft = process(view, message())
    assert draft.outcome.outcome == "created"
    assert "Notify:ack" not in kinds(draft)


def test_steps_never_write_an_event_for_a_new_request(view):
    draft = process(view, message())
    assert not any(isinstance(e, RecordEvent) for e in draft.effects)


def test_what_was_read_ahead_serves_only_the_message_it_was_read_from():
    """A batch or an import reads the screening and request quality ahead; the pipeline
    takes them only for that very message (a forward's original, put in the draft's
    place, is read anew), and the pair keeps its identity across a process boundary."""
    import pickle

    from maildesk.inbound.pipeline import read_ahead

    first = parse(message(body="Bonjour,\n\nVersion : 12.4.1\nSociété : Acme SA\n"))
    other = parse(message(body="Guten Tag\n\nVersion: 9.9.9\n", message_id="<b@acme.ch>"))
    ahead = read_ahead(first, CONFIG, IDS)
    assert ahead.reading.fields["version"] == "12.4.1"
    assert ahead.of(Draft(first, SUPPORT, ahead=ahead))
    assert not ahead.of(Draft(other, SUPPORT, ahead=ahead))

    # The other message with the first one's reading: the reading is not taken.
    done = run(Draft(other, SUPPORT, ahead=ahead), Context(CONFIG, MemoryView(), IDS, NOW))
    created = next(e for e in done.effects if isinstance(e, CreateTicket))
    assert dict(dict(created.details)["fields"])["version"] == "9.9.9"

    parsed, carried = pickle.loads(pickle.dumps((first, ahead)))
    assert carried.of(Draft(parsed, SUPPORT, ahead=carried))
    done = run(Draft(parsed, SUPPORT, ahead=carried), Context(CONFIG, MemoryView(), IDS, NOW))
    created = next(e for e in done.effects if isinstance(e, CreateTicket))
    assert dict(dict(created.details)["fields"])["version"] == "12.4.1"
