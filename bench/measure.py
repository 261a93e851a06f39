"""Drive one pass of the corpus through a mail desk listening on SMTP, and measure it.

The corpus is split over K connections by sender (a reply always follows its request on
the same connection), the connections round-robin over the server's instances; each `250`
and each acknowledgement at the sink is timed on this process's monotonic clock, and the
CPU and peak memory of all instances are read from /proc. It measures only: it never
starts or configures the server under test.
"""

from __future__ import annotations

import math
import os
import smtplib
import threading
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from corpus import SUPPORT, Mail
from sink import SinkHandler

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class PassResult:
    messages: int
    acks_expected: int
    acks_matched: int
    extra_mails: int  # mails at the sink that answer no request of the corpus
    intake_rate: float  # 250s per second
    e2e_rate: float  # matched acks per second, from the first send to the last ack
    latency_median: float  # seconds, 250 -> ack at the sink
    latency_p99: float
    latency_max: float
    cpu_per_message: float  # seconds of user+sys of the server processes
    peak_rss_mb: float
    complete: bool
    # Resident memory (VmRSS, summed) once 10% and 50% of the corpus were accepted, and at the end:
    # a daemon that keeps something per message grows between the two.
    rss_at_tenth_mb: float = float("nan")
    rss_at_half_mb: float = float("nan")
    rss_at_end_mb: float = float("nan")
    # The same three samples per process ("main", "worker"): which one grows, if any.
    rss_by_process: tuple[tuple[str, float, float, float], ...] = ()
    # Per process, the mean resident memory in each quarter of the pass's duration (first
    # send to last ack, the drain of a backlog included): a plateau is four close figures
    # after the first, a daemon that keeps something per message rises quarter by quarter.
    rss_by_quarter: tuple[tuple[str, tuple[float, ...]], ...] = ()


def _tree(pid: int) -> list[int]:
    """The process and its children (maildesk forks its worker processes)."""
    found = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                found.append(int(entry))
    return found


def _cpu_of(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15)


def cpu_seconds(pids: Sequence[int]) -> float:
    """user+sys of the server instances, all threads and child processes, from /proc/PID/stat."""
    return sum(_cpu_of(p) for pid in pids for p in _tree(pid))


def peak_rss_mb(pids: Sequence[int]) -> float:
    """VmHWM (peak resident) summed over the server instances and their child processes."""
    return _status_mb(pids, "VmHWM:")


def _status_mb(pids: Sequence[int], field: str) -> float:
    total = sum(field_mb(p, field) for pid in pids for p in _tree(pid))
    return total or float("nan")


def field_mb(pid: int, field: str) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_by_process(pids: Sequence[int]) -> dict[str, float]:
    """VmRSS of each server process: `main` (or `main2`… per instance) and its `worker`s."""
    found: dict[str, float] = {}
    for i, pid in enumerate(pids):
        suffix = str(i + 1) if len(pids) > 1 else ""
        for j, p in enumerate(_tree(pid)):
            name = f"main{suffix}" if j == 0 else f"worker{suffix}" + (f".{j}" if j > 1 else "")
            found[name] = field_mb(p, "VmRSS:")
    return found


class MemoryWatch:
    """Samples each server process's resident memory every half second, with the progress."""

    def __init__(self, pids: Sequence[int], progress, total: int) -> None:
        self.pids, self.progress, self.total = pids, progress, total
        self.samples: list[tuple[float, int, dict[str, float]]] = []  # (monotonic, done, MB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def _sample(self) -> None:
        self.samples.append((time.monotonic(), self.progress(), rss_by_process(self.pids)))

    def at_share(self, share: float) -> dict[str, float]:
        """Per process, the first sample taken once `share` of the corpus was accepted."""
        wanted = self.total * share
        return next((mb for _at, done, mb in self.samples if done >= wanted), {})

    def at_end(self) -> dict[str, float]:
        return self.samples[-1][2] if self.samples else {}

    def by_quarter(self, start: float, end: float) -> dict[str, tuple[float, ...]]:
        """Per process, the mean of the samples in each quarter of [start, end]."""
        names = {name for _at, _done, mb in self.samples for name in mb}
        return {
            name: quarter_means(
                ((at, mb[name]) for at, _done, mb in self.samples if name in mb), start, end
            )
            for name in sorted(names)
        }


def quarter_means(
    samples: Iterable[tuple[float, float]], start: float, end: float
) -> tuple[float, ...]:
    """The mean of the (time, value) samples in each quarter of [start, end] (NaN if none)."""
    quarters: list[list[float]] = [[], [], [], []]
    span = max(end - start, 1e-9)
    for at, value in samples:
        if start <= at <= end:
            quarters[min(int(4 * (at - start) / span), 3)].append(value)
    return tuple(sum(q) / len(q) if q else math.nan for q in quarters)


def _total(by_process: dict[str, float]) -> float:
    return sum(by_process.values()) if by_process else float("nan")


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `share` of them at or below."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
                smtp.noop()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing answers SMTP on 127.0.0.1:{port} after {timeout:.0f}s")


def split(mails: list[Mail], connections: int) -> list[list[Mail]]:
    lanes: list[list[Mail]] = [[] for _ in range(connections)]
    for mail in mails:
        lanes[zlib.crc32(mail.sender.encode()) % connections].append(mail)
    return lanes


def _send_lane(port: int, lane: list[Mail], start: float, rate: float | None, out: dict) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as smtp:
        for mail in lane:
            if rate:  # paced: message i leaves at start + i / rate, or as soon as possible
                delay = start + mail.index / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            smtp.sendmail(mail.sender, [SUPPORT], mail.raw)
            out[mail.message_id] = time.monotonic()


def run_pass(
    ports: Sequence[int],
    pids: Sequence[int],
    sink: SinkHandler,
    mails: list[Mail],
    connections: int,
    rate: float | None = None,
    timeout: float = 1800.0,
) -> PassResult:
    """One pass; connection i goes to instance i mod N (`ports`), `pids` are the instances."""
    sink.reset()
    accepted: dict[str, float] = {}
    cpu_before = cpu_seconds(pids)
    start = time.monotonic()
    threads = [
        threading.Thread(
            target=_send_lane, args=(ports[i % len(ports)], lane, start, rate, accepted)
        )
        for i, lane in enumerate(split(mails, connections))
    ]
    wanted = {m.message_id for m in mails if not m.is_reply}
    with MemoryWatch(pids, lambda: len(accepted), len(mails)) as memory:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        intake_end = time.monotonic()
        complete = sink.wait_for(wanted, timeout) and len(accepted) == len(mails)
        time.sleep(0.5)  # let a stray extra mail arrive, so it is counted
    cpu = cpu_seconds(pids) - cpu_before
    result = _result(mails, accepted, sink, wanted, start, intake_end, cpu, pids, complete)
    tenth, half, end = memory.at_share(0.1), memory.at_share(0.5), memory.at_end()
    last_ack = max((a.at for a in sink.snapshot()), default=time.monotonic())
    quarters = memory.by_quarter(start, last_ack)
    return replace(
        result,
        rss_at_tenth_mb=_total(tenth),
        rss_at_half_mb=_total(half),
        rss_at_end_mb=_total(end),
        rss_by_process=tuple(
            (name, tenth.get(name, math.nan), half.get(name, math.nan), mb)
            for name, mb in end.items()
        ),
        rss_by_quarter=tuple(quarters.items()),
    )


def _result(mails, accepted, sink, wanted, start, intake_end, cpu, pids, complete) -> PassResult:
    arrivals = sink.snapshot()
    first_ack: dict[str, float] = {}
    for a in arrivals:
        if a.in_reply_to in wanted and a.in_reply_to not in first_ack:
            first_ack[a.in_reply_to] = a.at
    latencies = [first_ack[m] - accepted[m] for m in first_ack if m in accepted]
    last_ack = max(first_ack.values(), default=start)
    return PassResult(
        messages=len(mails),
        acks_expected=len(wanted),
        acks_matched=len(first_ack),
        extra_mails=len(arrivals) - len(first_ack),
        intake_rate=len(accepted) / (intake_end - start),
        e2e_rate=len(first_ack) / (last_ack - start) if first_ack else 0.0,
        latency_median=percentile(latencies, 0.5),
        latency_p99=percentile(latencies, 0.99),
        latency_max=max(latencies, default=float("nan")),
        cpu_per_message=cpu / len(mails),
        peak_rss_mb=peak_rss_mb(pids),
        complete=complete,
    )
