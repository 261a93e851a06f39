"""Freed heap memory goes back to the kernel (glibc only; a no-op elsewhere)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from maildesk.daemon import memory

glibc_only = pytest.mark.skipif(memory._LIBC is None, reason="needs glibc's malloc_trim")

# Run in a fresh interpreter: the test process's own heap would blur the figures.
_FRAGMENT_THEN_TRIM = textwrap.dedent(
    """
    import sys
    from maildesk.daemon import memory

    def anon_kb():
        with open("/proc/self/status") as fh:
            return next(int(l.split()[1]) for l in fh if l.startswith("RssAnon:"))

    blocks = [bytes(64 * 1024) for _ in range(1200)]  # 75 MB below the mmap threshold
    del blocks[:-1]  # all freed but the topmost block, which the heap cannot shrink past
    freed = anon_kb()
    released = memory.trim() if sys.argv[1] == "trim" else False
    print(freed, anon_kb(), released)
    """
)


def _run(mode: str) -> tuple[int, int, bool]:
    out = subprocess.run(
        [sys.executable, "-c", _FRAGMENT_THEN_TRIM, mode],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), int(out[1]), out[2] == "True"


@glibc_only
def test_trim_returns_freed_heap_to_the_kernel():
    before, after, released = _run("trim")
    assert released
    assert before - after > 40 * 1024, (before, after)  # most of the ~75 MB freed


@glibc_only
def test_without_trim_the_freed_heap_stays_resident():
    before, after, released = _run("keep")
    assert not released
    assert abs(before - after) < 4 * 1024


@glibc_only
def test_arena_cap_is_accepted():
    assert memory.limit_arenas(memory.ARENAS)


def test_trimming_thread_stops_with_the_daemon():
    import threading

    stop = threading.Event()
    thread = memory.start_trimming(stop, seconds=0.01)
    stop.set()
    thread.join(timeout=2)
    assert not thread.is_alive()
