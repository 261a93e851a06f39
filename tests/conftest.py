"""Shared fixtures: a fresh database per test on SQLite and on PostgreSQL.

PostgreSQL tests use a database created for this test run and dropped at its end (never
`test`, `root` or `postgres`). Without a server they skip, unless `CI` is set: CI
provides PostgreSQL, so there a missing server is a failure, not a skip.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from maildesk import config as config_module
from maildesk.daemon.app import Services, build

pytest_plugins = ["tests.secrets_scan"]
PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN_URL = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/postgres"
IN_CI = bool(os.environ.get("CI"))
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def pg_available() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


def need(what: str, available: bool) -> None:
    """Skip with a reason on a laptop that lacks `what`; fail in CI, which must have it."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI (CI is set) but is not available")
    pytest.skip(f"{what} is not available on this machine")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    need("PostgreSQL at 127.0.0.1:5432", pg_available())
    name = f"maildesk_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _reset_pg(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty database (the schema is created by whoever builds services)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'maildesk.db'}"
    url = request.getfixturevalue("pg_database")
    _reset_pg(url)
    return url


def make_config(db_url: str, tmp_path: Path, **sections: dict) -> config_module.Config:
    data: dict = {
        "database": {"url": db_url},
        "smtp": {"host": "127.0.0.1", "port": 0},
        "outbound": {"pickup_dir": str(tmp_path / "outbox")},
        "queues": [
            {"name": "support", "key_prefix": "SUP", "addresses": ["support@help.example"]},
            {"name": "consulting", "key_prefix": "CON", "addresses": ["consulting@help.example"]},
        ],
        "staff": {"addresses": ["consultant@help.example", "boss@help.example"]},
    }
    for name, values in sections.items():
        data[name] = values
    return config_module.from_mapping(data)


@pytest.fixture
def config(db_url: str, tmp_path: Path) -> config_module.Config:
    return make_config(db_url, tmp_path)


@pytest.fixture
def services(config: config_module.Config) -> Iterator[Services]:
    built = build(config)
    yield built
    built.engine.dispose()


@pytest.fixture
def engine(services: Services) -> Engine:
    return services.engine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
