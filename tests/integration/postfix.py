"""A private Postfix instance on loopback, configured with the snippets of contrib/postfix.

Its own config_directory, queue_directory and data_directory under one temporary folder,
started with `postfix -c DIR start` (no postmulti): the system's Postfix, its files and
port 25 are never touched. The base configuration here only makes the instance private
and quick (loopback ports, a log file, retries every few seconds); everything about
maildesk comes from contrib/postfix, read as it is shipped, with only the paths, the
listener's port and the domain pointed at the test's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CONTRIB = Path(__file__).resolve().parents[2] / "contrib" / "postfix"
SNIPPETS = ("main.cf", "master.cf", "maildesk_transport", "maildesk_recipients")


def postfix_available() -> bool:
    return shutil.which("postfix") is not None or Path("/usr/sbin/postfix").exists()


def certificate(folder: Path) -> tuple[Path, Path]:
    """A throw-away self-signed certificate for 127.0.0.1 (openssl CLI) and its key."""
    cert, key = folder / "listener-cert.pem", folder / "listener-key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-days", "2", "-newkey", "rsa:2048", "-nodes"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def snippet(name: str) -> str:
    return (CONTRIB / name).read_text(encoding="utf-8")


# Every service the instance needs, none chrooted (the queue is a fresh temporary folder).
MASTER = """\
{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

BASE = """\
# A private, throw-away instance for tests (tests/integration/postfix.py).
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.postfix-test.example
mydomain = postfix-test.example
myorigin = $myhostname
mydestination =
local_recipient_maps =
local_transport = error:no local delivery here
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
# The test's client (127.0.0.1) is a stranger: only the relay domain is let in.
mynetworks = 192.0.2.1/32
smtpd_peername_lookup = no
smtp_host_lookup = native
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
# Retry deferred mail within seconds (defaults: 300 s, 300 s, 4000 s).
queue_run_delay = 1s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
# No DSN ever leaves this machine: a bounce would wait in the queue, where the test sees it.
default_transport = error:no other destination in this test
"""


class PrivatePostfix:
    def __init__(self, smtp_port: int, maildesk_port: int, domain: str = "help.example") -> None:
        self.root = Path(tempfile.mkdtemp(prefix="maildesk-postfix-", dir="/tmp"))
        self.conf = self.root / "etc"
        self.port = smtp_port
        self.maildesk_port = maildesk_port
        self.domain = domain
        self.bin = shutil.which("postfix") or "/usr/sbin/postfix"
        self.sbin = Path(self.bin).parent

    # --- configuration -------------------------------------------------------------

    def _point(self, text: str) -> str:
        """contrib's text, with its paths, listener and domain pointed at this instance."""
        text = text.replace("/etc/postfix/", f"{self.conf}/")
        text = text.replace("[127.0.0.1]:2525", f"[127.0.0.1]:{self.maildesk_port}")
        return text.replace("help.example", self.domain)

    def write(self) -> None:
        self.conf.mkdir(parents=True)
        (self.root / "queue").mkdir()
        (self.root / "data").mkdir()
        shutil.chown(self.root / "data", "postfix", "postfix")
        os.chmod(self.root, 0o755)
        main = BASE.format(root=self.root) + "\n" + self._point(snippet("main.cf"))
        (self.conf / "main.cf").write_text(main, encoding="utf-8")
        master = MASTER.format(port=f"127.0.0.1:{self.port}") + self._point(snippet("master.cf"))
        (self.conf / "master.cf").write_text(master, encoding="utf-8")
        for name in ("maildesk_transport", "maildesk_recipients"):
            (self.conf / name).write_text(self._point(snippet(name)), encoding="utf-8")

    # --- running -------------------------------------------------------------------

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*args],
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
            stdin=subprocess.DEVNULL,
        )

    def start(self) -> PrivatePostfix:
        self.write()
        done = self._run(self.bin, "-c", str(self.conf), "start", check=False)
        if done.returncode != 0:
            raise RuntimeError(f"postfix did not start: {done.stdout}{done.stderr}{self.log()}")
        return self

    def stop(self) -> None:
        self._run(self.bin, "-c", str(self.conf), "stop", check=False)
        pid_file = self.root / "queue" / "pid" / "master.pid"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _running(pid_file):
            time.sleep(0.2)
        if _running(pid_file):
            self._run(self.bin, "-c", str(self.conf), "abort", check=False)

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def flush(self) -> None:
        """`postqueue -f`: retry the deferred mail now (what an admin does after a restart)."""
        self._run(str(self.sbin / "postqueue"), "-c", str(self.conf), "-f", check=False)

    def queue(self) -> list[dict]:
        """The queue as `postqueue -j` lists it (one JSON object per message)."""
        import json

        done = self._run(str(self.sbin / "postqueue"), "-c", str(self.conf), "-j", check=False)
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def statuses(self) -> list[str]:
        """Every `status=` a delivery agent logged: sent, deferred, bounced."""
        return re.findall(r" status=(\w+)", self.log())


def _running(pid_file: Path) -> bool:
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True
