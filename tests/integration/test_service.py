"""`maildesk run` starts and stops like a daemon: a busy port is one line and a quick exit,
a stop signal (to the process or its whole group) stops it once, SIGHUP reloads, and a
service manager hears READY=1, WATCHDOG=1 and STOPPING=1 on its notify socket."""

from __future__ import annotations

import os
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port, need
from tests.integration.daemon import Daemon, group_members, wait_for, write_config
from tests.integration.postfix import certificate
from tests.mail import message

pytestmark = pytest.mark.slow
CHECKOUT = Path(__file__).resolve().parents[2]


def _here() -> dict[str, str]:
    """The environment, running the code of this checkout (not another installed copy)."""
    return {**os.environ, "PYTHONPATH": str(CHECKOUT)}


def _start(config: Path, log: Path, env: dict | None = None) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "maildesk", "--config", str(config), "run"],
            stdout=out,
            stderr=out,
            env={**_here(), "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,  # its own process group, as under systemd
        )


def _listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    def up() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    wait_for(up, timeout=60)
    wait_for(lambda: "action=started" in log.read_text(), timeout=30)


def _send(port: int, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=15) as smtp:
        smtp.sendmail("alice@acme.ch", ["support@help.example"], raw)


def test_a_busy_port_is_one_line_and_a_prompt_exit_with_no_process_left(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    cfg, _ = write_config(tmp_path, f"sqlite:///{tmp_path / 'desk.db'}", port)
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "maildesk", "--config", str(cfg), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=_here(),
    )
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        busy.close()
    assert proc.returncode == 69
    assert time.monotonic() - started < 30
    lines = err.decode().splitlines()
    assert len(lines) == 1, lines
    assert f"cannot listen on 127.0.0.1:{port}" in lines[0]
    assert "Address already in use" in lines[0]
    assert group_members(proc.pid) == []  # nothing was forked, nothing is left behind


@pytest.mark.parametrize(
    ("sig", "to"),
    [
        (signal.SIGTERM, "process"),
        (signal.SIGTERM, "group"),  # systemd's default KillMode=control-group
        (signal.SIGTERM, "process, then group"),  # what `timeout` does
        (signal.SIGINT, "group"),  # Ctrl-C in a terminal
    ],
)
def test_a_stop_signal_stops_it_once_gracefully(tmp_path, sig, to):
    cfg, port = write_config(tmp_path, f"sqlite:///{tmp_path / 'desk.db'}")
    log = tmp_path / "daemon.log"
    proc = _start(cfg, log)
    try:
        _listening(port, proc, log)
        assert len(group_members(proc.pid)) >= 2  # the daemon and its worker
        _send(port, message())
        if to.startswith("process"):
            proc.send_signal(sig)
        if to == "process, then group":
            time.sleep(0.5)  # the second one lands while it is stopping
        if to.endswith("group"):
            os.killpg(proc.pid, sig)
        assert proc.wait(60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = log.read_text()
    assert text.count("action=stopping") == 1, text
    assert f"action=stopping signal={signal.Signals(sig).name}" in text
    assert "action=left" in text
    assert "action=stopped" in text
    assert "Traceback" not in text
    wait_for(lambda: group_members(proc.pid) == [], timeout=10)


def test_sighup_reopens_the_log_and_reloads_templates_refusing_a_broken_set(tmp_path):
    templates = tmp_path / "templates"
    subprocess.run(["cp", "-r", str(CHECKOUT / "templates" / "emails"), str(templates)], check=True)
    cfg, port = write_config(tmp_path, f"sqlite:///{tmp_path / 'desk.db'}")
    cfg.write_text(
        cfg.read_text()
        + '\n[logging]\nfile = "maildesk.log"\n\n[templates]\ndirectory = "templates"\n'
    )
    log = tmp_path / "maildesk.log"
    proc = _start(cfg, tmp_path / "stderr")
    try:
        _listening(port, proc, log)
        log.rename(tmp_path / "maildesk.log.1")  # what logrotate does
        ack = templates / "fr" / "ack.txt.j2"
        ack.write_text("Bonjour, version deux. {{ ticket.key }}\n" + ack.read_text())
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: log.exists() and "action=reloaded" in log.read_text())
        time.sleep(2)  # the worker follows within a second
        ack.write_text("{% if %}broken")
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "action=reload-refused" in log.read_text())
        refused = next(x for x in log.read_text().splitlines() if "reload-refused" in x)
        assert " ERROR " in refused
        assert "ack.txt.j2" in refused
        assert proc.poll() is None  # never exits on SIGHUP
        _send(port, message())  # acknowledged with the last good set, by the worker
        outbox = tmp_path / "outbox"
        sent = wait_for(lambda: list(outbox.glob("*-ack.eml")), timeout=60)
        assert b"version deux" in sent[0].read_bytes()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert "action=stopped" in log.read_text()
    assert "action=started" in (tmp_path / "maildesk.log.1").read_text()
    assert (tmp_path / "stderr").read_text() == ""


def test_a_notify_socket_hears_ready_watchdog_and_stopping_in_order(tmp_path):
    cfg, port = write_config(tmp_path, f"sqlite:///{tmp_path / 'desk.db'}")
    heard: list[str] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as manager:
        manager.bind(str(tmp_path / "notify"))
        manager.settimeout(60)
        log = tmp_path / "daemon.log"
        proc = _start(
            cfg,
            log,
            {"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "400000"},
        )
        try:
            heard.append(manager.recv(4096).decode())
            # READY=1 comes once the listener answers
            with socket.create_connection(("127.0.0.1", port), timeout=5) as probe:
                assert probe.recv(100).startswith(b"220")
            heard.append(manager.recv(4096).decode())
            heard.append(manager.recv(4096).decode())
            proc.send_signal(signal.SIGTERM)
            while "STOPPING=1" not in heard:
                heard.append(manager.recv(4096).decode())
            assert proc.wait(60) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert heard[0] == "READY=1", heard
    assert heard[1:3] == ["WATCHDOG=1", "WATCHDOG=1"]
    assert heard[-1] == "STOPPING=1"
    assert set(heard[1:-1]) == {"WATCHDOG=1"}


def test_sigterm_arriving_during_start_up_still_stops_it_cleanly(tmp_path):
    cfg, _ = write_config(tmp_path, f"sqlite:///{tmp_path / 'desk.db'}", free_port())
    log = tmp_path / "daemon.log"
    proc = _start(cfg, log)
    try:
        wait_for(lambda: "action=joined" in log.read_text(), timeout=60, interval=0.01)
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert log.read_text().count("action=stopping") == 1
    wait_for(lambda: group_members(proc.pid) == [], timeout=10)


def _presented(port: int) -> bytes:
    """The certificate the listener presents in a STARTTLS handshake (DER)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # what is presented, not whether it is trusted
    with smtplib.SMTP("127.0.0.1", port, timeout=15) as smtp:
        smtp.starttls(context=context)
        return smtp.sock.getpeercert(binary_form=True)


def _der(pem: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem.read_text())


def test_sighup_loads_a_renewed_listener_certificate_and_refuses_a_bad_pair(tmp_path):
    need("the openssl command", shutil.which("openssl") is not None)
    first = certificate(_folder(tmp_path / "first"))
    renewed = certificate(_folder(tmp_path / "renewed"))
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    shutil.copy(first[0], cert)
    shutil.copy(first[1], key)
    files = f'tls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
    cfg, port = write_config(tmp_path, f"sqlite:///{tmp_path / 'desk.db'}", smtp_extra=files)
    daemon = Daemon(cfg, port, tmp_path / "daemon.log").start()
    try:
        assert _presented(port) == _der(first[0])
        shutil.copy(renewed[0], cert)  # what a renewal (certbot, acme.sh) does
        shutil.copy(renewed[1], key)
        daemon.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "certificate=" in daemon.log() and "action=reloaded" in daemon.log())
        assert _presented(port) == _der(renewed[0])
        shutil.copy(first[1], key)  # a key that does not match the certificate
        daemon.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "action=reload-refused" in daemon.log())
        refused = next(x for x in daemon.log().splitlines() if "reload-refused" in x)
        assert " ERROR " in refused
        assert str(cert) in refused
        assert daemon.proc.poll() is None  # never exits on SIGHUP
        assert _presented(port) == _der(renewed[0])  # the pair in use stays
    finally:
        assert daemon.stop() == 0, daemon.log()


def _folder(path: Path) -> Path:
    path.mkdir()
    return path
