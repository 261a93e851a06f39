"""Seeded mutational fuzzing of intake: hostile bytes into the spool, through the worker.

Each input is stored with `maildesk.store.spool.store` and processed by the `Worker` that
`maildesk.daemon.app.build` constructs, exactly as the daemon does with spooled mail, on a
throw-away database and configuration. The seeds are the stdlib's own `test_email` sample
files plus a few support mails; the mutations are the ways real mail goes wrong (flipped
bytes, duplicated or cut headers, broken boundaries, wrong charsets, deep nesting, CR/LF in
headers, huge lines). A crash is anything that is not a decision:

- an exception escaping `store` or `Worker.process`;
- a spool row left `received` (the worker caught an exception and scheduled a retry), or
  done without an outcome, or quarantined without a reason;
- a quarantine whose reason is an internal error: the worker writes
  `<ExceptionType>: <message>` (after one attempt; `processing failed N times: …` after
  N), and only `Unprocessable` (the
  limits of `maildesk.inbound.parse`) is a decision; any other type is a fault;
- `store` or `Worker.process` taking longer than the time budget (`--budget`, 2 s);
- a notification that could not be rendered (kept `dead`), or whose bytes do not parse
  back to the header names a notification is composed with, each once, addressed to the
  one recipient it was queued for.

Run it by hand (see bench/README.md); tests/hostile/test_fuzz_short.py runs a short pass.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import logging
import os
import random
import re
import sys
import tempfile
import time
import traceback
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime, getaddresses
from pathlib import Path

from sqlalchemy import func, select

from maildesk import config as config_module
from maildesk.daemon.app import Services, build
from maildesk.store.models import inbound, outbox
from maildesk.store.spool import store

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday morning; each input 61 s later
SUPPORT, CONSULTING, STAFF = "support@help.example", "consulting@help.example", "cs@help.example"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
MAX_INPUT = 4 * 1024 * 1024  # far below the 25 MB SMTP limit; keeps a pass fast
SAVED_PER_SIGNATURE = 3  # the same fault found again is counted, not saved again
FINISHED = {"created", "appended", "ignored", "duplicate"}
_FAILED_RE = re.compile(
    r"^(?:processing failed \d+ times: )?(?P<type>[A-Za-z_][\w.]*): (?P<why>.*)"
)


# --- seeds ---------------------------------------------------------------------------------


def stdlib_samples() -> list[tuple[str, bytes]]:
    """Every file of the stdlib's test_email data folder ([] when the test package is absent)."""
    try:
        import test.test_email as samples
    except ImportError:
        return []
    folder = Path(samples.__file__).parent / "data"
    return [(f"stdlib:{p.name}", p.read_bytes()) for p in sorted(folder.iterdir()) if p.is_file()]


def support_samples() -> list[tuple[str, bytes]]:
    """Mail as customers and staff write it: requests, replies, HTML, a bounce, an auto-reply."""
    found = [
        (
            "support:request",
            _mail("Alice Dupont <alice@acme.ch>", "Erreur SwissDec pour M. Dupont"),
        ),
        ("support:reply", _mail("alice@acme.ch", "RE: [SUP-1] Erreur SwissDec", "Merci !")),
        ("support:encoded", _mail("Jürg Müller <jm@bäckerei.example>", "Lohnlauf März « Prime »")),
        ("support:staff", _mail(f"Consultant <{STAFF}>", "RE: [SUP-2] Patch 12.4.2", "Done.")),
        ("support:html", _html_mail()),
        ("support:nested", _nested_mail()),
        ("support:bounce", _bounce()),
        ("support:autoreply", _mail("bob@acme.ch", "Out of office", auto="auto-replied")),
    ]
    with contextlib.suppress(ImportError):  # bench/corpus.py, when run from bench/
        import corpus

        found += [(f"corpus:{m.index}", m.raw) for m in corpus.build(6, seed=8)]
    return found


def _mail(sender: str, subject: str, body: str = "", auto: str | None = None) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"], msg["To"], msg["Subject"] = sender, SUPPORT, subject
    msg["Date"] = format_datetime(START)
    msg["Message-ID"] = f"<seed-{zlib.crc32((sender + subject).encode()):08x}@acme.ch>"
    if auto:
        msg["Auto-Submitted"] = auto
    msg.set_content(
        body or "Bonjour,\n\nVersion : 12.4.1\nSociété : Acme SA\nTél. : 021 555 12 34\n"
    )
    return msg.as_bytes()


def _html_mail() -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"], msg["To"], msg["Subject"] = "carla@acme.ch", SUPPORT, "Écran figé à la paie"
    html = "<p>Bonjour <img src='http://x.example/p.gif'><script>x()</script></p>"
    msg.set_content(html, subtype="html")
    return msg.as_bytes()


def _nested_mail() -> bytes:
    inner = EmailMessage(policy=policy.SMTP)
    inner["From"], inner["Subject"] = "old@acme.ch", "Ancienne demande"
    inner.set_content("texte cité\n")
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"], msg["To"], msg["Subject"] = "dan@acme.ch", SUPPORT, "Facture TVA février"
    msg.set_content("Voir la pièce jointe.\n")
    msg.add_attachment(b"%PDF-1.4\n" + bytes(range(256)), maintype="application", subtype="pdf")
    msg.add_attachment(inner)
    return msg.as_bytes()


def _bounce() -> bytes:
    return (
        b"From: MAILER-DAEMON@mx.acme.ch\r\nTo: support@help.example\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="R"\r\n\r\n'
        b"--R\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        b"--R\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Final-Recipient: rfc822; gone@acme.ch\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"--R\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        b"Message-ID: <SUP-1.abc@help.example>\r\n--R--\r\n"
    )


# --- mutations -----------------------------------------------------------------------------


def _split(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """(header, separator, body) at the first blank line, CRLF or bare LF."""
    ends = [(i, s) for s in (b"\r\n\r\n", b"\n\n") if (i := raw.find(s)) >= 0]
    if not ends:
        return raw, b"", b""
    i, sep = min(ends)
    return raw[:i], sep, raw[i + len(sep) :]


def flip_bytes(rng: random.Random, raw: bytes) -> bytes:
    data = bytearray(raw or b"x")
    for _ in range(rng.randint(1, 16)):
        i = rng.randrange(len(data))
        data[i] = rng.choice((data[i] ^ (1 << rng.randrange(8)), rng.randrange(256), 0, 10, 13))
    return bytes(data)


def duplicate_header(rng: random.Random, raw: bytes) -> bytes:
    head, sep, body = _split(raw)
    lines = head.split(b"\n")
    i = rng.randrange(len(lines))
    copies = rng.choice((1, 2, 5, 50, 1200))
    copies = min(copies, 1 + MAX_INPUT // (len(lines[i]) + 1))  # a 4 MB line x 1200 is 5 GB
    return b"\n".join(lines[:i] + [lines[i]] * copies + lines[i:]) + sep + body


def truncate(rng: random.Random, raw: bytes) -> bytes:
    head, sep, body = _split(raw)
    how = rng.randrange(3)
    if how == 0 and head:  # one header line cut short, so it runs into the next one
        lines = head.split(b"\n")
        i = rng.randrange(len(lines))
        lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
        cut = b"".join(line + (b"\n" if j != i else b"") for j, line in enumerate(lines[:-1]))
        return cut + lines[-1] + sep + body
    if how == 1:  # the blank line between header and body lost
        return head + sep[: len(sep) // 2] + body
    return raw[: rng.randrange(len(raw) + 1)]  # the connection dropped mid-message


def tamper_boundary(rng: random.Random, raw: bytes) -> bytes:
    found = re.findall(rb'(?i)boundary\s*=\s*"?([^";\r\n]{1,200})', raw)
    if not found:
        ctype = b"Content-Type: multipart/mixed; boundary=" + rng.choice((b'""', b"x", b"-- --"))
        return ctype + b"\r\n" + raw
    b = rng.choice(found)
    at = rng.randrange(len(raw) + 1)
    tampered = (
        raw.replace(b"--" + b + b"--", b""),  # never closed
        raw.replace(b"--" + b, b"--" + b + b"x", rng.randint(1, 3)),  # delimiters off
        re.sub(rb'(?i)boundary\s*=\s*"?' + re.escape(b) + rb'"?', b'boundary=""', raw),
        raw.replace(b, rng.choice(found), 1),  # an inner part reuses another boundary
        raw[:at] + b"\r\n--" + b + b"\r\n" + raw[at:],  # an empty part anywhere
        raw.replace(b, b * 40),  # an absurdly long boundary
    )
    return rng.choice(tampered)


CHARSETS = (
    b"utf-8",
    b"us-ascii",
    b"iso-8859-1",
    b"utf-16",
    b"utf-7",
    b"x-bogus",
    b"",
    b"gb2312",
    b"shift_jis",
    b"koi8-r",
    b"cp1252",
    b'utf-8"; x="',
    b"unknown-8bit",
)
ENCODINGS = (b"base64", b"quoted-printable", b"8bit", b"7bit", b"x-uuencode", b"binary", b"zz")


def swap_charset(rng: random.Random, raw: bytes) -> bytes:
    cs = rng.choice(CHARSETS)
    how = rng.randrange(3)
    if how == 0:
        return re.sub(rb'(?i)charset\s*=\s*"?[\w.:-]*"?', b"charset=" + cs, raw)
    if how == 1:
        return re.sub(rb"=\?[\w.*-]+\?", b"=?" + cs + b"?", raw)
    enc = rng.choice(ENCODINGS)
    if re.search(rb"(?i)content-transfer-encoding:", raw):
        return re.sub(rb"(?i)(content-transfer-encoding:)[ \t]*\S*", rb"\1 " + enc, raw)
    return b"Content-Transfer-Encoding: " + enc + b"\r\n" + raw


def nest(rng: random.Random, raw: bytes) -> bytes:
    """Wrapped in multipart or message/rfc822 levels, sometimes past the depth limit."""
    depth = rng.choice((1, 1, 2, 3, 10, 49, 52))
    for level in range(depth):
        if rng.random() < 0.5:
            b = b"nest%d" % level
            raw = (
                b"From: nest@acme.ch\r\nTo: support@help.example\r\nSubject: level %d\r\n" % level
                + b'Content-Type: multipart/mixed; boundary="'
                + b
                + b'"\r\n\r\n--'
                + b
                + b"\r\nContent-Type: message/rfc822\r\n\r\n"
                + raw
                + b"\r\n--"
                + b
                + b"--\r\n"
            )
        else:
            raw = b"From: fwd@acme.ch\r\nSubject: Fwd\r\nContent-Type: message/rfc822\r\n\r\n" + raw
    return raw


INJECTIONS = (
    b"\r\nBcc: victim@evil.example",
    b"\nX-Injected: yes",
    b"\r",
    b"\r\n\r\n<html>injected body",
    b"=?utf-8?q?x=0D=0ABcc:_evil@evil.example?=",
    b"=?utf-8?b?" + base64.b64encode(b"a\r\nBcc: evil@evil.example") + b"?=",
    b"\x00",
    "\u2028Bcc: e@evil.example".encode(),
    b"\r\n To: evil@evil.example",
)
TARGETS = (b"Subject", b"From", b"To", b"Reply-To", b"Message-ID", b"In-Reply-To", b"References")


def inject_crlf(rng: random.Random, raw: bytes) -> bytes:
    """CR/LF (raw or encoded) inside a header value, where notifications reflect it."""
    name, payload = rng.choice(TARGETS), rng.choice(INJECTIONS)
    match = re.search(rb"(?im)^" + name + rb":[^\r\n]*", raw)
    if match is None:
        return name + b": Alice " + payload + b" <alice@acme.ch>\r\n" + raw
    at = rng.randint(match.start() + len(name) + 1, match.end())
    return raw[:at] + payload + raw[at:]


def huge_line(rng: random.Random, raw: bytes) -> bytes:
    size = rng.choice((10_000, 100_000, 1_000_000, 3_000_000))
    filler = rng.choice((b"a", b"=", b" ", b"\t", b"<", b"\xe9", b";", b"=?utf-8?q?a?= "))
    line = (filler * (size // len(filler) + 1))[:size]
    head, sep, body = _split(raw)
    how = rng.randrange(4)
    if how == 0:
        return re.sub(rb"(?im)^(subject:)", lambda m: m.group(1) + b" " + line, raw, count=1)
    if how == 1:
        return head + b"\r\nX-Long: " + line + (sep or b"\r\n\r\n") + body
    if how == 2:
        return head + (sep or b"\r\n\r\n") + line + b"\r\n" + body
    folded = b"\r\n ".join([b"x"] * (size // 40))  # one header of many continuation lines
    return head + b"\r\nX-Folded: " + folded + (sep or b"\r\n\r\n") + body


def line_endings(rng: random.Random, raw: bytes) -> bytes:
    how = rng.randrange(3)
    if how == 0:
        return raw.replace(b"\r\n", b"\n")
    if how == 1:
        return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r")
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n", rng.randint(1, 20))


def odd_ids(rng: random.Random, raw: bytes) -> bytes:
    """Message-ID, In-Reply-To and References that strain threading and the unique keys."""
    header = rng.choice(
        (
            b"Message-ID: <" + b"m" * 600 + b"@acme.ch>",
            b"References: " + b" ".join(b"<r%d@x.example>" % i for i in range(5000)),
            b"In-Reply-To: <SUP-1.00000000.deadbeef@help.example>",
            b"Message-ID: <seed@acme.ch>",
            b"Message-ID: <>",
            b"In-Reply-To: <a@b> <c@d> garbage <<e@f>>",
        )
    )
    return header + b"\r\n" + raw


def retag(rng: random.Random, raw: bytes) -> bytes:
    """A reply's subject tag naming some ticket, which may or may not exist or be theirs."""
    tag = b"RE: [%s-%d] " % (rng.choice((b"SUP", b"CON", b"sup", b"XYZ")), rng.randint(1, 200))
    if re.search(rb"(?im)^subject:", raw):
        return re.sub(rb"(?im)^(subject:)[ \t]*", lambda m: m.group(1) + b" " + tag, raw, count=1)
    return b"Subject: " + tag + b"\r\n" + raw


Mutation = Callable[[random.Random, bytes], bytes]
MUTATIONS: dict[str, Mutation] = {
    "flip": flip_bytes,
    "duplicate-header": duplicate_header,
    "truncate": truncate,
    "boundary": tamper_boundary,
    "charset": swap_charset,
    "nest": nest,
    "crlf": inject_crlf,
    "huge-line": huge_line,
    "line-endings": line_endings,
    "ids": odd_ids,
    "retag": retag,
}


def mutate(rng: random.Random, seeds: list[tuple[str, bytes]]) -> tuple[bytes, list[str]]:
    """One input: a seed (or two spliced), then one to three mutations; what was done."""
    name, raw = rng.choice(seeds)
    steps = [name]
    if rng.random() < 0.1:
        other, extra = rng.choice(seeds)
        raw = _split(raw)[0] + b"\r\n\r\n" + _split(extra)[2]
        steps.append(f"splice:{other}")
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(tuple(MUTATIONS))
        raw = MUTATIONS[kind](rng, raw)[:MAX_INPUT]
        steps.append(kind)
    return raw, steps


def envelope(rng: random.Random, raw: bytes) -> tuple[str, str, tuple[str, ...]]:
    """(source, envelope sender, recipients): as the SMTP listener or `ingest` would store it."""
    rcpt = rng.choice(((SUPPORT,), (SUPPORT,), (CONSULTING,), (), (SUPPORT, CONSULTING)))
    if rng.random() < 0.5:
        return "ingest", "", rcpt
    found = re.search(rb"(?im)^from:[^\r\n]*?([\w.+-]+@[\w.-]+)", raw)
    sender = found.group(1).decode("ascii", "replace") if found else ""
    mail_from = rng.choices((sender, "", "bounces@lists.example"), (8, 1, 1))[0]
    return "smtp", mail_from, rcpt or (SUPPORT,)


# --- one input through the pipeline --------------------------------------------------------


@dataclass(frozen=True)
class Crash:
    index: int
    kind: str
    detail: str
    signature: str
    path: Path | None = None


@dataclass
class Report:
    inputs: int = 0
    seconds: float = 0.0
    seeds: int = 0
    slowest: float = 0.0
    outcomes: Counter = field(default_factory=Counter)
    crashes: list[Crash] = field(default_factory=list)
    out: Path | None = None

    @property
    def rate(self) -> float:
        return self.inputs / self.seconds if self.seconds else 0.0


class Pipeline:
    """The desk under test, and the checks every input's results must pass."""

    def __init__(self, services: Services, budget: float) -> None:
        self.services = services
        self.budget = budget
        self.last_outbox = self._outbox_high_water()

    def feed(self, raw: bytes, source: str, sender: str, rcpt: tuple[str, ...], now: datetime):
        """(outcome key, problems as (kind, detail, signature), seconds of the slower step)."""
        worker = self.services.worker
        try:
            stored, t_store = _timed(
                lambda: store(
                    self.services.spool,
                    raw,
                    source=source,
                    now=now,
                    mail_from=sender,
                    rcpt_tos=rcpt,
                )
            )
            result, t_process = _timed(lambda: worker.process(stored, now))
        except Exception as exc:  # noqa: BLE001 - that is the finding
            return "exception", [_exception(exc)], 0.0
        problems = self._slow(("store", t_store), ("process", t_process))
        problems += self._row(stored)
        problems += self._notifications()
        return _outcome_key(result.outcome, result.reason), problems, max(t_store, t_process)

    def _slow(self, *steps: tuple[str, float]) -> list[tuple[str, str, str]]:
        return [
            ("slow", f"{step} took {seconds:.2f} s (budget {self.budget:g} s)", f"slow:{step}")
            for step, seconds in steps
            if seconds > self.budget
        ]

    def _row(self, inbound_id: int) -> list[tuple[str, str, str]]:
        """The spool row must be done with an outcome, or quarantined for a decision."""
        with self.services.engine.connect() as conn:
            row = conn.execute(select(inbound).where(inbound.c.id == inbound_id)).one()
        if row.status == "done" and row.outcome in FINISHED:
            return []
        if row.status == "quarantined":
            failed = _FAILED_RE.match(row.reason or "")
            if not row.reason:
                return [("no-reason", "quarantined without a reason", "no-reason")]
            if failed is None or failed["type"] != "Unprocessable":
                return [("internal-error", _error_detail(row), _signature(row.last_error))]
            return []
        if row.status == "received":  # the worker caught an exception and will retry
            return [("internal-error", _error_detail(row), _signature(row.last_error))]
        detail = f"status {row.status!r}, outcome {row.outcome!r}"
        return [("unfinished", detail, f"unfinished:{row.status}")]

    def _notifications(self) -> list[tuple[str, str, str]]:
        with self.services.engine.connect() as conn:
            rows = conn.execute(
                select(outbox).where(outbox.c.id > self.last_outbox).order_by(outbox.c.id)
            ).all()
        problems = []
        for row in rows:
            self.last_outbox = max(self.last_outbox, row.id)
            if row.status == "dead":
                problems.append(("notification-dead", row.last_error or "", "dead:" + row.template))
                continue
            wrong = header_problem(row.raw, row.recipient)
            if wrong:
                problems.append(("notification-headers", wrong, "headers:" + wrong[:40]))
        return problems

    def _outbox_high_water(self) -> int:
        with self.services.engine.connect() as conn:
            return conn.execute(select(func.coalesce(func.max(outbox.c.id), 0))).scalar_one()


# The header fields `maildesk.outbound.compose` writes; each at most once.
NOTIFICATION_HEADERS = {
    "from",
    "to",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "auto-submitted",
    "x-auto-response-suppress",
    "precedence",
    "x-maildesk-loop",
    "content-type",
    "content-transfer-encoding",
    "mime-version",
    "content-language",
}
REQUIRED_HEADERS = {"from", "to", "subject", "date", "message-id", "content-type", "mime-version"}


def header_problem(raw: bytes, recipient: str) -> str | None:
    """Why a notification's bytes do not parse back as composed, or None when they do."""
    loose = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
    strict = BytesHeaderParser(policy=policy.default).parsebytes(raw)
    names = [n.lower() for n in loose.keys()]  # noqa: SIM118 - the names, repeats included
    if names != [n.lower() for n in strict.keys()]:  # noqa: SIM118
        return "the two header parsers read different header names"
    repeated = sorted({n for n in names if names.count(n) > 1})
    unknown = sorted(set(names) - NOTIFICATION_HEADERS)
    missing = sorted(REQUIRED_HEADERS - set(names))
    if repeated or unknown or missing:
        return f"repeated {repeated}, unexpected {unknown}, missing {missing}"
    if loose.defects:
        return "header defects: " + ", ".join(type(d).__name__ for d in loose.defects)
    to = [addr.lower() for _name, addr in getaddresses(loose.get_all("to", []))]
    if to != [recipient.lower()]:
        return f"To names {len(to)} address(es), not only the recipient"
    return None


def _timed(call: Callable[[], object]) -> tuple:
    started = time.perf_counter()
    value = call()
    return value, time.perf_counter() - started


def _exception(exc: BaseException) -> tuple[str, str, str]:
    text = "".join(traceback.format_exception(exc))
    return "exception", text[-4000:], _signature(text)


def _signature(trace: str | None) -> str:
    """Exception type and innermost frame: the same fault found twice is one finding."""
    lines = (trace or "").strip().splitlines()
    frames = [line.strip() for line in lines if line.strip().startswith("File ")]
    last = lines[-1].split(":")[0] if lines else "?"
    return f"{last} at {frames[-1] if frames else '?'}"


def _error_detail(row) -> str:
    return f"status {row.status}, reason {row.reason!r}\n{(row.last_error or '')[-3000:]}"


def _outcome_key(outcome: str, reason: str | None) -> str:
    if outcome != "quarantined":
        return outcome
    failed = _FAILED_RE.match(reason or "")
    return f"quarantined: {failed['why'][:80] if failed else reason}"


# --- the run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    seed: int = 1
    db: str = "sqlite"
    minutes: float | None = None
    max_inputs: int | None = None
    budget: float = 2.0
    out: Path | None = None
    replay: tuple[Path, ...] = ()


@contextlib.contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A fresh database: a SQLite file in `folder`, or a PostgreSQL one dropped at the end."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'fuzz.db'}"
        return
    import psycopg

    name = f"maildesk_fuzz_{os.getpid()}"  # never test, root or postgres
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def desk_config(url: str, folder: Path) -> config_module.Config:
    return config_module.from_mapping(
        {
            "database": {"url": url},
            "outbound": {"pickup_dir": str(folder / "outbox"), "message_id_secret": "f" * 64},
            "queues": [
                {"name": "support", "key_prefix": "SUP", "addresses": [SUPPORT]},
                {"name": "consulting", "key_prefix": "CON", "addresses": [CONSULTING]},
            ],
            "staff": {"addresses": [STAFF]},
        }
    )


def run(options: Options) -> Report:
    """Fuzz until the time or input count is reached; crashes are saved under `out`."""
    out = options.out or Path(tempfile.mkdtemp(prefix="maildesk-fuzz-"))
    out.mkdir(parents=True, exist_ok=True)
    seeds = stdlib_samples() + support_samples()
    report = Report(seeds=len(seeds), out=out)
    with (
        tempfile.TemporaryDirectory(prefix="maildesk-fuzz-desk-") as tmp,
        database(options.db, Path(tmp)) as url,
    ):
        services = build(desk_config(url, Path(tmp)))
        try:
            _loop(Pipeline(services, options.budget), options, seeds, report)
        finally:
            services.dispose()
    return report


def _inputs(options: Options, seeds: list[tuple[str, bytes]]) -> Iterator[tuple]:
    """(index, raw, steps, rng) until the deadline or count; replayed files are not mutated."""
    if options.replay:
        for index, path in enumerate(options.replay):
            rng = random.Random(index)  # noqa: S311 - only picks the envelope
            yield index, path.read_bytes(), [f"replay:{path.name}"], rng
        return
    deadline = time.monotonic() + options.minutes * 60 if options.minutes else None
    index = 0
    while (options.max_inputs is None or index < options.max_inputs) and (
        deadline is None or time.monotonic() < deadline
    ):
        rng = random.Random(f"{options.seed}:{index}")  # noqa: S311 - reproducible, not secret
        raw, steps = mutate(rng, seeds)
        yield index, raw, steps, rng
        index += 1


def _loop(pipeline: Pipeline, options: Options, seeds, report: Report) -> None:
    saved: Counter = Counter()
    started = time.monotonic()
    for index, raw, steps, rng in _inputs(options, seeds):
        source, sender, rcpt = envelope(rng, raw)
        now = START + timedelta(seconds=61 * index)
        outcome, problems, slowest = pipeline.feed(raw, source, sender, rcpt, now)
        report.inputs += 1
        report.outcomes[outcome] += 1
        report.slowest = max(report.slowest, slowest)
        for kind, detail, signature in problems:
            path = None
            if saved[signature] < SAVED_PER_SIGNATURE:
                saved[signature] += 1
                path = _save(report.out, index, kind, raw, steps, detail, options.seed)
            report.crashes.append(Crash(index, kind, detail, signature, path))
    report.seconds = time.monotonic() - started


def _save(out: Path, index: int, kind: str, raw: bytes, steps, detail: str, seed: int) -> Path:
    path = out / f"crash-{index:06d}-{kind}.eml"
    path.write_bytes(raw)
    note = f"seed {seed}, input {index}\nsteps: {' '.join(steps)}\nkind: {kind}\n\n{detail}\n"
    path.with_suffix(".txt").write_text(note, encoding="utf-8")
    return path


def summary(report: Report, options: Options) -> str:
    lines = [
        f"inputs run: {report.inputs} in {report.seconds:.1f} s ({report.rate:.1f} inputs/s), "
        f"seed {options.seed}, db {options.db}, {report.seeds} seed files, "
        f"slowest step {report.slowest:.2f} s",
        "outcomes:",
    ]
    lines += [f"  {n:7d}  {key}" for key, n in sorted(report.outcomes.items(), key=lambda i: -i[1])]
    kinds = Counter(c.signature for c in report.crashes)
    lines.append(f"crashes found: {len(report.crashes)} ({len(kinds)} distinct)")
    for signature, n in kinds.most_common():
        first = next(c for c in report.crashes if c.signature == signature)
        lines.append(f"  {n:5d}x {first.kind}: {signature}")
        lines.append(f"         first input: {first.path or '(not saved)'}")
    lines.append(f"output: {report.out}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, help="how long to fuzz (default 1)")
    parser.add_argument("--inputs", type=int, help="stop after this many inputs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--budget", type=float, default=2.0, help="seconds per step (2)")
    parser.add_argument("--out", type=Path, help="where crashing inputs go (a new temp dir)")
    parser.add_argument("--replay", type=Path, nargs="+", default=(), help="run saved inputs")
    args = parser.parse_args(argv)
    minutes = args.minutes if args.minutes or args.inputs or args.replay else 1.0
    return Options(
        args.seed, args.db, minutes, args.inputs, args.budget, args.out, tuple(args.replay)
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    logging.getLogger("maildesk").setLevel(logging.CRITICAL)  # decisions are counted, not logged
    report = run(options)
    print(summary(report, options))
    return 1 if report.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
