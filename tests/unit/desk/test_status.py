"""The status table and change planning: what may follow what, and what the customer is told.

The expected table is written out here from the business rules (domain §6, §8, §9), so a
change to `maildesk.desk.status.TRANSITIONS` has to be a deliberate one.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from maildesk.desk import status as st
from maildesk.desk.effects import Notify, SetAttribute, SetStatus
from maildesk.desk.lifecycle import Change, plan
from maildesk.desk.view import TicketRef

ESC = {"escalated_spc", "escalated_rpc", "escalated_l2", "consulting", "waiting_patch"}
WORK = {"in_progress", "waiting_customer", "closed"}
EXPECTED = {
    "new": {"qualified", *WORK, *ESC},
    "qualified": {*WORK, *ESC},
    "in_progress": {"qualified", "waiting_customer", "closed", *ESC},
    "waiting_customer": {"in_progress", "qualified", "closed", *ESC},
    # A closed ticket only comes back by an explicit reopen (domain §9).
    "closed": {"in_progress"},
    **{e: {*WORK, *(ESC - {e})} for e in ESC},
}
LISTED = [(frm, to) for frm, targets in EXPECTED.items() for to in sorted(targets)]


def test_the_table_is_the_documented_one():
    assert set(st.STATUSES) == set(EXPECTED)
    assert {frm: set(to) for frm, to in st.TRANSITIONS.items()} == EXPECTED


@pytest.mark.parametrize(("frm", "to"), LISTED)
def test_every_listed_transition_is_accepted(frm, to):
    st.check(frm, to, "solved" if to == "closed" else None)


@pytest.mark.parametrize(
    ("frm", "to", "allowed"),
    [
        ("closed", "qualified", "in_progress"),
        ("closed", "waiting_customer", "in_progress"),
        ("closed", "new", "in_progress"),
        ("closed", "escalated_spc", "in_progress"),
        ("in_progress", "new", "qualified, waiting_customer, closed, escalated_spc"),
        ("waiting_customer", "new", "in_progress, closed"),
        ("escalated_l2", "qualified", "in_progress, waiting_customer, closed"),
        ("escalated_l2", "new", "escalated_spc"),
    ],
)
def test_unlisted_transitions_are_refused_naming_what_is_allowed(frm, to, allowed):
    with pytest.raises(st.TransitionRefused) as refused:
        st.check(frm, to, "solved")
    message = str(refused.value)
    assert f"{frm} cannot become {to}" in message
    options = message.split(f"from {frm}: ")[1].split(", ")
    assert set(options) == EXPECTED[frm]
    assert all(word in options for word in allowed.split(", "))


@pytest.mark.parametrize("current", st.STATUSES)
def test_staying_in_the_same_status_is_refused(current):
    with pytest.raises(st.TransitionRefused, match=f"already {current}"):
        st.check(current, current, "solved")


def test_unknown_status_is_refused_with_the_list_of_statuses():
    with pytest.raises(st.TransitionRefused) as refused:
        st.check("in_progress", "resolved")
    assert "'resolved'" in str(refused.value)
    assert all(s in str(refused.value) for s in st.STATUSES)


@pytest.mark.parametrize("resolution", [None, "", "fixed", "SOLVED"])
def test_closing_without_a_valid_resolution_is_refused(resolution):
    with pytest.raises(st.TransitionRefused, match="solved or no_answer"):
        st.check("waiting_customer", "closed", resolution)


@pytest.mark.parametrize("resolution", ["solved", "no_answer"])
def test_closing_with_a_resolution_is_accepted(resolution):
    st.check("waiting_customer", "closed", resolution)


TARGETS = hs.one_of(hs.sampled_from(st.STATUSES), hs.text(max_size=12))
RESOLUTION = hs.one_of(hs.none(), hs.sampled_from(st.RESOLUTIONS), hs.text(max_size=8))


@given(
    start=hs.sampled_from(st.STATUSES),
    steps=hs.lists(hs.tuples(TARGETS, RESOLUTION), max_size=30),
)
def test_any_sequence_only_visits_statuses_and_refuses_cleanly(start, steps):
    current = start
    for target, resolution in steps:
        # Any other exception than TransitionRefused escapes `refusal` and fails the test.
        refused = refusal(current, target, resolution)
        legal = target in EXPECTED[current] and (
            target != "closed" or resolution in ("solved", "no_answer")
        )
        if refused is not None:
            assert refused  # always worded for a person
            assert not legal, f"{current}->{target} ({resolution!r}) was refused: {refused}"
            continue
        assert legal, f"{current}->{target} ({resolution!r}) was accepted"
        current = target
        assert current in st.STATUSES


def refusal(current: str, target: str, resolution: str | None) -> str | None:
    """The refusal message of a status change, or None when it is allowed."""
    try:
        st.check(current, target, resolution)
    except st.TransitionRefused as refused:
        return str(refused)
    return None


# --- planning a change -------------------------------------------------------------------


def ref(language: str = "fr", criticality: str = "high", status: str = "in_progress"):
    return TicketRef(
        id=7,
        key="SUP-7",
        queue="support",
        status=status,
        requester="alice@acme.ch",
        participants=frozenset({"alice@acme.ch"}),
        language=language,
        criticality=criticality,
        requester_name="Alice Martin",
    )


@pytest.mark.parametrize("reason", ["", "   \n"])
def test_lowering_the_criticality_without_a_reason_is_refused(reason):
    with pytest.raises(ValueError, match="needs a reason"):
        plan(ref(), Change(criticality="low", reason=reason), "consultant@help.example")


@pytest.mark.parametrize(
    ("language", "old", "new"),
    [("fr", "Haute", "Basse"), ("de", "Hoch", "Niedrig"), ("en", "High", "Low")],
)
def test_lowering_the_criticality_tells_the_customer_in_their_language(language, old, new):
    reason = "a workaround exists: export by hand"
    effects = plan(
        ref(language), Change(criticality="low", reason=reason), "consultant@help.example"
    )
    assert SetAttribute(
        "SUP-7", "criticality", "high", "low", "consultant@help.example", reason
    ) in (effects)
    [note] = [e for e in effects if isinstance(e, Notify)]
    assert note.template == "criticality_lowered"
    assert (note.recipient, note.ticket_key) == ("alice@acme.ch", "SUP-7")
    assert dict(note.extra) == {"old_label": old, "new_label": new, "reason": reason}
    assert note.auto_submitted == "auto-generated"


def test_raising_the_criticality_sends_nothing():
    effects = plan(ref(criticality="medium"), Change(criticality="critical"), "boss@help.example")
    assert effects == (
        SetAttribute("SUP-7", "criticality", "medium", "critical", "boss@help.example", ""),
    )


def test_unknown_type_and_criticality_are_refused():
    with pytest.raises(ValueError, match=r"unknown type 'support'.*assistance, patch, solva_flex"):
        plan(ref(), Change(request_type="support"), "consultant@help.example")
    with pytest.raises(ValueError, match="unknown criticality 'urgent'"):
        plan(ref(), Change(criticality="urgent", reason="x"), "consultant@help.example")


def test_a_refused_status_change_plans_nothing_and_a_closed_one_defaults_to_solved():
    with pytest.raises(st.TransitionRefused, match="from closed: in_progress"):
        plan(ref(status="closed"), Change(status="qualified"), "consultant@help.example")
    effects = plan(ref(), Change(status="closed"), "consultant@help.example")
    [change] = [e for e in effects if isinstance(e, SetStatus)]
    assert (change.from_status, change.to_status, change.resolution) == (
        "in_progress",
        "closed",
        "solved",
    )
    assert [e.template for e in effects if isinstance(e, Notify)] == ["status_changed"]


def test_waiting_for_the_customer_is_not_announced_as_a_status_change():
    effects = plan(ref(), Change(status="waiting_customer"), "consultant@help.example")
    assert [type(e) for e in effects] == [SetStatus]
