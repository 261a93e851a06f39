"""`maildesk import PATH...`: a Maildir, an mbox file or a folder of `.eml` files, through
the same intake and pipeline as live mail (see docs/import.md).

Prints a progress bar (rate, time left) on stderr when it is a terminal, one JSON line per
message on stdout with `--json`, and always a summary line on stderr. Exit codes: 0 done,
2 a path that is not a mailbox, 75 (EX_TEMPFAIL) when the database failed (run it again:
it resumes), 130 when interrupted (Ctrl-C; run it again: it resumes).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime

from maildesk import config as config_module

EX_TEMPFAIL = 75
BATCHES_PER_CHUNK = 1  # messages read and stored in one commit: a batch's worth


def add_parser(sub, instant) -> None:
    imp = sub.add_parser(
        "import",
        help="import a Maildir, an mbox file or a folder of .eml files",
        description="Feed every message through intake and processing as of its own Date, "
        "oldest first. Imported mail sends no notification unless --notify. Interrupted, "
        "it resumes where it stopped when run again: nothing is imported twice.",
    )
    imp.add_argument("paths", nargs="+", metavar="PATH", help="Maildir, mbox file, .eml folder")
    imp.add_argument(
        "--since", type=instant, metavar="DATE", help="only messages dated from then on"
    )
    imp.add_argument(
        "--notify",
        action="store_true",
        help="send the notifications live mail would get (default: record them as withheld)",
    )
    imp.add_argument("--json", action="store_true", help="one JSON line per message on stdout")
    imp.add_argument(
        "--batch",
        type=int,
        default=200,
        metavar="N",
        help="messages applied in one transaction (default 200)",
    )
    imp.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="processes that read and parse mail beside the one that writes "
        "(default: one per CPU, at most 4, none on one CPU; 0: all in one process)",
    )
    imp.set_defaults(handler=run_import)


def run_import(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.daemon import memory
    from maildesk.daemon.app import TemplatesOnFirstUse, build
    from maildesk.daemon.importer import import_chunk, in_order
    from maildesk.daemon.mailfiles import NotAMailbox, find
    from maildesk.daemon.readahead import ReadAhead, default_jobs

    if not 1 <= args.batch <= 10000:
        print("maildesk: --batch must be from 1 to 10000", file=sys.stderr)
        return 2
    jobs = default_jobs() if args.jobs is None else args.jobs
    if not 0 <= jobs <= 64:
        print("maildesk: --jobs must be from 0 to 64", file=sys.stderr)
        return 2
    if args.log_level != "DEBUG":  # one line per message would bury the progress bar
        for name in ("maildesk.intake", "maildesk.worker", "maildesk.outbox"):
            logging.getLogger(name).setLevel(logging.WARNING)
    started = time.monotonic()
    now = datetime.now(UTC)
    try:
        found = [f for path in args.paths for f in find(path)]
    except (NotAMailbox, OSError) as exc:
        print(f"maildesk: {exc}", file=sys.stderr)
        return 2
    todo = in_order(found, args.since, now)
    counts: Counter = Counter(older=len(found) - len(todo))
    config = replace(config, processing=replace(config.processing, batch_size=args.batch))
    try:
        services = build(config, templates=None if args.notify else TemplatesOnFirstUse(config))
    except Exception as exc:  # noqa: BLE001 - plainly reported; the import can be run again
        print(f"maildesk: cannot open the database: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    services.dispose()  # no database connection may cross the helpers' fork
    memory.for_bulk_work()  # before the fork: the helpers inherit it
    readers = ReadAhead(config, services.ids, jobs)

    bar = _progress(len(todo))

    def report(line: dict) -> None:
        bar.update(1)
        if args.json:
            print(json.dumps(line, ensure_ascii=False), flush=False)

    status = 0
    try:
        for part, ahead in readers.chunks(todo, BATCHES_PER_CHUNK * args.batch):
            counts += import_chunk(
                services, part, now, notify=args.notify, report=report, ahead=ahead
            )
            if args.json:
                sys.stdout.flush()
    except KeyboardInterrupt:
        status = 130
    except Exception as exc:  # noqa: BLE001 - e.g. the database went away: resume later
        print(f"maildesk: import stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
        status = EX_TEMPFAIL
    finally:
        bar.close()
        readers.close()
        services.dispose()
    print(summary(counts, time.monotonic() - started, status), file=sys.stderr)
    return status


def summary(counts: Counter, seconds: float, status: int = 0) -> str:
    done = sum(counts[k] for k in ("created", "appended", "duplicate", "ignored", "quarantined"))
    head = "import interrupted (run it again to resume)" if status else "import done"
    parts = [f"{k} {counts[k]}" for k in ("created", "appended", "duplicate", "ignored")]
    parts.append(f"quarantined {counts['quarantined']}")
    for extra in ("retry", "already", "elsewhere", "older"):
        if counts[extra]:
            parts.append(f"{extra} {counts[extra]}")
    rate = done / seconds if seconds > 0 else 0.0
    return f"{head}: {', '.join(parts)}; {seconds:.1f} s ({rate:.0f} messages/s)"


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int):
    """tqdm's bar (count, rate, time left) on a terminal; nothing on a pipe or a file."""
    if not sys.stderr.isatty():
        return _NoBar()
    import shutil

    from tqdm import tqdm

    # A terminal that reports no size (a bare pty) would hide the bar: 100 x 24 then.
    size = shutil.get_terminal_size((100, 24))
    return tqdm(
        total=total,
        unit="msg",
        file=sys.stderr,
        ncols=size.columns,
        nrows=size.lines,
        smoothing=0.1,
    )
