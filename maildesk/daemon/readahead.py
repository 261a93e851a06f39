"""Reading mail ahead for `maildesk import`: other processes read each message's file,
parse it and read its request quality while this one writes the messages before.

Why: parsing and the request-quality reading are pure and cost about half of a message's
CPU; the rest (the pipeline's database questions and the writes) must stay in one process,
one transaction at a time (SQLite has one writer anyway) and in the import's order, so that
a reply threads onto its request exactly as it would message by message. So the pure half
runs on the other CPUs, two chunks ahead of the writer; what comes back is plain data, and
what the parser refuses comes back as such and is parsed again, alone, by the writer, which
records the refusal as live mail's would be.

The helpers are forked before any database connection exists, hold none, and leave when
their parent dies (even killed outright), so an interrupted import leaves no process behind.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from multiprocessing.pool import AsyncResult
from typing import Any

from maildesk.config import Config
from maildesk.daemon.mailfiles import Found
from maildesk.inbound.limits import MimeLimits
from maildesk.inbound.parse import parse
from maildesk.inbound.pipeline import read_ahead
from maildesk.inbound.quality.language import preload
from maildesk.msgid import MessageIds

# A message as read ahead: its bytes and (Parsed, pipeline.Ahead); (None, None) when the
# parser refused it, (Parsed, None) when only the reading failed (the pipeline reads it).
Read = tuple[bytes, tuple[Any, Any]]
PER_TASK = 25  # messages sent to a helper at once: fewer, larger pipe writes
# Chunks being read while the writer writes one: two let the helpers read ahead while the
# writer waits on the disk, so it seldom waits for them (measured: 8.9 s of waiting in a
# 20,000-message import with one, 6.0 s with two; more gained nothing).
WINDOW = 2
# The helpers yield the CPU to the writer: it is the one that sets the pace (measured: 381
# messages/s on two CPUs at the same priority, 394 with the helpers at nice 10).
HELPER_NICENESS = 10


def default_jobs() -> int:
    """One helper per CPU, at most four; none on a single CPU. As many helpers as CPUs,
    not one fewer: the writer waits on the disk part of the time, and on two CPUs two
    helpers kept it busy where one left it waiting for a quarter of the run."""
    cpus = os.cpu_count() or 1
    return 0 if cpus < 2 else min(4, cpus)


class ReadAhead:
    """`submit(part)` starts reading a chunk in the helpers; `take(handle)` waits for it.
    With `jobs = 0` everything is read in this process, when taken."""

    def __init__(self, config: Config, ids: MessageIds, jobs: int) -> None:
        self.config = config
        self.ids = ids
        self.limits = MimeLimits.of(config.processing)
        self.pool = None
        if jobs > 0:  # the caller holds no database connection: none may cross the fork
            preload(config.languages.enabled)  # loaded once, shared by the helpers
            context = multiprocessing.get_context("fork")
            self.pool = context.Pool(jobs, _start, (config, ids, os.getpid()))

    def submit(self, part: Sequence[Found]) -> AsyncResult | Sequence[Found]:
        if self.pool is None:
            return part
        return self.pool.map_async(_read, part, chunksize=PER_TASK)

    def take(self, handle: AsyncResult | Sequence[Found]) -> list[Read]:
        if isinstance(handle, AsyncResult):
            return handle.get()
        return [prepare(f.read(), self.config, self.ids, self.limits) for f in handle]

    def chunks(self, todo: Sequence[Found], size: int) -> Iterator[tuple[list[Found], list[Read]]]:
        """`todo` in chunks of `size`, each with its messages read; the next `WINDOW`
        chunks are being read while the caller writes this one."""
        # A small first chunk: the writer starts as soon as it is read, not a batch later.
        first = max(1, size // 8)
        parts = [list(todo[:first])]
        parts += [list(todo[start : start + size]) for start in range(first, len(todo), size)]
        parts = [part for part in parts if part]
        handles = deque(self.submit(part) for part in parts[:WINDOW])
        for n, part in enumerate(parts):
            ahead = self.take(handles.popleft())
            if n + WINDOW < len(parts):
                handles.append(self.submit(parts[n + WINDOW]))
            yield part, ahead

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


def prepare(raw: bytes, config: Config, ids: MessageIds, limits: MimeLimits) -> Read:
    """The bytes, parsed and read: pure."""
    try:
        parsed = parse(raw, limits)
    except Exception:  # noqa: BLE001 - the writer parses it again and records why
        return raw, (None, None)
    try:
        return raw, (parsed, read_ahead(parsed, config, ids))
    except Exception:  # noqa: BLE001 - the pipeline reads it, and fails there if it must
        return raw, (parsed, None)


# A helper process's own state, set once by `_start` when the pool forks it.
_HELPER: dict[str, Any] = {}


def _start(config: Config, ids: MessageIds, parent: int) -> None:
    _HELPER.update(config=config, ids=ids, limits=MimeLimits.of(config.processing))
    os.nice(HELPER_NICENESS)
    threading.Thread(target=_leave_with, args=(parent,), daemon=True).start()


def _leave_with(parent: int) -> None:
    """A parent killed with SIGKILL cannot stop its pool: its helpers notice it gone."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _read(found: Found) -> Read:
    return prepare(found.read(), _HELPER["config"], _HELPER["ids"], _HELPER["limits"])
