"""Import benchmark: `maildesk import` of a Maildir against `maildesk ingest`, in one run.

Writes the benchmark corpus (`bench/corpus.py`, 20,000 messages by default) to a Maildir,
then, each on a fresh database of the chosen kind:

- `ingest, a process per message`: `maildesk ingest --now DATE FILE` run once per message,
  as an MTA pipe runs it, over the first `--ingest-count` messages;
- `ingest, one process`: `maildesk ingest` over the same messages in one process (the
  pipeline one message at a time, one spool commit and one processing transaction each);
- `import`: `maildesk import MAILDIR` of the whole corpus.

Printed per pass: messages, wall seconds, messages/s, CPU ms per message (user+sys of the
process(es), from wait4), and peak RSS (the largest process). The machine may be shared:
the load average is printed before and after, and CPU per message is the steadier figure.

    python bench/import.py [--count 20000] [--ingest-count 300] [--db sqlite|postgresql]
                           [--batch 200] [--keep DIR]
"""

from __future__ import annotations

import argparse
import mailbox
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import corpus
from run import database

from maildesk.daemon.mailfiles import date_of, head_of

ROOT = Path(__file__).resolve().parents[1]
SECRET = "b" * 64


@dataclass
class Pass:
    name: str
    messages: int
    seconds: float
    cpu: float
    peak_mb: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu / self.messages


def config(tmp: Path, name: str, url: str, batch: int) -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n\n'
        f'[outbound]\npickup_dir = "{tmp / "outbox"}"\nmessage_id_secret = "{SECRET}"\n\n'
        '[[queues]]\nname = "support"\nkey_prefix = "SUP"\n'
        'addresses = ["support@example.com"]\n\n'
        "[staff]\naddresses = []\n\n"
        f"[processing]\nbatch_size = {min(batch, 1000)}\n",
        encoding="utf-8",
    )
    return path


def timed(argv: list[str], stderr: bool = False) -> tuple:
    """(wall seconds, CPU seconds, peak RSS MB[, stderr]) of one child process."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:6])}...: exit {proc.returncode}\n{err[-2000:]}")
    found = (wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)
    return (*found, err) if stderr else found


def maildesk(cfg: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "maildesk", "--config", str(cfg), "--log-level", "WARNING", *args]


def ingest_each(cfg: Path, files: list[tuple[str, Path]]) -> Pass:
    wall = cpu = peak = 0.0
    timed(maildesk(cfg, "check-config"))  # not counted: the schema is made by the first call
    for date, path in files:
        w, c, p = timed(maildesk(cfg, "ingest", "--now", date, str(path)))
        wall, cpu, peak = wall + w, cpu + c, max(peak, p)
    return Pass("ingest, a process per message", len(files), wall, cpu, peak)


def ingest_one_process(cfg: Path, files: list[tuple[str, Path]]) -> Pass:
    """One process, the pipeline one message at a time: `_ingest`'s loop with each
    message's own Date as `--now` (store, then process, then the next)."""
    script = (
        "import sys\n"
        "from datetime import datetime\n"
        "from maildesk import config as c\n"
        "from maildesk.daemon.app import build\n"
        "from maildesk.store.spool import store\n"
        "import time\n"
        "s = build(c.load(sys.argv[1]))\n"
        "t, cpu = time.monotonic(), time.process_time()\n"
        "for line in open(sys.argv[2]):\n"
        "    date, path = line.rstrip('\\n').split(' ', 1)\n"
        "    now = datetime.fromisoformat(date)\n"
        "    i = store(s.spool, open(path, 'rb').read(), source='ingest', now=now)\n"
        "    s.worker.process(i, now)\n"
        "print(time.monotonic() - t, time.process_time() - cpu, file=sys.stderr)\n"
    )
    listing = cfg.with_suffix(".list")
    listing.write_text("".join(f"{d} {p}\n" for d, p in files), encoding="utf-8")
    timed(maildesk(cfg, "check-config"))
    _, _, peak, err = timed([sys.executable, "-c", script, str(cfg), str(listing)], True)
    wall, cpu = map(float, err.split()[-2:])  # the loop only: start-up is not counted
    return Pass("ingest, one process (loop)", len(files), wall, cpu, peak)


def import_all(cfg: Path, box: Path, count: int, batch: int) -> Pass:
    timed(maildesk(cfg, "check-config"))
    wall, cpu, peak = timed(maildesk(cfg, "import", "--batch", str(batch), str(box)))
    return Pass("import", count, wall, cpu, peak)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("--count", type=int, default=20000)
    args.add_argument("--ingest-count", type=int, default=300)
    args.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args.add_argument("--batch", type=int, default=200)
    args.add_argument("--keep", metavar="DIR", help="keep the corpus and databases here")
    opts = args.parse_args()
    tmp = Path(opts.keep or tempfile.mkdtemp(prefix="maildesk-import-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        return _run(opts, tmp)
    finally:
        if not opts.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def write_corpus(count: int, box_path: Path, ingest_count: int, listing: Path) -> None:
    """The corpus as a Maildir, and the first `ingest_count` messages' dates and files."""
    mails = corpus.build(count)
    shutil.rmtree(box_path, ignore_errors=True)
    box = mailbox.Maildir(str(box_path), create=True)
    lines = []
    for mail in mails:
        key = box.add(mail.raw)
        if len(lines) < ingest_count:
            written = date_of(head_of(mail.raw), corpus.START)
            lines.append(f"{written.isoformat()} {box_path / 'new' / key}\n")
    size = sum(len(m.raw) for m in mails)
    listing.write_text(f"{size}\n" + "".join(lines), encoding="utf-8")


def _run(opts, tmp: Path) -> int:
    print(f"before: {load()}", flush=True)
    box_path = tmp / "Maildir"
    listing = tmp / "corpus.list"
    # Written by a child process: a corpus held here would be counted in the peak RSS of
    # every process started from here (Linux keeps the high-water mark across exec).
    writer = multiprocessing.get_context("fork").Process(
        target=write_corpus, args=(opts.count, box_path, opts.ingest_count, listing)
    )
    writer.start()
    writer.join()
    if writer.exitcode != 0:
        raise SystemExit(f"writing the corpus failed: exit {writer.exitcode}")
    size, *lines = listing.read_text(encoding="utf-8").splitlines()
    files = [(d, Path(p)) for d, p in (line.split(" ", 1) for line in lines)]
    print(f"corpus: {opts.count} messages, {int(size) / 1e6:.0f} MB, Maildir {box_path}; {opts.db}")

    passes: list[Pass] = []
    for name, run in (
        ("each", lambda cfg: ingest_each(cfg, files)),
        ("one", lambda cfg: ingest_one_process(cfg, files)),
        ("import", lambda cfg: import_all(cfg, box_path, opts.count, opts.batch)),
    ):
        with database(opts.db, tmp, f"import_{name}") as url:
            result = run(config(tmp, name, url, opts.batch))
        passes.append(result)
        print(
            f"{result.name:32} {result.messages:6d} msgs {result.seconds:8.1f} s "
            f"{result.rate:8.1f} msg/s  CPU {result.cpu_ms:6.2f} ms/msg  "
            f"peak RSS {result.peak_mb:5.0f} MB",
            flush=True,
        )
    each, one, imp = passes
    print(
        f"import / ingest (a process per message): {imp.rate / each.rate:.1f}x by rate, "
        f"{each.cpu_ms / imp.cpu_ms:.1f}x by CPU per message"
    )
    print(
        f"import / ingest (one process):           {imp.rate / one.rate:.1f}x by rate, "
        f"{one.cpu_ms / imp.cpu_ms:.1f}x by CPU per message"
    )
    print(f"after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
