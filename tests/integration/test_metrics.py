"""`[metrics] listen`: a real daemon, with a worker process, scraped over HTTP.

After 50 new requests over SMTP (and one refused recipient), the counters say 50 accepted,
50 processed as created, 50 acknowledgements sent, the acceptance-to-acknowledgement
histogram holds 50 observations, and the shared queue gauges are back to zero. With two
IMAP mailboxes, one the server refuses, the mailbox gauge says 1 and 0, and a mail taken
from the good one is counted by its source.
"""

from __future__ import annotations

import smtplib
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port, need
from tests.integration import dovecot
from tests.integration.daemon import Daemon, wait_for, write_config
from tests.mail import message

pytestmark = pytest.mark.slow
COUNT = 50


def _scrape(port: int) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _scrape_when_served(port: int) -> dict[tuple[str, tuple], float] | None:
    """The SMTP socket is bound before the fork, so it answers before the metrics server
    (started with the daemon's threads) listens: refused connections mean "not yet"."""
    try:
        return _scrape(port)
    except urllib.error.URLError:
        return None


def test_metrics_after_fifty_mails_count_what_was_sent(db_url, tmp_path):
    path, port = write_config(tmp_path, db_url)
    metrics_port = free_port()
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n')
    daemon = Daemon(path, port, tmp_path / "daemon.log").start()
    try:
        wait_for(lambda: _scrape_when_served(metrics_port))
        with smtplib.SMTP("127.0.0.1", port, timeout=15) as smtp:
            for i in range(COUNT):
                raw = message(
                    subject=f"Erreur de calcul du salaire de mars, employé {i}",
                    sender=f"Client {i} <client{i}@firm{i}.ch>",
                    message_id=f"<m{i}@firm{i}.ch>",
                )
                smtp.sendmail(f"client{i}@firm{i}.ch", ["support@help.example"], raw)
            refused = smtp.sendmail  # one refused recipient: counted by its code
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                refused("x@firm.ch", ["nobody@elsewhere.example"], message())

        def acked():
            found = _scrape(metrics_port)
            done = found.get(
                ("maildesk_notifications_total", (("state", "sent"), ("template", "ack")))
            )
            return found if done == COUNT else None

        found = wait_for(acked, timeout=120, interval=0.5)
    finally:
        assert daemon.stop() == 0, daemon.log()

    assert found[("maildesk_mail_accepted_total", (("source", "smtp"),))] == COUNT
    assert found[("maildesk_mail_rejected_total", (("code", "550"),))] == 1
    assert found[("maildesk_mail_processed_total", (("outcome", "created"),))] == COUNT
    assert found[("maildesk_processing_seconds_count", ())] == COUNT
    assert found[("maildesk_ack_delivery_seconds_count", ())] == COUNT
    assert found[("maildesk_ack_delivery_seconds_sum", ())] > 0
    staff = ("maildesk_notifications_total", (("state", "sent"), ("template", "staff_new_ticket")))
    assert found[staff] == COUNT
    cluster = (("queue", "spool"), ("scope", "cluster"))
    assert found[("maildesk_backlog", cluster)] == 0
    assert found[("maildesk_oldest_pending_age_seconds", cluster)] == 0
    assert found[("maildesk_quarantined", (("scope", "cluster"),))] == 0
    assert found[("maildesk_dead_notifications", (("scope", "cluster"),))] == 0
    assert found[("maildesk_time_rules_last_run_timestamp_seconds", ())] > 0


def _imap_tables() -> str:
    """One mailbox on the test Dovecot, and one whose password the server refuses."""
    common = f'host = "{dovecot.HOST}"\nport = {dovecot.PORT}\ntls = "none"\ntimeout_seconds = 5\n'
    return (
        f'\n[[imap]]\nname = "desk2"\nusername = "desk2"\npassword = "{dovecot.PASSWORD}"\n'
        f"{common}"
        f'\n[[imap]]\nname = "refused"\nusername = "desk1"\npassword = "not-the-password"\n'
        f"{common}poll_seconds = 1\n"
    )


def test_metrics_tell_each_mailbox_state_and_count_mail_taken_from_it(db_url, tmp_path):
    need("Dovecot at 127.0.0.1:10143", dovecot.dovecot_available())
    dovecot.reset("desk2")
    path, port = write_config(tmp_path, db_url)
    metrics_port = free_port()
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n{_imap_tables()}')
    daemon = Daemon(path, port, tmp_path / "daemon.log").start()
    connected = ("maildesk_imap_connected", (("mailbox", "desk2"),))
    refused = ("maildesk_imap_connected", (("mailbox", "refused"),))
    accepted = ("maildesk_mail_accepted_total", (("source", "imap:desk2"),))
    created = ("maildesk_mail_processed_total", (("outcome", "created"),))
    try:
        states = wait_for(
            lambda: (
                (found := _scrape_when_served(metrics_port))
                and connected in found
                and refused in found
                and found
            ),
            timeout=60,
        )
        assert states[connected] == 1
        assert states[refused] == 0
        assert accepted not in states or states[accepted] == 0
        dovecot.append("desk2", message(message_id="<imap-metrics@acme.ch>"))
        found = wait_for(
            lambda: (scraped := _scrape(metrics_port)).get(created) == 1 and scraped,
            timeout=60,
        )
    finally:
        assert daemon.stop() == 0, daemon.log()
    assert found[connected] == 1
    assert found[refused] == 0
    assert found[accepted] == 1
