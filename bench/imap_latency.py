"""Measure how long `maildesk run` takes from a request landing in an IMAP folder to its ack.

Starts the daemon as a separate process on a throw-away SQLite database, watching one
folder of the test Dovecot (`bash .ci/dovecot.sh`) with IDLE, and relaying its mail to an
SMTP sink run by this script. It then APPENDs --count distinct new requests one by one:
each waits until its acknowledgement reached the sink and the message left the folder
before the next is appended. For each it measures, from APPEND returning:

  maildesk  the time until the ack arrives at the sink;
  dovecot   the time until a second, independent IMAP connection in IDLE on the same
            folder sees the EXISTS (the server's own push delay, which maildesk also waits for).

Each APPEND follows an ack at once, so it meets the daemon just after a send pass: its
ack waits for the next one (up to `[processing] poll_seconds`, left at its default).

It prints the median and p99 (nearest rank) of both and their difference: maildesk's own
cost. It only talks to 127.0.0.1, stops after --timeout seconds whatever happens, and
always stops the daemon and removes its folders. Do not run it alongside the IMAP tests:
they empty the test users' folders.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path

from aiosmtpd.controller import Controller
from imapclient import IMAPClient

ROOT = Path(__file__).resolve().parents[1]
QUEUE_ADDRESS = "support@help.example"


@dataclass(frozen=True)
class Options:
    count: int
    timeout: float
    host: str
    port: int
    user: str
    password: str
    folder: str

    @property
    def processed(self) -> str:
        return f"{self.folder}-Processed"

    @property
    def quarantine(self) -> str:
        return f"{self.folder}-Quarantine"


@dataclass
class Timings:
    maildesk: list[float] = field(default_factory=list)
    dovecot: list[float] = field(default_factory=list)
    early_exists: int = 0  # EXISTS seen before APPEND returned (negative delay)


class BenchTimeout(Exception):
    """The global time limit ran out."""


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100, help="requests to append (100)")
    parser.add_argument(
        "--timeout", type=float, default=600, help="global limit in seconds, start-up included"
    )
    parser.add_argument("--host", default="127.0.0.1", help="Dovecot host (127.0.0.1)")
    parser.add_argument("--port", type=int, default=10143, help="Dovecot port (10143)")
    parser.add_argument("--user", default="desk2", help="IMAP user (desk2)")
    parser.add_argument("--password", default="secret", help="its password (secret)")
    parser.add_argument(
        "--folder", default="Bench", help="folder watched; it and <folder>-Processed are recreated"
    )
    args = parser.parse_args(argv)
    if args.count < 1 or args.timeout <= 0:
        parser.error("--count and --timeout must be positive")
    return Options(**vars(args))


class Sink:
    """An SMTP relay on 127.0.0.1 that notes when each mail arrived and what it answers."""

    def __init__(self) -> None:
        self.arrivals: queue.Queue[tuple[float, tuple[str, ...], str]] = queue.Queue()
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, _server: object, _session: object, envelope: object) -> str:
        arrived = time.monotonic()
        headers = BytesHeaderParser().parsebytes(envelope.original_content or envelope.content)
        answers = str(headers.get("In-Reply-To", "")).strip()
        self.arrivals.put((arrived, tuple(envelope.rcpt_tos), answers))
        return "250 2.0.0 OK: queued"


class Watcher(threading.Thread):
    """A second IMAP connection in IDLE on the folder: notes when each EXISTS arrives."""

    def __init__(self, options: Options) -> None:
        super().__init__(name="idle-watcher", daemon=True)
        self.client = login(options)
        self.client.select_folder(options.folder, readonly=True)
        self.exists: queue.Queue[float] = queue.Queue()
        self.stop = threading.Event()

    def run(self) -> None:
        self.client.idle()
        while not self.stop.is_set():
            for response in self.client.idle_check(timeout=0.2):
                if isinstance(response, tuple) and response[1:2] == (b"EXISTS",):
                    self.exists.put(time.monotonic())
        self.client.idle_done()

    def drain(self) -> None:
        while not self.exists.empty():
            self.exists.get_nowait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def login(options: Options) -> IMAPClient:
    client = IMAPClient(options.host, port=options.port, ssl=False, timeout=30)
    client.login(options.user, options.password)
    return client


def reset_folders(options: Options, create: bool) -> None:
    with login(options) as client:
        for name in (options.folder, options.processed, options.quarantine):
            if client.folder_exists(name):
                client.delete_folder(name)
        if create:
            client.create_folder(options.folder)


def write_config(directory: Path, options: Options, sink_port: int) -> Path:
    text = f"""
[database]
url = {json.dumps(f"sqlite:///{directory / 'maildesk.db'}")}
[smtp]
host = "127.0.0.1"
port = {free_port()}
[outbound]
host = "127.0.0.1"
port = {sink_port}
from_address = {json.dumps(QUEUE_ADDRESS)}
pickup_dir = {json.dumps(str(directory / "outbox"))}
[[queues]]
name = "support"
key_prefix = "SUP"
addresses = [{json.dumps(QUEUE_ADDRESS)}]
[staff]
addresses = ["consultant@help.example"]
[[imap]]
name = "bench"
host = {json.dumps(options.host)}
port = {options.port}
tls = "none"
username = {json.dumps(options.user)}
password = {json.dumps(options.password)}
folder = {json.dumps(options.folder)}
processed_folder = {json.dumps(options.processed)}
quarantine_folder = {json.dumps(options.quarantine)}
queue = "support"
idle = true
poll_seconds = 300
"""
    path = directory / "maildesk.toml"
    path.write_text(text, encoding="utf-8")
    return path


@contextmanager
def daemon(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m maildesk --config FILE run`, stopped with SIGTERM (then killed) at the end."""
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "maildesk", "--config", str(config), "run"],
            stdout=out,
            stderr=out,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)},
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def wait_connected(proc: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"maildesk exited {proc.returncode}:\n{tail(log)}")
        if "imap=bench" in (text := log.read_text(errors="replace")) and any(
            "imap=bench" in line and "action=connected" in line for line in text.splitlines()
        ):
            return
        time.sleep(0.05)
    raise BenchTimeout(f"maildesk did not connect to the mailbox in time:\n{tail(log)}")


def tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def request(number: int, run_id: str) -> tuple[bytes, str, str]:
    """A distinct, complete new request from its own customer: (raw, sender, Message-ID)."""
    sender = f"customer{number}@acme-bench.ch"
    message_id = f"<bench-{run_id}-{number}@acme-bench.ch>"
    msg = EmailMessage()
    msg["From"] = f"Client {number} <{sender}>"
    msg["To"] = QUEUE_ADDRESS
    msg["Subject"] = f"Erreur lors de la transmission SwissDec du décompte {number}"
    msg["Message-ID"] = message_id
    msg.set_content(
        "Bonjour,\n\nla transmission SwissDec échoue avec « Code 4711 ».\n\n"
        "Version : 12.4\nSociété : Acme SA\nContact : Alice Martin, +41 21 555 00 00\n"
    )
    return msg.as_bytes(), sender, message_id


def wait_ack(sink: Sink, sender: str, message_id: str, deadline: float) -> float:
    """When the acknowledgement of `message_id` reached the sink; other mail is skipped."""
    while (left := deadline - time.monotonic()) > 0:
        try:
            arrived, rcpt_tos, answers = sink.arrivals.get(timeout=left)
        except queue.Empty:
            break
        if sender in rcpt_tos and answers == message_id:
            return arrived
    raise BenchTimeout(f"no acknowledgement of {message_id} in time")


def wait_exists(watcher: Watcher, deadline: float) -> float:
    try:
        return watcher.exists.get(timeout=max(0.0, deadline - time.monotonic()))
    except queue.Empty:
        raise BenchTimeout("the IDLE watcher saw no EXISTS in time") from None


def wait_empty(client: IMAPClient, folder: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        if client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"] == 0:
            return
        time.sleep(0.01)
    raise BenchTimeout(f"maildesk did not move the message out of {folder} in time")


def measure(options: Options, sink: Sink, watcher: Watcher, deadline: float) -> Timings:
    timings = Timings()
    run_id = f"{os.getpid()}-{int(time.time())}"
    with login(options) as client:
        for number in range(options.count):
            raw, sender, message_id = request(number, run_id)
            watcher.drain()
            client.append(options.folder, raw)
            appended = time.monotonic()
            seen = wait_exists(watcher, deadline)
            timings.early_exists += seen < appended
            timings.dovecot.append(seen - appended)
            timings.maildesk.append(wait_ack(sink, sender, message_id, deadline) - appended)
            wait_empty(client, options.folder, deadline)
    return timings


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.99 * len(ordered)) - 1]


def report(timings: Timings) -> None:
    def ms(value: float) -> str:
        return f"{value * 1000:8.1f} ms"

    rows = (("maildesk (APPEND -> ack at sink)", timings.maildesk),)
    rows += (("dovecot  (APPEND -> EXISTS in IDLE)", timings.dovecot),)
    print(f"{len(timings.maildesk)} requests, appended one by one (each after the previous ack)")
    for name, values in rows:
        print(f"{name:38} median {ms(statistics.median(values))}  p99 {ms(p99(values))}")
    diff_median = statistics.median(timings.maildesk) - statistics.median(timings.dovecot)
    diff_p99 = p99(timings.maildesk) - p99(timings.dovecot)
    print(f"{'maildesk own cost (difference)':38} median {ms(diff_median)}  p99 {ms(diff_p99)}")
    if timings.early_exists:
        print(f"note: {timings.early_exists} EXISTS arrived before APPEND returned")


def run(options: Options) -> int:
    deadline = time.monotonic() + options.timeout
    reset_folders(options, create=True)
    sink = Sink()
    sink.controller.start()
    watcher: Watcher | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="maildesk-bench-") as tmp:
            directory = Path(tmp)
            config = write_config(directory, options, sink.controller.port)
            log = directory / "maildesk.log"
            with daemon(config, log) as proc:
                wait_connected(proc, log, deadline)
                watcher = Watcher(options)
                watcher.start()
                time.sleep(0.2)  # both connections settle into IDLE
                try:
                    timings = measure(options, sink, watcher, deadline)
                except BenchTimeout:
                    print(tail(log), file=sys.stderr)
                    raise
        report(timings)
        return 0
    finally:
        if watcher is not None:
            watcher.stop.set()
            watcher.join(5)
        sink.controller.stop()
        with suppress(Exception):
            reset_folders(options, create=False)


def _out_of_time(_signum: int, _frame: object) -> None:
    raise BenchTimeout("the global --timeout ran out")


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        with socket.create_connection((options.host, options.port), timeout=2):
            pass
    except OSError:
        print(f"no IMAP server on {options.host}:{options.port}: run `bash .ci/dovecot.sh`")
        return 2
    # Backstop for a call that hangs outside the deadline checks (e.g. a stuck IMAP command).
    signal.signal(signal.SIGALRM, _out_of_time)
    signal.alarm(math.ceil(options.timeout) + 30)
    try:
        return run(options)
    except BenchTimeout as exc:
        print(f"timed out: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
