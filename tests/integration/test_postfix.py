"""maildesk behind a real Postfix, configured with contrib/postfix as shipped.

A private Postfix instance (tests/integration/postfix.py) relays the support domain to a
running maildesk over STARTTLS (`smtp_tls_security_level = encrypt`, and maildesk
`require_tls`, so nothing could pass in clear text). maildesk is stopped for a while:
Postfix defers, retries and, once maildesk is back, delivers everything once, with no
bounce. `.ci/postfix.sh` installs Postfix in CI.
"""

from __future__ import annotations

import os
import shutil
import smtplib
from collections import Counter
from email.utils import make_msgid

import pytest
from sqlalchemy import create_engine, func, select

from maildesk.store.models import inbound, tickets
from tests.conftest import free_port, need
from tests.integration.daemon import Daemon, wait_for, write_config
from tests.integration.postfix import PrivatePostfix, certificate, postfix_available
from tests.mail import message

pytestmark = pytest.mark.slow
QUEUE = "support@help.example"


def _submit(port: int, tag: str, count: int, **headers: str) -> list[str]:
    """`count` customer mails through Postfix; their Message-IDs."""
    ids = []
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for n in range(count):
            mid = make_msgid(f"{tag}{n}", "acme.ch")
            raw = message(
                subject=f"Erreur {tag} {n} lors de la transmission SwissDec",
                message_id=mid,
                sender=f"Client {n} <client{n}@acme.ch>",
                headers=headers or None,
            )
            smtp.sendmail(f"client{n}@acme.ch", [QUEUE], raw)
            ids.append(mid)
    return ids


def _deferred_twice(postfix: PrivatePostfix, queue_ids: set[str]) -> bool:
    counts = Counter(
        line.split("]: ", 1)[1].split(":", 1)[0]
        for line in postfix.log().splitlines()
        if "status=deferred" in line
    )
    return bool(queue_ids) and all(counts[q] >= 2 for q in queue_ids)


def test_postfix_defers_retries_and_delivers_everything_once(tmp_path):
    need("Postfix (bash .ci/postfix.sh installs it)", postfix_available())
    need("the openssl command", shutil.which("openssl") is not None)
    need("root (a Postfix instance starts as root)", os.geteuid() == 0)
    cert, key = certificate(tmp_path)
    db_url = f"sqlite:///{tmp_path / 'desk.db'}"
    extra = (
        'trusted_relays = ["127.0.0.1"]\n'
        f'tls_cert_file = "{cert}"\ntls_key_file = "{key}"\nrequire_tls = true\n'
    )
    config, port = write_config(tmp_path, db_url, smtp_extra=extra)
    daemon = Daemon(config, port, tmp_path / "daemon.log").start()
    postfix = PrivatePostfix(free_port(), port)
    engine = create_engine(db_url)

    def spooled() -> list:
        with engine.connect() as conn:
            return conn.execute(
                select(inbound.c.message_id, inbound.c.relay_trusted, inbound.c.tls)
                .select_from(inbound)
                .where(inbound.c.status == "done")
            ).all()

    def rows() -> int:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(inbound)).scalar_one()

    try:
        postfix.start()
        # Everything but the queue addresses of the support domain is kept out.
        with smtplib.SMTP("127.0.0.1", postfix.port, timeout=30) as smtp:
            smtp.ehlo()
            smtp.mail("alice@acme.ch")
            assert smtp.rcpt("someone@elsewhere.example")[0] == 554  # no relaying
            assert smtp.rcpt("nobody@help.example")[0] == 550  # not a queue address

        before = _submit(postfix.port, "up", 10)
        wait_for(lambda: len(spooled()) == 10, timeout=90)

        daemon.stop()  # maildesk down: Postfix must keep the mail and retry
        during = _submit(postfix.port, "down", 10)
        spam = _submit(postfix.port, "spam", 1, **{"X-Spam-Flag": "YES"})
        waiting = {m["queue_id"] for m in postfix.queue()}
        assert len(waiting) == 11
        try:
            wait_for(lambda: _deferred_twice(postfix, waiting), timeout=60, interval=0.5)
        except TimeoutError:
            raise AssertionError(f"not retried: {waiting}\n{postfix.log()[-4000:]}") from None
        assert rows() == 10
        assert {m["queue_name"] for m in postfix.queue()} <= {"deferred", "active"}

        daemon = Daemon(config, port, tmp_path / "daemon.log").start()
        wait_for(lambda: not postfix.queue() and len(spooled()) == 21, timeout=90, interval=0.5)

        statuses = Counter(postfix.statuses())
        assert "bounced" not in statuses, postfix.log()[-3000:]
        assert statuses["sent"] == 21
        assert statuses["deferred"] >= 22
        delivered = spooled()
        assert Counter(mid for mid, _, _ in delivered) == Counter(before + during + spam)
        assert {trusted for _, trusted, _ in delivered} == {True}
        assert all((tls or "").startswith("TLSv1.") for _, _, tls in delivered)
        assert "TLS connection established to 127.0.0.1" in postfix.log()
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(tickets)).scalar_one() == 20
            outcome = conn.execute(
                select(inbound.c.outcome, inbound.c.reason).where(inbound.c.message_id == spam[0])
            ).one()
        assert tuple(outcome) == ("ignored", "spam: X-Spam-Flag: YES")
    finally:
        postfix.stop()
        daemon.stop()
        engine.dispose()
        postfix.cleanup()
