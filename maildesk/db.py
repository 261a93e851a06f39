"""Engine creation with durable settings, and schema migration at start-up.

SQLite runs in WAL mode. The intake engine commits with `synchronous=FULL`, so a spooled
message is on disk before we answer `250`; the processing engine uses `synchronous=NORMAL`
(still safe when the process crashes; after a power loss the latest processing may be
redone from the durable spool, at worst re-sending a notification once). PostgreSQL keeps
its default `synchronous_commit=on` for both. Nothing here knows about tickets.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, inspect

MIGRATIONS = Path(__file__).with_name("migrations")


def connect(url: str, *, durable: bool = True) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        sync = "FULL" if durable else "NORMAL"
        event.listen(engine, "connect", lambda conn, rec: _sqlite_pragmas(conn, rec, sync))
        # A writing transaction starts with BEGIN IMMEDIATE so two writers never deadlock on
        # a lock upgrade ("database is locked"); a connection opened with `reading()` starts
        # a plain read transaction, which in WAL mode never waits for a writer.
        event.listen(engine, "begin", _begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _begin(conn: Connection) -> None:
    reading_only = conn.get_execution_options().get(READ_ONLY, False)
    conn.exec_driver_sql("BEGIN" if reading_only else "BEGIN IMMEDIATE")


READ_ONLY = "maildesk_read_only"


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for queries only: on SQLite it takes no write lock."""
    with engine.connect() as conn:
        yield conn.execution_options(**{READ_ONLY: True})


def _sqlite_pragmas(dbapi_conn, _record, synchronous: str = "FULL") -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see connect)
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent; safe on every start)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def has_schema(engine: Engine) -> bool:
    return inspect(engine).has_table("alembic_version")
