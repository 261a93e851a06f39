"""At the edge, behind the company's MTA: connection caps that fit an MTA, the MTA's spam
verdict (believed from a trusted relay only) and STARTTLS on the listener.

Every test talks to the real listener over real sockets; "another client" is another
loopback address (127.0.0.2), which the kernel routes like any other host.
"""

from __future__ import annotations

import json
import shutil
import smtplib
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select

from maildesk import config as config_module
from maildesk.inbound.relays import Origin, TrustedRelays
from maildesk.inbound.spam import verdict
from maildesk.store import reports as report
from maildesk.store.models import inbound
from maildesk.store.spool import store
from tests.conftest import NOW, make_config, need
from tests.hostile.support import (
    QUEUE,
    listener,
    outbox_to,
    show,
    spool_rows,
    sqlite_desk,
    ticket_count,
)
from tests.integration.daemon import write_config
from tests.integration.postfix import certificate
from tests.mail import message

RELAY = "127.0.0.1"  # the trusted MTA in these tests
STRANGER = "127.0.0.2"  # any other client


def _config(tmp_path: Path, **sections: dict) -> config_module.Config:
    return make_config(f"sqlite:///{tmp_path / 'c.db'}", tmp_path, **sections)


def _connect(port: int, source: str = RELAY, timeout: float = 20) -> smtplib.SMTP:
    return smtplib.SMTP("127.0.0.1", port, timeout=timeout, source_address=(source, 0))


def _deliver(smtp: smtplib.SMTP, raw: bytes, sender: str = "alice@acme.ch") -> tuple[int, bytes]:
    smtp.ehlo("mx.help.example")
    code, reply = smtp.mail(sender)
    if code != 250:
        return code, reply
    smtp.rcpt(QUEUE)
    return smtp.data(raw)


# --- connection caps -------------------------------------------------------------------


def test_default_per_client_cap_is_well_above_an_mta_concurrency():
    # Postfix delivers over default_destination_concurrency_limit (20) connections plus
    # the ones it keeps cached: 24 were seen at once after a restart.
    assert config_module.Config().smtp.max_connections_per_client == 50


def test_fifty_parallel_deliveries_from_a_trusted_relay_get_no_421(tmp_path):
    desk = sqlite_desk(tmp_path)
    smtp_cfg = {"max_connections_per_client": 20, "trusted_relays": (RELAY,)}
    with listener(desk, **smtp_cfg) as cfg:
        # All 50 sessions are open at once before any of them delivers.
        sessions = [_connect(cfg.smtp.port) for _ in range(50)]
        start = threading.Barrier(50)

        def deliver(n: int) -> tuple[int, bytes]:
            start.wait()
            raw = message(message_id=f"<burst-{n}@acme.ch>", subject=f"Erreur {n} sur SwissDec")
            try:
                return _deliver(sessions[n], raw, sender=f"user{n}@acme.ch")
            finally:
                sessions[n].quit()

        with ThreadPoolExecutor(50) as pool:
            replies = list(pool.map(deliver, range(50)))
    assert [code for code, _ in replies] == [250] * 50
    with desk.engine.connect() as conn:
        rows = conn.execute(select(inbound.c.peer, inbound.c.relay_trusted)).all()
    assert sorted(rows) == [(RELAY, True)] * 50


def test_an_untrusted_client_still_hits_its_cap(tmp_path):
    desk = sqlite_desk(tmp_path)
    with listener(desk, max_connections_per_client=20, trusted_relays=(RELAY,)) as cfg:
        held = [_connect(cfg.smtp.port, STRANGER) for _ in range(20)]
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            _connect(cfg.smtp.port, STRANGER)
        relay = [_connect(cfg.smtp.port) for _ in range(30)]  # the relay is not capped
        code, _ = _deliver(held[0], message())
        for smtp in held + relay:
            smtp.close()
    assert (refused.value.smtp_code, refused.value.smtp_error[:5]) == (421, b"4.7.0")
    assert code == 250
    with desk.engine.connect() as conn:
        assert conn.execute(select(inbound.c.peer, inbound.c.relay_trusted)).one() == (
            STRANGER,
            False,
        )


def test_the_total_cap_holds_for_a_trusted_relay_too(tmp_path):
    desk = sqlite_desk(tmp_path)
    limits = {"max_connections": 10, "max_connections_per_client": 5}
    with listener(desk, trusted_relays=("127.0.0.0/30",), **limits) as cfg:
        held = [_connect(cfg.smtp.port) for _ in range(10)]
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            _connect(cfg.smtp.port)
        for smtp in held:
            smtp.close()
    assert (refused.value.smtp_code, refused.value.smtp_error[:5]) == (421, b"4.3.2")


def test_trusted_relays_match_addresses_and_networks():
    relays = TrustedRelays(("192.0.2.7", "10.1.0.0/16", "2001:db8::/32"))
    assert relays.covers("192.0.2.7")
    assert not relays.covers("192.0.2.8")
    assert relays.covers("10.1.255.3")
    assert not relays.covers("10.2.0.1")
    assert relays.covers("::ffff:10.1.0.9")  # a dual-stack listener's view of IPv4
    assert relays.covers("2001:db8::25")
    assert not relays.covers("2001:db9::25")
    assert not relays.covers("not-an-address")
    assert not TrustedRelays(()).covers("10.1.0.1")


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (["10.1.0.0/33"], "smtp.trusted_relays[0]: '10.1.0.0/33' is not an IP address"),
        (["mx.help.example"], "smtp.trusted_relays[0]: 'mx.help.example' is not an IP address"),
        ("10.0.0.1", "smtp.trusted_relays: must be an array"),
    ],
)
def test_trusted_relays_config_errors_name_the_key(tmp_path, value, error):
    with pytest.raises(config_module.ConfigError, match=error.replace("[", r"\[")):
        _config(tmp_path, smtp={"trusted_relays": value})


def test_trusted_relays_are_stored_canonical(tmp_path):
    cfg = make_config(
        f"sqlite:///{tmp_path / 'c.db'}", tmp_path, smtp={"trusted_relays": ["10.1.2.3/16", "::1"]}
    )
    assert cfg.smtp.trusted_relays == ("10.1.0.0/16", "::1/128")


# --- the MTA's spam verdict ---------------------------------------------------------------

SPAM_MARKS = {
    "spamassassin-flag": {"X-Spam-Flag": "YES"},
    "spamassassin-status": {"X-Spam-Status": "Yes, score=7.3 required=5.0 tests=BAYES_99"},
    "rspamd-action": {"X-Rspamd-Action": "add header"},
    "rspamd-result": {"X-Spamd-Result": "default: True [9.50 / 6.00]; BAYES_SPAM(5.10)"},
    "x-spam": {"X-Spam": "Yes"},
}
NOT_SPAM = {
    "spamassassin-no": {"X-Spam-Flag": "NO", "X-Spam-Status": "No, score=0.1 required=5.0"},
    "rspamd-no-action": {
        "X-Rspamd-Action": "no action",
        "X-Spamd-Result": "default: False [1.20 / 15.00]; R_SPF_ALLOW(-0.20)",
    },
}


def _spool(desk, raw: bytes, trusted: bool, peer: str = RELAY):
    """Store as the listener does (an SMTP row with its origin), then process it."""
    origin = Origin(peer, trusted, None)
    row = store(
        desk.engine, raw, source="smtp", now=NOW, mail_from="a@acme.ch", rcpt_tos=(QUEUE,),
        origin=origin,
    )  # fmt: skip
    return desk.worker.process(row, NOW)


@pytest.fixture
def desk(tmp_path):
    built = sqlite_desk(tmp_path)
    yield built
    built.engine.dispose()


@pytest.mark.parametrize("mark", sorted(SPAM_MARKS))
def test_spam_marked_by_a_trusted_relay_opens_nothing_and_answers_nothing(desk, mark):
    headers = SPAM_MARKS[mark]
    result = _spool(desk, message(headers=headers), trusted=True)
    name, value = next(iter(headers.items()))
    assert (result.outcome, result.ticket) == ("ignored", None)
    assert result.reason == f"spam: {name}: {value}"
    assert ticket_count(desk) == 0
    assert outbox_to(desk, "alice@acme.ch") == []
    assert outbox_to(desk, "consultant@help.example") == []
    with desk.engine.connect() as conn:
        row = conn.execute(select(inbound.c.status, inbound.c.outcome, inbound.c.reason)).one()
    assert tuple(row) == ("done", "ignored", f"spam: {name}: {value}")


def test_mail_kept_as_spam_is_listed_and_released_by_the_queue_commands(desk):
    from maildesk.store import queue

    spam = _spool(desk, message(headers=SPAM_MARKS[sorted(SPAM_MARKS)[0]]), trusted=True)
    human = _spool(
        desk, message(message_id="<other@acme.ch>", sender="Bob <bob@acme.ch>"), trusted=True
    )
    listed = {row["id"]: row for row in queue.list_spool(desk.engine, "done")}
    assert listed[spam.inbound_id]["outcome"] == "ignored"

    released, notes = queue.release_spam(
        desk.engine, [spam.inbound_id, human.inbound_id, 999], "admin@help.example", NOW
    )
    assert released == [spam.inbound_id]
    assert notes == [
        f"{human.inbound_id}: not ignored as spam (it is done)",
        "999: no such row",
    ]
    again = desk.worker.process(spam.inbound_id, NOW)
    assert again.outcome == "created"
    assert [m["template"] for m in outbox_to(desk, "alice@acme.ch")] == ["ack"]
    steps = [(d["step"], d["action"]) for d in report.trace(desk.engine, "<req-1@acme.ch>")]
    assert ("admin", "released") in steps
    assert ("spam", "not-believed") in steps  # the verdict is noted, no longer believed
    assert queue.release_spam(desk.engine, [spam.inbound_id], "admin@help.example", NOW)[0] == []


@pytest.mark.parametrize("mark", sorted(NOT_SPAM))
def test_a_trusted_relay_saying_not_spam_changes_nothing(desk, mark):
    result = _spool(desk, message(headers=NOT_SPAM[mark]), trusted=True)
    assert (result.outcome, result.ticket) == ("created", "SUP-1")
    assert [m["template"] for m in outbox_to(desk, "alice@acme.ch")] == ["ack"]


@pytest.mark.parametrize("mark", sorted(SPAM_MARKS))
def test_the_same_marks_from_an_untrusted_client_are_not_believed(desk, mark):
    result = _spool(desk, message(headers=SPAM_MARKS[mark]), trusted=False, peer=STRANGER)
    assert (result.outcome, result.ticket) == ("created", "SUP-1")
    assert [m["template"] for m in outbox_to(desk, "alice@acme.ch")] == ["ack"]
    steps = {
        (d["step"], d["action"]): d["reason"] for d in report.trace(desk.engine, "<req-1@acme.ch>")
    }
    assert steps[("intake", "smtp")] == f"client {STRANGER} (not a trusted relay); no TLS"
    assert "not believed" in steps[("spam", "not-believed")]


def test_not_spam_from_an_untrusted_client_is_never_a_reason_to_trust(desk):
    # A forged "clean" verdict beside a forged staff sender: still no staff rights, and
    # an auto-reply marked "not spam" is still an auto-reply.
    headers = {**NOT_SPAM["spamassassin-no"], "Auto-Submitted": "auto-replied"}
    result = _spool(desk, message(headers=headers), trusted=False, peer=STRANGER)
    assert (result.outcome, result.ticket) == ("ignored", None)
    assert result.reason == "auto-reply: auto-submitted"


def test_a_marked_reply_is_stored_on_its_ticket_flagged_without_a_staff_notice(desk):
    first = _spool(desk, message(), trusted=True)
    assert first.ticket == "SUP-1"
    notices = len(outbox_to(desk, "consultant@help.example"))
    reply = message(
        subject="RE: [SUP-1] Erreur lors de la transmission SwissDec pour M. Dupont",
        message_id="<reply-1@acme.ch>",
        headers={"X-Spam-Status": "Yes, score=12.0 required=5.0"},
    )
    result = _spool(desk, reply, trusted=True)
    assert (result.outcome, result.ticket) == ("ignored", "SUP-1")
    assert result.reason == "spam: X-Spam-Status: Yes, score=12.0 required=5.0"
    ticket = show(desk, "SUP-1")
    stored = [m for m in ticket["messages"] if m["message_id"] == "<reply-1@acme.ch>"]
    assert len(stored) == 1
    assert stored[0]["automatic"] is True
    spam_events = [e for e in ticket["events"] if e["kind"] == "spam"]
    assert len(spam_events) == 1
    assert "X-Spam-Status" in spam_events[0]["reason"]
    assert len(outbox_to(desk, "consultant@help.example")) == notices  # no staff notice
    assert [m["template"] for m in outbox_to(desk, "alice@acme.ch")] == ["ack"]  # no answer


def test_only_the_listed_headers_are_read(tmp_path):
    desk = sqlite_desk(tmp_path, processing={"spam_headers": ["X-Spam-Flag"]})
    rspamd = _spool(desk, message(headers=SPAM_MARKS["rspamd-action"]), trusted=True)
    assert rspamd.outcome == "created"
    flag = _spool(
        desk, message(message_id="<two@acme.ch>", headers={"X-Spam-Flag": "YES"}), trusted=True
    )
    assert flag.outcome == "ignored"
    (tmp_path / "off").mkdir()
    off = sqlite_desk(tmp_path / "off", processing={"spam_headers": []})
    assert _spool(off, message(headers={"X-Spam-Flag": "YES"}), trusted=True).outcome == "created"


def test_spam_headers_config_names_what_is_allowed(tmp_path):
    with pytest.raises(config_module.ConfigError, match=r"processing.spam_headers\[0\].*allowed"):
        make_config(
            f"sqlite:///{tmp_path / 'c.db'}",
            tmp_path,
            processing={"spam_headers": ["X-Spam-Score"]},
        )
    cfg = make_config(
        f"sqlite:///{tmp_path / 'c.db'}", tmp_path, processing={"spam_headers": ["x-spam-flag"]}
    )
    assert cfg.processing.spam_headers == ("X-Spam-Flag",)


def test_the_verdict_reads_every_occurrence_and_stays_one_short_line():
    found = [("x-spam-flag", "NO"), ("x-spam-status", "Yes, " + "T" * 400)]
    shown = verdict(found, ("X-Spam-Flag", "X-Spam-Status"))
    assert shown is not None
    assert shown.startswith("X-Spam-Status: Yes, TTT")
    assert len(shown) <= 120
    assert verdict([("x-spam-flag", "no")], ("X-Spam-Flag",)) is None


def test_spam_over_the_real_listener_is_believed_from_the_relay_only(tmp_path):
    desk = sqlite_desk(tmp_path)
    with listener(desk, trusted_relays=(RELAY,)) as cfg:
        for source, n in ((RELAY, 1), (STRANGER, 2)):
            with _connect(cfg.smtp.port, source) as smtp:
                raw = message(message_id=f"<spam-{n}@acme.ch>", headers={"X-Spam-Flag": "YES"})
                assert _deliver(smtp, raw)[0] == 250
    results = {r.message_id: r for r in desk.worker.process_due(NOW)}
    assert results["<spam-1@acme.ch>"].outcome == "ignored"
    assert results["<spam-1@acme.ch>"].reason == "spam: X-Spam-Flag: YES"
    assert results["<spam-2@acme.ch>"].outcome == "created"
    intake = [d for d in report.trace(desk.engine, "<spam-1@acme.ch>") if d["step"] == "intake"]
    assert intake[0]["reason"] == f"client {RELAY} (trusted relay); no TLS"
    assert spool_rows(desk) == 2


# --- STARTTLS on the listener -----------------------------------------------------------


@pytest.fixture
def cert(tmp_path) -> tuple[Path, Path]:
    """A throw-away self-signed certificate for 127.0.0.1 and its key (openssl CLI)."""
    need("the openssl command", shutil.which("openssl") is not None)
    return certificate(tmp_path)


def _tls_client(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def test_starttls_is_offered_and_the_session_recorded_in_the_trace(tmp_path, cert):
    desk = sqlite_desk(tmp_path)
    files = {"tls_cert_file": str(cert[0]), "tls_key_file": str(cert[1])}
    with listener(desk, **files) as cfg, _connect(cfg.smtp.port) as smtp:
        smtp.ehlo("mx.help.example")
        assert smtp.has_extn("starttls")
        assert smtp.starttls(context=_tls_client(cert[0]))[0] == 220
        version, cipher = smtp.sock.version(), smtp.sock.cipher()[0]
        assert _deliver(smtp, message())[0] == 250
    with desk.engine.connect() as conn:
        assert conn.execute(select(inbound.c.tls)).scalar_one() == f"{version} {cipher}"
    assert desk.worker.process_due(NOW)[0].ticket == "SUP-1"
    intake = [d for d in report.trace(desk.engine, "<req-1@acme.ch>") if d["step"] == "intake"]
    assert intake[0]["reason"].endswith(f"; TLS {version} {cipher}")
    assert version in ("TLSv1.2", "TLSv1.3")


def test_without_require_tls_plain_text_is_still_accepted(tmp_path, cert):
    desk = sqlite_desk(tmp_path)
    files = {"tls_cert_file": str(cert[0]), "tls_key_file": str(cert[1])}
    with listener(desk, **files) as cfg, _connect(cfg.smtp.port) as smtp:
        assert _deliver(smtp, message())[0] == 250
    with desk.engine.connect() as conn:
        assert conn.execute(select(inbound.c.tls)).scalar_one() is None


def test_require_tls_refuses_mail_before_starttls_with_530(tmp_path, cert):
    desk = sqlite_desk(tmp_path)
    files = {"tls_cert_file": str(cert[0]), "tls_key_file": str(cert[1]), "require_tls": True}
    with listener(desk, **files) as cfg:
        with _connect(cfg.smtp.port) as plain:
            plain.ehlo("mx.help.example")
            code, reply = plain.mail("alice@acme.ch")
            rcpt = plain.docmd("RCPT TO:<support@help.example>")
        with _connect(cfg.smtp.port) as secured:
            secured.starttls(context=_tls_client(cert[0]))
            delivered = _deliver(secured, message())
    assert (code, reply[:5]) == (530, b"5.7.0")
    assert rcpt[0] == 503  # nothing goes on without MAIL
    assert delivered[0] == 250
    assert spool_rows(desk) == 1


@pytest.mark.parametrize(
    ("smtp", "error"),
    [
        ({"tls_cert_file": "CERT"}, "smtp.tls_key_file: required when smtp.tls_cert_file is set"),
        ({"tls_key_file": "KEY"}, "smtp.tls_cert_file: required when smtp.tls_key_file is set"),
        ({"require_tls": True}, "smtp.require_tls: needs smtp.tls_cert_file"),
        ({"tls_cert_file": "/nowhere.pem", "tls_key_file": "KEY"}, "no such file"),
        ({"tls_cert_file": "KEY", "tls_key_file": "CERT"}, "smtp.tls_cert_file: cannot use"),
    ],
)
def test_listener_tls_config_errors_name_the_key(tmp_path, cert, smtp, error):
    paths = {"CERT": str(cert[0]), "KEY": str(cert[1])}
    values = {k: paths.get(v, v) if isinstance(v, str) else v for k, v in smtp.items()}
    with pytest.raises(config_module.ConfigError, match=error):
        _config(tmp_path, smtp=values)


def test_ingest_believes_the_verdict_only_when_told_it_comes_from_the_mta(tmp_path, capsys):
    from maildesk.cli import main

    cfg, _port = write_config(tmp_path, f"sqlite:///{tmp_path / 'desk.db'}")
    eml = tmp_path / "spam.eml"
    eml.write_bytes(message(headers={"X-Spam-Flag": "YES"}))
    assert main(["--config", str(cfg), "ingest", "--now", NOW.isoformat(), str(eml)]) == 0
    eml.write_bytes(message(message_id="<piped@acme.ch>", headers={"X-Spam-Flag": "YES"}))
    args = ["--config", str(cfg), "ingest", "--trusted-relay", str(eml)]
    assert main(args) == 0
    first, piped = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["outcome"] == "created"
    assert (piped["outcome"], piped["reason"]) == ("ignored", "spam: X-Spam-Flag: YES")


# --- Authentication-Results: believed from the relays only, where relays are set -----------


def _consultant_reply(desk) -> bytes:
    [note] = outbox_to(desk, "consultant@help.example")
    return message(
        sender="Consultant <consultant@help.example>",
        subject="Re: [SUP-1]",
        body="Voici la correction.\n",
        message_id="<staff-1@help.example>",
        in_reply_to=note["message_id"],
        headers={"Authentication-Results": "mx.help.example; dkim=pass header.d=help.example"},
    )


@pytest.mark.parametrize(("trusted", "relayed"), [(True, True), (False, False)])
def test_authentication_results_count_only_through_a_trusted_relay(tmp_path, trusted, relayed):
    desk = sqlite_desk(
        tmp_path,
        smtp={"trusted_relays": [RELAY]},
        staff={
            "addresses": ["consultant@help.example"],
            "trusted_authserv_ids": ["mx.help.example"],
        },
    )
    assert _spool(desk, message(), trusted=True).ticket == "SUP-1"
    peer = RELAY if trusted else STRANGER
    result = _spool(desk, _consultant_reply(desk), trusted=trusted, peer=peer)
    assert ("relayed" in (result.reason or "")) is relayed
    if not relayed:
        trace = report.trace(desk.engine, "<staff-1@help.example>")
        [trust] = [d for d in trace if d["step"] == "trust"]
        assert trust["reason"].endswith(
            "Authentication-Results not believed: not from a trusted relay"
        )
