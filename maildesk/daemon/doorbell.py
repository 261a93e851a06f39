"""Wake another process without sharing a lock with it: a pipe.

multiprocessing.Event keeps a lock and a handshake between the processes using it; when
one of them is SIGKILLed at the wrong moment, the others block forever in `set()`. A pipe
cannot deadlock: ringing writes one byte (dropped when the pipe is full: one pending ring
is as good as many), waiting is a `select` with a timeout.
"""

from __future__ import annotations

import contextlib
import os
import select


class Doorbell:
    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def set(self) -> None:
        """Ring: wake a waiter (now or at its next wait)."""
        with contextlib.suppress(BlockingIOError, BrokenPipeError, OSError):
            os.write(self._write, b"!")

    def clear(self) -> None:
        """Nothing to do: a wait consumes the rings it sees."""

    def wait(self, timeout: float | None = None) -> bool:
        """True when rung (or closed) within `timeout`; consumes pending rings."""
        ready, _, _ = select.select([self._read], [], [], timeout)
        if not ready:
            return False
        with contextlib.suppress(BlockingIOError, OSError):
            os.read(self._read, 4096)
        return True

    def is_set(self) -> bool:
        return self.wait(0)

    def close_for_all(self) -> None:
        """Close the writing end: every waiter, in every process, wakes for good."""
        with contextlib.suppress(OSError):
            os.close(self._write)


class Closing:
    """A one-way "quit" signal for child processes: the parent closes it, or dies."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()

    def child_side(self) -> None:
        """In the child: drop the writing end, so only the parent holds it."""
        with contextlib.suppress(OSError):
            os.close(self._write)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._write)

    def closed(self, timeout: float) -> bool:
        """True once the parent closed its end or died (end of file on the pipe)."""
        ready, _, _ = select.select([self._read], [], [], timeout)
        if not ready:
            return False
        try:
            return os.read(self._read, 1) == b""
        except OSError:
            return True
