"""sd_notify: a datagram per state to $NOTIFY_SOCKET (a path or an abstract name)."""

from __future__ import annotations

import os
import socket
import threading

from maildesk.daemon import notify


def test_without_a_notify_socket_nothing_is_sent(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify.notify("READY=1") is False
    assert notify.start_watchdog(threading.Event()) is None


def test_a_path_and_an_abstract_socket_both_receive_the_state(monkeypatch, tmp_path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as manager:
        manager.bind(str(tmp_path / "notify"))
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
        assert notify.notify("READY=1")
        assert manager.recv(100) == b"READY=1"
    name = f"maildesk-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as manager:
        manager.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify.notify("STOPPING=1")
        assert manager.recv(100) == b"STOPPING=1"


def test_a_vanished_manager_is_logged_not_raised(monkeypatch, tmp_path):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    assert notify.notify("READY=1") is False


def test_the_watchdog_beats_at_half_the_interval_for_this_process_only(monkeypatch, tmp_path):
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert notify.watchdog_interval() is None  # meant for another process
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert notify.watchdog_interval() == 0.1
    stop = threading.Event()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as manager:
        manager.bind(str(tmp_path / "notify"))
        manager.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
        beats = notify.start_watchdog(stop)
        assert beats is not None
        assert [manager.recv(100) for _ in range(3)] == [b"WATCHDOG=1"] * 3
        stop.set()
        beats.join(timeout=5)
        assert not beats.is_alive()
