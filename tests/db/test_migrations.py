"""The Alembic migrations build exactly the schema in `maildesk.store.models`, on both databases.

`compare_metadata` lists every table, column, type, index and constraint that differs; an
empty list means a model change cannot ship without its migration.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from maildesk.daemon.app import build
from maildesk.store import reports as report
from maildesk.store.models import metadata, queue_counters, settings
from maildesk.store.spool import store
from tests.conftest import NOW
from tests.mail import message


def differences(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, metadata)


def test_migrations_produce_exactly_the_models(engine):
    assert differences(engine) == []
    tables = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= tables
    assert tables - set(metadata.tables) == {"alembic_version"}


def test_building_twice_keeps_schema_data_counters_and_secret(config, services):
    first_id = store(services.engine, message(), source="ingest", now=NOW)
    assert services.worker.process(first_id, NOW).ticket == "SUP-1"
    ours = services.ids.make("SUP-1", "help.example")

    again = build(config)
    try:
        assert differences(again.engine) == []
        assert again.ids.ticket_key(ours) == "SUP-1"
        with again.engine.connect() as conn:
            assert conn.execute(select(settings.c.name)).scalars().all() == ["message_id_secret"]
            counters = {row[0]: row[1] for row in conn.execute(select(queue_counters))}
        assert counters == {"support": 1, "consulting": 0}
        assert report.show_ticket(again.engine, "SUP-1") is not None
        next_id = store(again.engine, message(message_id="<b@acme.ch>"), source="ingest", now=NOW)
        assert again.worker.process(next_id, NOW).ticket == "SUP-2"
    finally:
        again.engine.dispose()
