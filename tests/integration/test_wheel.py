"""maildesk as an admin installs it: the sdist and the wheel (built from that sdist), the
wheel installed into a fresh virtual environment outside the checkout, run from another
folder: check-config, ingest, and the daemon under a stand-in for systemd.

The build and the environment are made once for the module (they take a while); the
dependencies come from the package index pip is set up with.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from maildesk import __version__
from tests.conftest import free_port
from tests.integration.daemon import group_members, wait_for
from tests.mail import message

pytestmark = pytest.mark.slow
CHECKOUT = Path(__file__).resolve().parents[2]
LEFT_OUT = (".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "*.db*")


@dataclass
class Installed:
    wheel: Path
    sdist: Path
    venv: Path
    home: Path  # a folder outside the checkout: the working folder of every command

    @property
    def maildesk(self) -> str:
        return str(self.venv / "bin" / "maildesk")

    def run(self, *args: str, stdin: bytes | None = None, env: dict | None = None):
        return subprocess.run(
            [self.maildesk, *args],
            input=stdin,
            capture_output=True,
            cwd=self.home,
            timeout=120,
            check=False,
            env=_clean_env(env),
        )


def _clean_env(extra: dict | None = None) -> dict[str, str]:
    """The environment without anything that would find the checkout's code."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "PYTHONUNBUFFERED": "1", **(extra or {})}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("installed")
    source = root / "source"  # a copy: the build writes nothing into the checkout
    shutil.copytree(CHECKOUT, source, ignore=shutil.ignore_patterns(*LEFT_OUT))
    dist = root / "dist"
    # `python -m build`: the sdist, then the wheel built from the unpacked sdist, so the
    # wheel proves the sdist is complete. Its build environment comes from the index.
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=_clean_env(),
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    (wheel,) = dist.glob("maildesk-*.whl")
    (sdist,) = dist.glob("maildesk-*.tar.gz")
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=_clean_env(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    home = root / "elsewhere"
    home.mkdir()
    return Installed(wheel, sdist, venv, home)


def _state(installed: Installed, name: str, port: int, url: str | None = None) -> Path:
    """A state folder with a configuration whose paths are relative to it."""
    state = installed.home.parent / name
    state.mkdir()
    (state / "maildesk.toml").write_text(
        f"""
[database]
url = "{url or "sqlite:///maildesk.db"}"

[smtp]
port = {port}

[outbound]
pickup_dir = "outbox"

[processing]
poll_seconds = 0.2

[[queues]]
name = "support"
key_prefix = "SUP"
addresses = ["support@help.example"]
""",
        encoding="utf-8",
    )
    return state


def test_the_wheel_carries_the_templates_migrations_and_license(installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for lang in ("fr", "de", "en"):
        assert f"maildesk/templates/emails/{lang}/ack.txt.j2" in names
        assert f"maildesk/templates/emails/{lang}/ack.html.j2" in names
    assert "maildesk/store/migrations/versions/0001_initial.py" in names
    assert "maildesk/store/migrations/script.py.mako" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(installed.wheel).read(metadata).decode()
    assert "License-Expression: Apache-2.0" in text
    assert "Requires-Dist: mail-parser" not in text
    assert 'Requires-Dist: psycopg[binary]>=3.1; extra == "postgresql"' in text


def test_the_sdist_carries_what_a_packager_needs(installed):
    with tarfile.open(installed.sdist) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    for needed in (
        "templates/emails/fr/ack.txt.j2",
        "templates/emails/de/closed_reply.html.j2",
        "maildesk/store/migrations/versions/0001_initial.py",
        "config.example.toml",
        "LICENSE",
        "pyproject.toml",
        "tests/conftest.py",
        "tests/integration/test_wheel.py",
        "contrib/systemd/maildesk.service",
        "docs/admin.md",
    ):
        assert needed in names, needed
    assert "Apache License" in (CHECKOUT / "LICENSE").read_text()[:200]


def test_installed_version_and_check_config_use_the_shipped_templates(installed):
    assert installed.run("--version").stdout.decode().strip() == f"maildesk {__version__}"
    state = _state(installed, "check", free_port())
    done = installed.run("--config", str(state / "maildesk.toml"), "check-config")
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert f"templates: {installed.venv}/lib/" in out
    assert "site-packages/maildesk/templates/emails" in out
    assert f"database: sqlite:///{state}/maildesk.db" in out
    assert list(installed.home.iterdir()) == []


def test_installed_ingest_creates_a_ticket_and_renders_the_acknowledgement(installed):
    state = _state(installed, "ingest", free_port())
    config = str(state / "maildesk.toml")
    done = installed.run("--config", config, "ingest", "-", stdin=message())
    assert done.returncode == 0, done.stderr
    assert b'"outcome": "created", "ticket": "SUP-1"' in done.stdout
    flushed = installed.run("--config", config, "outbox", "flush")
    assert flushed.returncode == 0, flushed.stderr
    (ack,) = (state / "outbox").glob("*-ack.eml")
    parsed = email.message_from_bytes(ack.read_bytes(), policy=email.policy.default)
    assert "[SUP-1]" in parsed["Subject"]
    assert parsed["To"] == "Alice Martin <alice@acme.ch>"
    assert list(installed.home.iterdir()) == []


def test_installed_without_psycopg_a_postgresql_url_names_the_extra(installed):
    url = "postgresql+psycopg://maildesk@127.0.0.1:5432/maildesk"
    state = _state(installed, "pg", free_port(), url)
    config = str(state / "maildesk.toml")
    checked = installed.run("--config", config, "check-config")
    assert checked.returncode == 2
    assert "pip install 'maildesk[postgresql]'" in checked.stderr.decode()
    assert installed.run("--config", config, "ingest", "-", stdin=message()).returncode == 75


def test_installed_daemon_under_a_notify_socket(installed, tmp_path):
    port = free_port()
    state = _state(installed, "daemon", port)
    manager_address = tmp_path / "notify"  # systemd's socket: not the daemon's file
    heard: list[str] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as manager:
        manager.bind(str(manager_address))
        manager.settimeout(60)
        log = tmp_path / "journal"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [installed.maildesk, "--config", str(state / "maildesk.toml"), "run"],
                stdout=out,
                stderr=out,
                cwd=installed.home,
                start_new_session=True,
                env=_clean_env({"NOTIFY_SOCKET": str(manager_address), "WATCHDOG_USEC": "2000000"}),
            )
        try:
            heard.append(manager.recv(4096).decode())
            assert heard == ["READY=1"], log.read_text()
            with smtplib.SMTP("127.0.0.1", port, timeout=15) as smtp:
                smtp.sendmail("alice@acme.ch", ["support@help.example"], message())
            wait_for(lambda: list((state / "outbox").glob("*-ack.eml")), timeout=60)
            heard.append(manager.recv(4096).decode())  # a watchdog beat within a second
            proc.send_signal(signal.SIGTERM)
            while heard[-1] != "STOPPING=1":
                heard.append(manager.recv(4096).decode())
            assert proc.wait(60) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert heard[0] == "READY=1"
    assert heard[1] == "WATCHDOG=1"
    assert heard[-1] == "STOPPING=1"
    text = log.read_text()
    assert f"smtp=127.0.0.1:{port}" in text
    assert f"database={state}/maildesk.db" in text
    assert f'outbound="pickup {state}/outbox"' in text
    assert "site-packages/maildesk/templates/emails" in text
    assert text.count("action=stopping") == 1
    wait_for(lambda: group_members(proc.pid) == [], timeout=10)
    assert list(installed.home.iterdir()) == []  # nothing outside its state folder
    left = {p.name for p in state.iterdir()}
    assert left <= {
        "maildesk.toml",
        "maildesk.db",
        "maildesk.db-wal",
        "maildesk.db-shm",
        "maildesk.db-writer.lock",
        "outbox",
    }, left


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_the_systemd_unit_verifies_with_the_installed_command(installed, tmp_path):
    unit = (CHECKOUT / "contrib" / "systemd" / "maildesk.service").read_text()
    assert "Type=notify" in unit
    assert "KillMode=mixed" in unit
    assert "StateDirectory=maildesk" in unit
    assert "--config /etc/maildesk/maildesk.toml run" in unit
    local = tmp_path / "maildesk.service"
    local.write_text(unit.replace("/opt/maildesk/venv/bin/maildesk", installed.maildesk))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(local)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
