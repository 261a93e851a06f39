"""Properties: any bytes parse without raising and end in an outcome; a copy is one ticket."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maildesk.daemon.app import Services
from maildesk.inbound.parse import parse
from tests.hostile.support import ingest, show, sqlite_desk, ticket_count
from tests.mail import message

OUTCOMES = {"created", "appended", "duplicate", "ignored", "quarantined", "retry"}
HEADERS = st.sampled_from(
    [
        b"From: alice@acme.ch\r\n",
        b"To: support@help.example\r\n",
        b"Subject: x\r\n",
        b"Content-Type: multipart/mixed; boundary=B\r\n",
        b"--B\r\n",
        b"\r\n",
        b"=?utf-8?q?a=0A?=",
        b"Message-ID: <a@b>\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"\x00",
        b"\xe9",
    ]
)
MAILISH = st.lists(st.one_of(HEADERS, st.binary(max_size=40)), max_size=30).map(b"".join)


@pytest.fixture(scope="module")
def desk(tmp_path_factory) -> Services:
    built = sqlite_desk(Path(tmp_path_factory.mktemp("prop")))
    yield built
    built.engine.dispose()


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.one_of(st.binary(max_size=2000), MAILISH))
def test_any_bytes_parse_and_end_in_an_outcome_or_a_reasoned_quarantine(desk, raw):
    parsed = parse(raw)
    assert parsed.message_id.startswith("<")
    result = ingest(desk, raw)
    assert result.outcome in OUTCOMES
    if result.outcome == "quarantined":
        assert result.reason


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    subject=st.text(min_size=1, max_size=80),
    body=st.text(max_size=300),
    with_id=st.booleans(),
)
def test_the_same_message_twice_is_one_ticket(tmp_path_factory, subject, body, with_id):
    desk = sqlite_desk(Path(tmp_path_factory.mktemp("twice")))
    try:
        raw = message(
            subject="placeholder", body=body + "\n", message_id="<p@acme.ch>" if with_id else None
        ).replace(b"Subject: placeholder", b"Subject: " + subject.encode("utf-8", "replace"))
        first, second = ingest(desk, raw), ingest(desk, raw)
        assert second.outcome == "duplicate" or first.outcome == "ignored"
        assert ticket_count(desk) == (1 if first.outcome == "created" else 0)
        if first.ticket:
            assert len(show(desk, first.ticket)["messages"]) == 1
    finally:
        desk.engine.dispose()
