"""Keep a long-running daemon's resident memory at what it uses, not at what it once used.

Message bodies and SQLite pages are allocated with the C library's `malloc`, which
keeps freed memory in per-thread heaps ("arenas") for reuse instead of returning it to
the system. The intake process handles mail on several threads (the SMTP loop, its
storing threads, the sender, the scheduler), so after each burst more freed memory sits
in more arenas, fragmented, and the resident size creeps up message after message
although nothing is kept. Two measures bound it (measured with `bench/run.py`, which
prints resident memory at 10%, 50% and the end of a 20,000-message pass):

- at start-up, at most `ARENAS` arenas, so the threads share their free memory;
- every `TRIM_SECONDS`, from a thread of its own, `malloc_trim(0)` hands every free
  page of every arena back to the kernel (a walk of the free lists: a few milliseconds,
  never on the path of a message).

Only glibc has these calls; elsewhere (musl, macOS) both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading

ARENAS = 2
TRIM_SECONDS = 10.0
_M_ARENA_MAX = -8  # glibc's <malloc.h>


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def limit_arenas(count: int = ARENAS) -> bool:
    """Cap the number of malloc arenas; call before the process starts its threads."""
    return bool(_LIBC is not None and _LIBC.mallopt(_M_ARENA_MAX, count))


def trim() -> bool:
    """Return free heap memory to the kernel; True when some was released."""
    return bool(_LIBC is not None and _LIBC.malloc_trim(0))


def start_trimming(stop: threading.Event, seconds: float = TRIM_SECONDS) -> threading.Thread:
    """Trim every `seconds` until `stop` is set."""

    def loop() -> None:
        while not stop.wait(seconds):
            trim()

    thread = threading.Thread(target=loop, name="memory-trim", daemon=True)
    thread.start()
    return thread


YOUNG_THRESHOLD = 50_000  # allocations between collections of the youngest generation


def for_bulk_work() -> None:
    """For a process that handles many messages in a row (`maildesk import`, a forked
    worker): what exists
    now is frozen (never scanned by the cyclic collector again, and left unwritten, so
    processes forked next share its pages), and the youngest generation is collected
    every 50,000 allocations instead of every 700. A message makes tens of thousands of
    short-lived objects and almost no cycles: the default thresholds scan them for
    nothing; measured, 2 to 3% of an import's CPU. Reference counting frees them all
    the same, so memory stays bounded."""
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 20)
