"""Queue repairs on SQLite and PostgreSQL: each changes a row only from the state meant."""

from __future__ import annotations

from sqlalchemy import update

from maildesk.store import queue
from maildesk.store.models import outbox
from maildesk.store.spool import store
from tests.conftest import NOW
from tests.mail import message

BOMB = message(headers={f"X-Filler-{i}": "v" for i in range(1001)}, message_id="<bomb@acme.ch>")


def test_a_quarantined_message_is_requeued_once_and_says_so(services):
    bomb = store(services.engine, BOMB, source="ingest", now=NOW)
    good = store(services.engine, message(), source="ingest", now=NOW)
    assert services.worker.process(bomb, NOW).outcome == "quarantined"
    assert services.worker.process(good, NOW).outcome == "created"
    [listed] = queue.list_spool(services.engine, "quarantined")
    assert (listed["id"], listed["attempts"], listed["from"]) == (bomb, 1, "alice@acme.ch")
    done, notes = queue.retry_spool(services.engine, [bomb, good, 999], "admin", NOW)
    assert done == [bomb]
    assert notes == [f"{good}: not quarantined (it is done)", "999: no such row"]
    assert queue.retry_spool(services.engine, None, "admin", NOW) == ([], [])
    shown = queue.show_spool(services.engine, bomb)
    assert (shown["state"], shown["attempts"], shown["reason"]) == ("pending", 0, None)
    assert shown["trace"][-1]["reason"] == "requeued by admin"


def test_only_dead_notifications_with_bytes_are_sent_again(services):
    services.worker.process(store(services.engine, message(), source="ingest", now=NOW), NOW)
    with services.engine.begin() as conn:
        ids = sorted(conn.execute(outbox.select().with_only_columns(outbox.c.id)).scalars())
        assert len(ids) >= 2  # the acknowledgement and the staff notices
        first, second = ids[0], ids[1]
        conn.execute(update(outbox).where(outbox.c.id == first).values(status="dead", attempts=5))
        conn.execute(update(outbox).where(outbox.c.id == second).values(status="dead", raw=b""))
    done, notes = queue.retry_outbox(services.engine, [first, second, *ids[2:]], "admin", NOW)
    assert done == [first]
    assert notes[0] == f"{second}: nothing to send (its template failed to render)"
    assert all("(it is pending)" in note for note in notes[1:])
    shown = queue.show_outbox(services.engine, first)
    assert (shown["status"], shown["attempts"]) == ("pending", 0)
    assert queue.retry_outbox(services.engine, None, "admin", NOW) == ([], [])
