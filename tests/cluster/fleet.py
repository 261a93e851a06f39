"""Start several `maildesk run` processes on one database, and hand them mail like an MTA.

Every instance has its own configuration file and SMTP port; all share the database, the
outbound relay and, when given, one IMAP mailbox. Nothing here asserts: tests do.
"""

from __future__ import annotations

import json
import signal
import smtplib
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from tests.conftest import free_port
from tests.integration.daemon import Daemon

QUEUE = "support@help.example"
ROOT = Path(__file__).resolve().parents[2]
STATUS = ("status", "--json")


def reset_schema(url: str) -> None:
    """An empty database: the first instance to start creates the schema."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@dataclass(frozen=True)
class Setup:
    """What every instance of one cluster shares."""

    db_url: str
    relay_port: int
    lease_seconds: float = 30.0
    mailbox: str = ""  # a Dovecot user watched over IMAP by every instance, or none


def config_text(setup: Setup, db_url: str, port: int, pickup: Path) -> str:
    lines = [
        "[database]",
        f'url = "{db_url}"',
        "[smtp]",
        'host = "127.0.0.1"',
        f"port = {port}",
        "[outbound]",
        'host = "127.0.0.1"',
        f"port = {setup.relay_port}",
        f'pickup_dir = "{pickup}"',
        "timeout_seconds = 10",
        "retry_seconds = 1",
        "[processing]",
        "poll_seconds = 0.2",
        "[cluster]",
        f"lease_seconds = {setup.lease_seconds}",
        "[[queues]]",
        'name = "support"',
        'key_prefix = "SUP"',
        f'addresses = ["{QUEUE}"]',
    ]
    if setup.mailbox:
        lines += [
            "[[imap]]",
            f'name = "{setup.mailbox}"',
            'host = "127.0.0.1"',
            "port = 10143",
            'tls = "none"',
            f'username = "{setup.mailbox}"',
            'password = "secret"',
            "idle = true",
            "poll_seconds = 60",
        ]
    return "\n".join(lines) + "\n"


class Fleet:
    """The instances of one test; `close()` stops whatever is still running."""

    def __init__(self, folder: Path, setup: Setup) -> None:
        self.folder = folder
        self.setup = setup
        self.daemons: list[Daemon] = []
        self._lock = threading.Lock()  # instances may be launched from several threads

    def launch(self, db_url: str | None = None) -> Daemon:
        """One more instance (`db_url` overrides the shared URL, e.g. through a proxy)."""
        with self._lock:
            name = f"instance{len(self.daemons) + 1}"
            daemon = Daemon(self.folder / f"{name}.toml", 0, self.folder / f"{name}.log")
            self.daemons.append(daemon)
        url = db_url or self.setup.db_url
        for attempt in range(3):
            # A port found free may be taken before the instance binds it: try another.
            daemon.port = free_port()
            text = config_text(self.setup, url, daemon.port, self.folder / "outbox")
            daemon.config_path.write_text(text, "utf-8")
            try:
                return daemon.start(timeout=60)
            except (RuntimeError, TimeoutError):
                if daemon.proc is not None and daemon.proc.poll() is None:
                    daemon.stop(signal.SIGKILL)
                if attempt == 2 or "address already in use" not in daemon.log():
                    raise
        raise RuntimeError(f"{name}: no SMTP port could be bound in three tries")

    @property
    def ports(self) -> list[int]:
        return [d.port for d in self.daemons]

    def kill(self, daemon: Daemon) -> None:
        daemon.stop(signal.SIGKILL)

    def close(self) -> None:
        for daemon in self.daemons:
            if daemon.proc is not None and daemon.proc.poll() is None:
                try:
                    daemon.stop(timeout=20)
                except subprocess.TimeoutExpired:
                    daemon.stop(signal.SIGKILL)

    def status(self, via: Daemon) -> dict[str, Any]:
        """`maildesk status --json`, run with `via`'s configuration."""
        done = subprocess.run(
            [sys.executable, "-m", "maildesk", "--config", str(via.config_path), *STATUS],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            timeout=60,
        )
        return json.loads(done.stdout)


def instance_id(status: dict[str, Any], daemon: Daemon) -> str:
    """The id `status` lists for `daemon` (ids are host:pid:random)."""
    assert daemon.proc is not None
    found = [m["id"] for m in status["instances"] if m["pid"] == daemon.proc.pid]
    assert len(found) == 1, f"pid {daemon.proc.pid} in {status['instances']}"
    return found[0]


def submit(port: int, raw: bytes, sender: str) -> int:
    """One SMTP transaction: the reply code to DATA, or 0 when the conversation broke."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as smtp:
            smtp.sendmail(sender, [QUEUE], raw)
    except smtplib.SMTPRecipientsRefused as exc:
        return next(iter(exc.recipients.values()))[0]
    except smtplib.SMTPResponseException as exc:
        return exc.smtp_code
    except (OSError, smtplib.SMTPException):
        return 0
    return 250


def relay(ports: Sequence[int], first: int, raw: bytes, sender: str) -> list[tuple[int, int]]:
    """Try each instance from `first` on, as an MTA tries its MX hosts, until one says 250.

    Returns every (port, code) tried; a 5xx is final, like an MTA bouncing the mail.
    """
    tried: list[tuple[int, int]] = []
    for step in range(len(ports)):
        port = ports[(first + step) % len(ports)]
        code = submit(port, raw, sender)
        tried.append((port, code))
        if code == 250 or 500 <= code < 600:
            break
    return tried
