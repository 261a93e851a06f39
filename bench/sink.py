"""The outbound relay of the benchmarks: an aiosmtpd sink that notes when each mail arrives.

It keeps only what the measurement needs (arrival time on this process's monotonic clock,
In-Reply-To, recipient); it accepts everything and never relays.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from email.parser import BytesHeaderParser

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Arrival:
    at: float  # time.monotonic() when DATA was accepted
    in_reply_to: str
    recipient: str
    subject: str


class SinkHandler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.arrivals: list[Arrival] = []
        self.changed = threading.Condition(self.lock)

    async def handle_DATA(self, server, session, envelope) -> str:
        at = time.monotonic()
        headers = BytesHeaderParser().parsebytes(envelope.original_content or envelope.content)
        arrival = Arrival(
            at,
            str(headers.get("In-Reply-To", "")).strip(),
            ",".join(envelope.rcpt_tos),
            str(headers.get("Subject", "")),
        )
        with self.changed:
            self.arrivals.append(arrival)
            self.changed.notify_all()
        return "250 2.0.0 OK"

    def reset(self) -> None:
        with self.lock:
            self.arrivals = []

    def snapshot(self) -> list[Arrival]:
        with self.lock:
            return list(self.arrivals)

    def wait_for(self, wanted: set[str], timeout: float) -> bool:
        """Block until an arrival answers every Message-ID in `wanted`, or the timeout."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                seen = {a.in_reply_to for a in self.arrivals}
                if wanted <= seen:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(min(left, 1.0))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sink() -> tuple[Controller, SinkHandler, int]:
    handler = SinkHandler()
    port = free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, decode_data=False, data_size_limit=0
    )
    controller.start()
    return controller, handler, port
