"""End-to-end benchmark: maildesk against the bare floor, on the same corpus, in one run.

Starts `maildesk run` on a throw-away configuration and database (SQLite file in a temp
dir, or a throw-away PostgreSQL database dropped at the end), then the floor
(`bench/floor.py`), sends the corpus to each over K SMTP connections and waits until
every request's acknowledgement has reached the sink. With `--instances N` it also runs
N maildesk processes on one PostgreSQL database. See bench/README.md.

    python bench/run.py [--count N] [--connections K] [--db sqlite|postgresql]
                        [--instances N] [--latency-at-half-rate] [--profile OUT.svg]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import corpus
from measure import PassResult, run_pass, wait_for_port
from sink import SinkHandler, free_port, start_sink

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SECRET = "b" * 64  # fixed: the run needs no secrecy, only a valid secret


@contextlib.contextmanager
def database(kind: str, tmp: Path, name: str):
    """A fresh database for one pass; a PostgreSQL one is dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / name}.db"
        return
    import psycopg

    db = f"maildesk_bench_{os.getpid()}_{name}"  # never test, root or postgres
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{db}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def maildesk_config(tmp: Path, name: str, url: str, port: int, sink_port: int) -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\n\n'
        f'[outbound]\nhost = "127.0.0.1"\nport = {sink_port}\n'
        f'message_id_secret = "{SECRET}"\n\n'
        '[[queues]]\nname = "support"\nkey_prefix = "SUP"\n'
        'addresses = ["support@example.com"]\n\n'
        "[staff]\naddresses = []\n\n"
        "[processing]\npoll_seconds = 0.05\n",
        encoding="utf-8",
    )
    return path


def start(
    system: str, tmp: Path, url: str, sink_port: int, name: str = ""
) -> tuple[subprocess.Popen, int]:
    name = name or system  # one configuration and log per instance
    port = free_port()
    if system == "maildesk":
        cfg = maildesk_config(tmp, name, url, port, sink_port)
        argv = [sys.executable, "-m", "maildesk", "--config", str(cfg), "run"]
    else:
        floor = Path(__file__).with_name("floor.py")
        argv = [sys.executable, str(floor), "--port", str(port), "--relay-port", str(sink_port)]
        argv += ["--db", url]
    log = (tmp / f"{name}.log").open("ab")
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=log)  # noqa: S603
    try:
        wait_for_port(port)
    except TimeoutError:
        proc.kill()
        raise
    return proc, port


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:  # all at once, so the instances drain side by side
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def servers(system: str, count: int, tmp: Path, name: str, url: str, sink_port: int):
    """`count` processes of `system` on one database, started one after the other (the
    first has migrated it before the next connects), all stopped at the end."""
    procs: list[subprocess.Popen] = []
    ports: list[int] = []
    try:
        for i in range(count):
            instance = f"{name}_{i + 1}" if count > 1 else name
            proc, port = start(system, tmp, url, sink_port, instance if count > 1 else "")
            procs.append(proc)
            ports.append(port)
            print(f"  {instance}: pid {proc.pid}, port {port}, db {url}", flush=True)
        yield procs, ports
    finally:
        stop(procs)


def measure(
    system, opts, tmp, sink, sink_port, mails, rate=None, profile=None, instances=1
) -> PassResult:
    label = f"{system}_x{instances}" if instances > 1 else system
    name = f"{label}_{'paced' if rate else 'max'}"
    with (
        database(opts.db, tmp, name) as url,
        servers(system, instances, tmp, name, url, sink_port) as (procs, ports),
    ):
        spy = _spy(profile, procs[0].pid) if profile else None
        try:
            pids = [p.pid for p in procs]
            return run_pass(ports, pids, sink, mails, opts.connections, rate, opts.timeout)
        finally:
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=120)


def _spy(profile: str, pid: int) -> subprocess.Popen:
    spy_bin = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    fmt = "flamegraph" if profile.endswith(".svg") else "raw"  # raw: collapsed stacks, greppable
    spy_argv = [spy_bin, "record", "-o", profile, "--format", fmt, "--pid", str(pid)]
    spy_argv += ["--threads", "--subprocesses"]
    return subprocess.Popen(spy_argv, stdout=subprocess.DEVNULL)  # noqa: S603


def describe(mails: list[corpus.Mail]) -> str:
    kinds = Counter(m.kind for m in mails)
    replies = sum(m.is_reply for m in mails)
    encoded = sum(b"=?utf-8?" in m.raw.split(b"\n\n", 1)[0].lower() for m in mails)
    size = sum(len(m.raw) for m in mails)
    return (
        f"{len(mails)} mails, {size / 1e6:.1f} MB: {kinds['plain']} plain, {kinds['html']} "
        f"html, {kinds['attachment']} with attachment; {replies} replies; "
        f"{encoded} with RFC 2047 headers; {len({m.sender for m in mails})} senders"
    )


def report(name: str, r: PassResult) -> None:
    ok = "" if r.complete else "  INCOMPLETE"
    print(
        f"{name:<18} intake {r.intake_rate:7.1f}/s  end-to-end {r.e2e_rate:7.1f}/s  "
        f"latency median {r.latency_median * 1000:8.1f} ms  p99 {r.latency_p99 * 1000:8.1f} ms"
        f"  max {r.latency_max * 1000:8.1f} ms  CPU {r.cpu_per_message * 1000:6.2f} ms/msg  "
        f"peak RSS {r.peak_rss_mb:6.1f} MB (RSS at 10%/50%/end {r.rss_at_tenth_mb:.0f}/"
        f"{r.rss_at_half_mb:.0f}/{r.rss_at_end_mb:.0f})  acks {r.acks_matched}/{r.acks_expected}"
        f"  extra mails {r.extra_mails}{ok}"
    )
    if r.rss_by_process:
        each = ", ".join(f"{n} {a:.0f}/{b:.0f}/{c:.0f}" for n, a, b, c in r.rss_by_process)
        print(f"{'':<18} RSS at 10%/50%/end by process: {each} MB")
    if r.rss_by_quarter:
        each = ", ".join(f"{n} " + "/".join(f"{q:.0f}" for q in qs) for n, qs in r.rss_by_quarter)
        print(f"{'':<18} RSS by quarter of the pass (mean): {each} MB")


def ratios(md: PassResult, fl: PassResult) -> None:
    print(
        "maildesk/floor     "
        f"intake {md.intake_rate / fl.intake_rate:.2f}x  "
        f"end-to-end {md.e2e_rate / fl.e2e_rate:.2f}x  "
        f"latency median {md.latency_median / fl.latency_median:.1f}x  "
        f"p99 {md.latency_p99 / fl.latency_p99:.1f}x  "
        f"CPU/msg {md.cpu_per_message / fl.cpu_per_message:.1f}x  "
        f"peak RSS {md.peak_rss_mb / fl.peak_rss_mb:.1f}x"
    )


def scaling(instances: int, many: PassResult, one: PassResult) -> None:
    """N instances against one, side by side: how far a second process adds throughput."""
    print(
        f"maildesk x{instances} vs x1  "
        f"intake {many.intake_rate:.1f}/s vs {one.intake_rate:.1f}/s "
        f"({many.intake_rate / one.intake_rate:.2f}x)  "
        f"end-to-end {many.e2e_rate:.1f}/s vs {one.e2e_rate:.1f}/s "
        f"({many.e2e_rate / one.e2e_rate:.2f}x)"
    )


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--count", type=int, default=2000)
    args.add_argument("--connections", type=int, default=4)
    args.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args.add_argument("--seed", type=int, default=corpus.SEED)
    args.add_argument(
        "--instances", type=int, default=1, help="maildesk processes on one PostgreSQL database"
    )
    args.add_argument("--latency-at-half-rate", action="store_true")
    args.add_argument("--profile", help="py-spy flame graph of the maildesk pass (SVG path)")
    args.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for acks")
    args.add_argument("--keep", help="keep logs and SQLite files in this directory")
    opts = args.parse_args()
    if opts.instances < 1:
        args.error("--instances must be at least 1")
    if opts.instances > 1 and opts.db != "postgresql":
        # Several daemons share one database only over a server; SQLite is one file per host.
        args.error(f"--instances {opts.instances} needs --db postgresql (SQLite: one instance)")
    mails = corpus.build(opts.count, opts.seed)
    print(f"machine: {os.cpu_count()} CPUs, {_cpu_model()}, Python {platform.python_version()}")
    print(f"corpus: {describe(mails)}")
    many = f", {opts.instances} maildesk instances" if opts.instances > 1 else ""
    print(f"db: {opts.db}, {opts.connections} SMTP connections{many}", flush=True)
    sink_controller, sink, sink_port = start_sink()
    try:
        if opts.keep:
            Path(opts.keep).mkdir(parents=True, exist_ok=True)
            _passes(opts, Path(opts.keep), sink, sink_port, mails)
        else:
            with tempfile.TemporaryDirectory(prefix="maildesk-bench-") as name:
                _passes(opts, Path(name), sink, sink_port, mails)
    finally:
        sink_controller.stop()
    return 0


def _passes(opts, tmp: Path, sink: SinkHandler, sink_port: int, mails) -> None:
    n = opts.instances
    md = measure("maildesk", opts, tmp, sink, sink_port, mails, profile=opts.profile)
    mdn = measure("maildesk", opts, tmp, sink, sink_port, mails, instances=n) if n > 1 else None
    fl = measure("floor", opts, tmp, sink, sink_port, mails)
    print("\nmaximum rate (the corpus sent as fast as the connections allow)")
    report("maildesk", md)
    if mdn is not None:
        report(f"maildesk x{n}", mdn)
    report("floor", fl)
    ratios(md, fl)
    if mdn is not None:
        scaling(n, mdn, md)
    if opts.latency_at_half_rate:
        _half_rate(opts, tmp, sink, sink_port, mails, md, fl, mdn)


def _half_rate(opts, tmp, sink, sink_port, mails, md, fl, mdn) -> None:
    print("\nat half the measured end-to-end rate of each", flush=True)
    n = opts.instances
    md_half = measure("maildesk", opts, tmp, sink, sink_port, mails, rate=md.e2e_rate / 2)
    mdn_half = None
    if mdn is not None:
        rate = mdn.e2e_rate / 2
        mdn_half = measure("maildesk", opts, tmp, sink, sink_port, mails, rate, instances=n)
    fl_half = measure("floor", opts, tmp, sink, sink_port, mails, rate=fl.e2e_rate / 2)
    many = f", maildesk x{n} at {mdn.e2e_rate / 2:.1f}/s" if mdn is not None else ""
    print(f"maildesk paced at {md.e2e_rate / 2:.1f}/s, floor at {fl.e2e_rate / 2:.1f}/s{many}")
    report("maildesk @ half", md_half)
    if mdn_half is not None:
        report(f"maildesk x{n} @ half", mdn_half)
    report("floor @ half", fl_half)


def _cpu_model() -> str:
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


if __name__ == "__main__":
    raise SystemExit(main())
