"""A session-wide watch: no test password may reach a log line, an SMTP reply or a daemon log.

A password leaks through whatever path happens to print it (an error message quoting a URL,
a repr of a config object, a reply echoing a command), so one test cannot prove its absence;
this plugin watches every test of the session instead. It records:

- every log record created in this process, whichever logger made it and wherever its
  handlers send it: a record factory, not a root handler, because `maildesk.logs.setup`
  (called by the in-process CLI tests) stops the `maildesk` logger from propagating to the
  root. The `maildesk` logger is set to DEBUG for the session when nothing set its level,
  so what an admin running `--log-level DEBUG` would see is watched too;
- every reply an aiosmtpd server in this process sends (`SMTP.push` observed, then called);
- every `*.log` file under the session's temporary directory, read at the end: the daemons
  of tests/integration/daemon.py and tests/cluster/fleet.py write their output there.

The secrets are the passwords the tests give: each `password` of an `[[imap]]` table, the
relay's `[outbound] password`, and each password in a `database.url` of every `*.toml`
under the session's temporary directory
(every daemon and CLI test writes its configuration there), the Dovecot password of
tests/integration/dovecot.py, and whatever a test registers with the `secret_watch`
fixture. A distinctive secret is searched for everywhere, as is (and in base64, the form
SASL sends it in). A word such as Dovecot's `secret` also names harmless things
(`message_id_secret`, "the secret that signs our Message-IDs"), so a short or
all-lower-case-letters secret is searched for only where a credential would stand:
`password=…`/`pass: …`, the user-info of a URL (`://user:…@`), an IMAP `LOGIN user …`, or a
base64 SASL blob ending in `\\0…`.

At the end of the session a finding fails the run (exit status 1) and the summary says
where each one was, with the secret itself masked.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import re
import threading
import tomllib
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

MAX_TEXT = 100_000  # of one record or reply; a secret is never that far in
MAX_FILE = 50 * 1024 * 1024
_B64_RE = re.compile(r"[A-Za-z0-9+/]{8,}={0,2}")


@dataclass(frozen=True)
class Seen:
    channel: str  # log | smtp-reply | log-file
    where: str  # the logger, the server's handler, the file
    text: str


@dataclass(frozen=True)
class Finding:
    seen: Seen
    secret: str

    def describe(self) -> str:
        start = max(0, _first_index(self.seen.text, self.secret) - 80)
        excerpt = self.seen.text[start : start + 240].replace(self.secret, "<SECRET>")
        excerpt = excerpt.replace("\n", "\\n")
        return f"{self.seen.channel} {self.seen.where}: ...{excerpt}..."


def is_weak(secret: str) -> bool:
    """A secret that is also an ordinary word: only looked for where a credential stands."""
    return len(secret) < 10 or (secret.isalpha() and secret.islower())


def _weak_patterns(secret: str) -> list[re.Pattern[str]]:
    word = re.escape(secret)
    end = r"(?![\w.-])"
    return [
        re.compile(
            r"(?i)\b(?:password|passwd|pwd|pass|token|credentials?)\b[\"']?\s*[:=]\s*[\"']?"
            + word
            + end
        ),
        re.compile(r"://[^\s/@:]*:" + word + "@"),
        re.compile(r"(?i)\bLOGIN\s+\"?[^\s\"]+\"?\s+\"?" + word + end),
    ]


def _in_base64(text: str, secret: str, *, weak: bool) -> bool:
    """A SASL blob (`\\0user\\0password`, or the password alone for AUTH LOGIN)."""
    wanted = secret.encode()
    for token in _B64_RE.findall(text):
        try:
            decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        if decoded == wanted or decoded.endswith(b"\0" + wanted):
            return True
        if not weak and wanted in decoded:
            return True
    return False


def contains(text: str, secret: str) -> bool:
    """Whether `text` shows `secret` (see the module docstring for how weak ones are sought)."""
    if not secret:
        return False
    weak = is_weak(secret)
    if not weak and secret in text:
        return True
    if weak and any(p.search(text) for p in _weak_patterns(secret)):
        return True
    return _in_base64(text, secret, weak=weak)


def _first_index(text: str, secret: str) -> int:
    found = text.find(secret)
    return found if found >= 0 else 0


def find(seen: Iterable[Seen], secrets: Iterable[str]) -> list[Finding]:
    wanted = sorted({s for s in secrets if s})
    return [Finding(item, s) for item in seen for s in wanted if contains(item.text, s)]


def secrets_in_configs(folder: Path) -> set[str]:
    """Passwords of every `*.toml` under `folder`: `[[imap]]` ones and database URLs'."""
    found: set[str] = set()
    for path in folder.rglob("*.toml"):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        found |= _config_secrets(data)
    return found


def _config_secrets(data: dict) -> set[str]:
    found = set()
    imap = data.get("imap")
    for account in imap if isinstance(imap, list) else ():
        if isinstance(account, dict) and isinstance(account.get("password"), str):
            found.add(account["password"])
    outbound = data.get("outbound")
    if isinstance(outbound, dict) and isinstance(outbound.get("password"), str):
        found.add(outbound["password"])  # the relay's SMTP AUTH password
    database = data.get("database")
    url = database.get("url") if isinstance(database, dict) else None
    if isinstance(url, str):
        try:
            password = make_url(url).password
        except Exception:  # an invalid URL is some test's point
            password = None
        if password:
            found.add(str(password))
    return found


def log_files(folder: Path) -> Iterator[Seen]:
    for path in sorted(folder.rglob("*.log")):
        try:
            with path.open("rb") as handle:
                text = handle.read(MAX_FILE).decode("utf-8", "replace")
        except OSError:
            continue
        yield Seen("log-file", str(path), text)


def known_test_secrets() -> set[str]:
    """Passwords the test helpers hard-code (the Dovecot users')."""
    try:
        from tests.integration.dovecot import PASSWORD
    except ImportError:
        return set()
    return {PASSWORD}


@dataclass
class Watch:
    """What this session showed: log records and SMTP replies, kept until the end."""

    seen: list[Seen] = field(default_factory=list)
    registered: set[str] = field(default_factory=set)
    basetemp: Path | None = None
    findings: list[Finding] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, secret: str) -> str:
        """A secret this session must never show; returned for convenience."""
        self.registered.add(secret)
        return secret

    def record(self, channel: str, where: str, text: str) -> None:
        with self._lock:
            self.seen.append(Seen(channel, where, text[:MAX_TEXT]))

    def since(self, mark: int) -> list[Seen]:
        return self.seen[mark:]

    def secrets(self) -> set[str]:
        found = self.registered | known_test_secrets()
        if self.basetemp is not None and self.basetemp.exists():
            found |= secrets_in_configs(self.basetemp)
        return found

    def everything(self) -> list[Seen]:
        files = list(log_files(self.basetemp)) if self.basetemp and self.basetemp.exists() else []
        return [*self.seen, *files]


WATCH = pytest.StashKey[Watch]()
_UNDO = pytest.StashKey[list]()


def _formatted(record: logging.LogRecord) -> str:
    try:
        text = record.getMessage()
    except Exception:  # a broken record still shows its raw parts
        text = f"{record.msg!r} % {record.args!r}"
    if record.exc_info and record.exc_info[1] is not None:
        text += "\n" + "".join(traceback.format_exception(record.exc_info[1]))
    if record.stack_info:
        text += "\n" + record.stack_info
    return text


def _watch_log_records(watch: Watch) -> Callable[[], None]:
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        watch.record("log", f"{record.name} {record.levelname}", _formatted(record))
        return record

    logging.setLogRecordFactory(factory)
    return lambda: logging.setLogRecordFactory(previous)


def _watch_smtp_replies(watch: Watch) -> Callable[[], None]:
    from aiosmtpd.smtp import SMTP

    original = SMTP.push

    @functools.wraps(original)
    async def push(self, status):
        text = status.decode("utf-8", "replace") if isinstance(status, bytes) else str(status)
        watch.record("smtp-reply", type(self.event_handler).__name__, text)
        return await original(self, status)

    SMTP.push = push
    return lambda: setattr(SMTP, "push", original)


def _maildesk_logs_at_debug() -> Callable[[], None]:
    logger = logging.getLogger("maildesk")
    if logger.level != logging.NOTSET:
        return lambda: None
    logger.setLevel(logging.DEBUG)
    return lambda: logger.setLevel(logging.NOTSET)


def pytest_configure(config: pytest.Config) -> None:
    watch = Watch()
    config.stash[WATCH] = watch
    config.stash[_UNDO] = [
        _watch_log_records(watch),
        _watch_smtp_replies(watch),
        _maildesk_logs_at_debug(),
    ]


def pytest_unconfigure(config: pytest.Config) -> None:
    for undo in reversed(config.stash.get(_UNDO, [])):
        undo()


@pytest.fixture(scope="session", autouse=True)
def _secret_watch_basetemp(request: pytest.FixtureRequest, tmp_path_factory) -> None:
    """Where this session's daemons write their logs and tests their configurations."""
    request.config.stash[WATCH].basetemp = tmp_path_factory.getbasetemp()


@pytest.fixture
def secret_watch(request: pytest.FixtureRequest) -> Watch:
    """The session's watch: `register(secret)`, `seen`, `since(mark)`."""
    return request.config.stash[WATCH]


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    watch = session.config.stash.get(WATCH, None)
    if watch is None:
        return
    watch.findings = find(watch.everything(), watch.secrets())
    if watch.findings and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    watch = config.stash.get(WATCH, None)
    if watch is None or not watch.findings:
        return
    terminalreporter.write_sep(
        "=", f"a test secret appeared {len(watch.findings)} time(s): the run fails", red=True
    )
    for finding in watch.findings[:50]:
        terminalreporter.write_line(finding.describe())
