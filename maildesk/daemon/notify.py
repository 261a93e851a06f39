"""The systemd notify protocol (sd_notify): a datagram to $NOTIFY_SOCKET per state.

`READY=1` once the listener is bound, `STOPPING=1` when a stop begins, and `WATCHDOG=1`
every half of $WATCHDOG_USEC while the daemon runs. Without $NOTIFY_SOCKET (not started
by systemd with Type=notify) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

log = logging.getLogger("maildesk.notify")


def notify(state: str) -> bool:
    """Send `state` (e.g. "READY=1") to the service manager; False when there is none."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as exc:
        log.warning("action=notify-failed state=%s reason=%s", state.split("=", maxsplit=1)[0], exc)
        return False
    return True


def watchdog_interval() -> float | None:
    """Half of $WATCHDOG_USEC in seconds, when the watchdog is meant for this process."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000


def start_watchdog(stop: threading.Event) -> threading.Thread | None:
    """Send WATCHDOG=1 every half interval until `stop` is set (a thread), if asked for."""
    interval = watchdog_interval()
    if interval is None or not os.environ.get("NOTIFY_SOCKET"):
        return None

    def beat() -> None:
        while not stop.wait(interval):
            notify("WATCHDOG=1")

    thread = threading.Thread(target=beat, name="watchdog", daemon=True)
    thread.start()
    return thread
