"""The time rules' planning, pure: which effects a reminder, a closure or an SLA warning
asks the writer for (tests/scenarios run them over a real database and calendar)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from maildesk.config import from_mapping
from maildesk.desk import status as st
from maildesk.desk.effects import CountReminder, Notify, RecordSlaNotice, SetStatus
from maildesk.desk.reminders import CLOSE, REMINDER_1, REMINDER_2, cause_of, due, plan
from maildesk.desk.sla import SlaReport
from maildesk.desk.sla_warnings import warning
from maildesk.desk.view import TicketRef

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CONFIG = from_mapping(
    {
        "database": {"url": "sqlite:///never-opened.db"},
        "staff": {"addresses": ["a@help.example", "b@help.example"]},
    }
)
LADDER = CONFIG.reminders


def waiting(status: str = st.WAITING_CUSTOMER) -> TicketRef:
    return TicketRef(
        7, "SUP-7", "support", status, "alice@acme.ch", frozenset(), requester_name="Alice"
    )


def test_the_ladder_takes_the_latest_step_due():
    since = NOW - timedelta(days=16)
    assert due(since, 0, NOW, LADDER) == REMINDER_2  # late: no day-10 reminder on day 16
    assert due(since, 2, NOW, LADDER) is None
    assert due(NOW - timedelta(days=20), 2, NOW, LADDER) == CLOSE
    assert due(NOW - timedelta(days=10) + timedelta(seconds=1), 0, NOW, LADDER) is None


def test_a_reminder_is_counted_against_what_was_read_and_mailed_once_per_period():
    since = NOW - timedelta(days=10)
    cause = cause_of(REMINDER_1, "SUP-7", since)
    count, note = plan(waiting(), REMINDER_1, since, 0, cause, LADDER)
    assert count == CountReminder("SUP-7", since, 0, 1, REMINDER_1, LADDER.first_days)
    assert isinstance(note, Notify)
    assert (note.template, note.recipient, note.auto_submitted) == (
        REMINDER_1,
        "alice@acme.ch",
        "auto-generated",
    )
    assert note.cause == cause == f"reminder_1:SUP-7:{since.isoformat()}"


def test_the_closure_moves_a_waiting_ticket_to_closed_and_tells_the_customer():
    since = NOW - timedelta(days=20)
    closing, note = plan(waiting(), CLOSE, since, 2, "c", LADDER)
    assert isinstance(closing, SetStatus)
    assert (closing.from_status, closing.to_status, closing.resolution) == (
        st.WAITING_CUSTOMER,
        st.CLOSED,
        "no_answer",
    )
    assert note.template == CLOSE


def test_a_ticket_that_no_longer_waits_gets_nothing():
    assert plan(waiting(st.IN_PROGRESS), REMINDER_1, NOW, 0, "c", LADDER) == ()


def report(state: str) -> SlaReport:
    return SlaReport("first_response", NOW, timedelta(hours=7), timedelta(hours=8), state)


def test_an_sla_warning_is_recorded_once_and_goes_to_every_consultant_without_assignee():
    effects = warning(CONFIG, "SUP-7", None, report("at_risk"))
    assert effects[0] == RecordSlaNotice("SUP-7", "first_response", "at_risk")
    assert [(n.template, n.recipient) for n in effects[1:]] == [
        ("staff_sla_warning", "a@help.example"),
        ("staff_sla_warning", "b@help.example"),
    ]


def test_an_sla_warning_goes_to_the_assignee_alone():
    effects = warning(CONFIG, "SUP-7", "b@help.example", report("breached"))
    assert [n.recipient for n in effects[1:]] == ["b@help.example"]
    assert dict(effects[1].extra)["state"] == "breached"
