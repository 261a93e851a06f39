"""Run `maildesk run` as a separate process on a throw-away config, for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import free_port

# The morning digest goes out on the first tick after 08:00 (Bern) of a business day once a
# ticket exists: a daemon on the real clock would add it to what a test counts, or not,
# depending on the hour the test runs. Off unless a test is about it (`digest=True`).
NO_DIGEST = '\n[staff.people."consultant@help.example"]\ndigest = false\n'


def write_config(
    tmp_path: Path,
    db_url: str,
    port: int | None = None,
    smtp_extra: str = "",
    *,
    digest: bool = False,
) -> tuple[Path, int]:
    """A daemon configuration; `smtp_extra`: more `key = value` lines for [smtp]."""
    port = port or free_port()
    path = tmp_path / "maildesk.toml"
    path.write_text(
        f"""
[database]
url = "{db_url}"

[smtp]
host = "127.0.0.1"
port = {port}
{smtp_extra}
[outbound]
pickup_dir = "{tmp_path / "outbox"}"

[processing]
poll_seconds = 0.2

[[queues]]
name = "support"
key_prefix = "SUP"
addresses = ["support@help.example"]

[staff]
addresses = ["consultant@help.example"]
"""
        + ("" if digest else NO_DIGEST),
        encoding="utf-8",
    )
    return path, port


class Daemon:
    def __init__(self, config_path: Path, port: int, log_path: Path) -> None:
        self.config_path, self.port, self.log_path = config_path, port, log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> Daemon:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "maildesk", "--config", str(self.config_path), "run"],
            stdout=log,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited {self.proc.returncode}: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"daemon did not listen on {self.port}: {self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def wait_for(predicate, timeout: float = 30, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("condition not met in time")


def group_members(pgid: int) -> list[int]:
    """Live processes of the process group `pgid` (zombies excepted), read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(entry.name))
    return found
