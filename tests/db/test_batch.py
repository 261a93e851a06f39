"""Batches of spooled mail, on SQLite and PostgreSQL: many rows in one transaction, and one
poison message never holding back or quarantining the others."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from maildesk.daemon.app import build
from maildesk.daemon.batch import claim_fresh
from maildesk.inbound import decide as decide_module
from maildesk.inbound import pipeline
from maildesk.store.models import inbound
from maildesk.store.spool import store, store_many
from tests.conftest import NOW, make_config
from tests.mail import message

BROKEN = "<broken@acme.ch>"


@pytest.fixture
def broken_decide(monkeypatch):
    """A decide step that fails for one message only, the way a pipeline bug would."""

    def decide(draft, ctx):
        if draft.parsed.message_id == BROKEN:
            raise RuntimeError("decide exploded")
        return decide_module.decide(draft, ctx)

    steps = tuple(decide if s is decide_module.decide else s for s in pipeline.STEPS)
    monkeypatch.setattr(pipeline, "STEPS", steps)


def requests(n: int) -> list[bytes]:
    return [
        message(sender=f"Client {i} <client{i}@firm{i}.ch>", message_id=f"<req-{i}@firm{i}.ch>")
        for i in range(n)
    ]


def rows(services) -> dict[int, tuple]:
    with services.engine.connect() as conn:
        found = conn.execute(
            select(inbound.c.id, inbound.c.status, inbound.c.outcome, inbound.c.attempts)
        ).all()
    return {r.id: (r.status, r.outcome, r.attempts) for r in found}


@pytest.mark.usefixtures("broken_decide")
def test_a_batch_with_a_poison_message_quarantines_only_that_message(services):
    raws = requests(6)
    raws.insert(3, message(sender="Eve <eve@evil.example>", message_id=BROKEN))
    ids = store_many(services.spool, [{"raw": r, "source": "ingest", "now": NOW} for r in raws])
    poison = ids[3]

    first = services.worker.process_due(NOW)
    assert [(r.inbound_id, r.outcome) for r in first] == [
        (i, "retry" if i == poison else "created") for i in ids
    ]
    assert [r.ticket for r in first if r.outcome == "created"] == [f"SUP-{n}" for n in range(1, 7)]
    later = NOW
    for _ in range(4):
        later += timedelta(minutes=5)
        services.worker.process_due(later)
    after = rows(services)
    assert after[poison] == ("quarantined", "quarantined", 3)
    # Its neighbours were applied at their first attempt, never pushed towards quarantine.
    assert {after[i] for i in ids if i != poison} == {("done", "created", 1)}


def test_rows_of_a_batch_that_died_are_then_run_one_at_a_time(services):
    ids = store_many(
        services.spool, [{"raw": r, "source": "ingest", "now": NOW} for r in requests(4)]
    )
    assert claim_fresh(services.engine, NOW, 10) == [(i, 1) for i in ids]  # then the process died
    assert services.worker.process_due(NOW) == []  # leased
    later = NOW + timedelta(minutes=2)
    results = services.worker.process_due(later)
    assert [r.outcome for r in results] == ["created"] * 4
    assert {rows(services)[i] for i in ids} == {("done", "created", 2)}


def test_a_reply_threads_onto_a_request_of_the_same_batch(services):
    request = message(message_id="<req-1@acme.ch>")
    reply = message(
        subject="RE: Erreur lors de la transmission SwissDec pour M. Dupont",
        message_id="<reply-1@acme.ch>",
        in_reply_to="<req-1@acme.ch>",
        body="Toujours bloqué.\n",
    )
    store_many(
        services.spool,
        [{"raw": r, "source": "ingest", "now": NOW} for r in (request, reply, request)],
    )
    results = services.worker.process_due(NOW)
    assert [(r.outcome, r.ticket) for r in results] == [
        ("created", "SUP-1"),
        ("appended", "SUP-1"),
        ("duplicate", "SUP-1"),
    ]


def test_batch_size_one_processes_one_message_per_transaction(db_url, tmp_path):
    services = build(make_config(db_url, tmp_path, processing={"batch_size": 1}))
    try:
        for i, raw in enumerate(requests(3)):
            store(services.spool, raw, source="ingest", now=NOW + timedelta(seconds=i))
        assert [r.outcome for r in services.worker.process_due(NOW + timedelta(seconds=5))] == [
            "created"
        ] * 3
    finally:
        services.dispose()


@pytest.mark.parametrize("bad", [0, 1001, "20", True])
def test_batch_size_out_of_range_is_refused_by_name(bad, tmp_path):
    from maildesk.config import ConfigError

    with pytest.raises(ConfigError, match=r"processing\.batch_size: must be a whole number"):
        make_config(f"sqlite:///{tmp_path / 'm.db'}", tmp_path, processing={"batch_size": bad})


def test_a_row_tried_before_is_not_starved_by_a_stream_of_new_mail(services):
    [old] = store_many(services.spool, [{"raw": requests(1)[0], "source": "ingest", "now": NOW}])
    assert claim_fresh(services.engine, NOW, 10) == [(old, 1)]  # then the process died
    later = NOW + timedelta(minutes=2)
    fresh = store_many(
        services.spool,
        [{"raw": r, "source": "ingest", "now": later} for r in requests(4)[1:]],
    )
    results = services.worker.process_due(later)
    assert sorted(r.inbound_id for r in results) == [old, *fresh]
    assert {r.outcome for r in results} == {"created"}
