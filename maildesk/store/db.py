"""Engine creation with durable settings, and schema migration at start-up.

SQLite runs in WAL mode. The intake engine commits with `synchronous=FULL`, so a spooled
message is on disk before we answer `250`; the processing engine uses `synchronous=NORMAL`
(still safe when the process crashes; after a power loss the latest processing may be
redone from the durable spool, at worst re-sending a notification once). PostgreSQL keeps
its default `synchronous_commit=on` for both. Nothing here knows about tickets.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).with_name("migrations")


def connect(url: str, *, durable: bool = True, small_cache: bool = False) -> Engine:
    """`durable`: every commit on disk (the spool). A durable engine, or one asked for a
    `small_cache`, keeps a 512 KiB SQLite page cache: its connections mostly append or read
    each row once, and a long-running process then stays at the size it reached soon after
    start."""
    if url.startswith("sqlite"):
        args: dict = {"timeout": 30, "check_same_thread": False}
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            args["factory"] = _gated(f"{database}-writer.lock")
        engine = create_engine(url, connect_args=args)
        sync = "FULL" if durable else "NORMAL"
        cache = SMALL_CACHE_KIB if durable or small_cache else 0
        event.listen(engine, "connect", lambda conn, rec: _sqlite_pragmas(conn, rec, sync, cache))
        # A writing transaction starts with BEGIN IMMEDIATE so two writers never deadlock on
        # a lock upgrade ("database is locked"); a connection opened with `reading()` starts
        # a plain read transaction, which in WAL mode never waits for a writer.
        event.listen(engine, "begin", _begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _begin(conn: Connection) -> None:
    reading_only = conn.get_execution_options().get(READ_ONLY, False)
    if not reading_only:
        gate = conn.connection.dbapi_connection
        if isinstance(gate, _Gated):
            gate.enter()
    conn.exec_driver_sql("BEGIN" if reading_only else "BEGIN IMMEDIATE")


class _Gated(sqlite3.Connection):
    """A SQLite connection whose writing transactions queue on a file lock first.

    SQLite lets a writer that finds the database locked sleep and retry (1, 2, 5 … 100 ms):
    under a steady stream of short transactions from other processes (intake, worker,
    sender) a waiter keeps waking up too late and starves. An `flock` on a lock file beside
    the database is handed over by the kernel the moment its holder commits, and is
    released by the kernel if the holder dies. Readers never take it (WAL).
    """

    lock_path = ""
    _lock_fd: int | None = None
    _held = False

    def enter(self) -> None:
        if self._lock_fd is None:
            self._lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if not self._held:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)  # blocks without the GIL
            self._held = True

    def _leave(self) -> None:
        if self._held:
            self._held = False
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._leave()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._leave()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._leave()
            fd, self._lock_fd = self._lock_fd, None
            if fd is not None:
                os.close(fd)


def _gated(lock_path: str) -> type[_Gated]:
    return type("GatedConnection", (_Gated,), {"lock_path": lock_path})


READ_ONLY = "maildesk_read_only"


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for queries only: on SQLite it takes no write lock."""
    with engine.connect() as conn:
        yield conn.execution_options(**{READ_ONLY: True})


SMALL_CACHE_KIB = 512


def _sqlite_pragmas(dbapi_conn, _record, synchronous: str = "FULL", cache_kib: int = 0) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see connect)
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    if cache_kib:
        cursor.execute(f"PRAGMA cache_size=-{int(cache_kib)}")  # negative: KiB, not pages
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


class NoDatabase(Exception):
    """A read-only command found no database where the configuration points."""


def where(url: str) -> str:
    """The database as an admin locates it: a SQLite file's absolute path, else the URL
    without its password."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        name = parsed.database or ":memory:"
        return name if name == ":memory:" or name.startswith("file:") else str(Path(name).resolve())
    return parsed.render_as_string(hide_password=True)


def open_existing(url: str) -> Engine:
    """An engine on a database that already holds maildesk's schema; never creates one
    (`tickets`, `trace`, `outbox list`, `status` only read)."""
    place = where(url)
    if url.startswith("sqlite") and place != ":memory:" and not Path(place).is_file():
        raise NoDatabase(
            f"no database at {place} (check [database] url; it is created "
            "by `maildesk run` or `maildesk ingest`)"
        )
    engine = connect(url)
    try:
        found = has_schema(engine)
    except Exception as exc:  # noqa: BLE001 - server down, refused login, ...: say which
        engine.dispose()
        raise NoDatabase(f"cannot open the database {place}: {type(exc).__name__}: {exc}") from None
    if not found:
        engine.dispose()
        raise NoDatabase(
            f"no maildesk schema in the database {place} (it is created by "
            "`maildesk run` or `maildesk ingest`)"
        )
    return engine
