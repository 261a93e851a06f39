"""F67–F81: notifications over a real relay: header injection, relay faults, TLS, crashes."""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import update

from maildesk.addresses import addresses_in, one_line
from maildesk.daemon.app import build
from maildesk.outbound.compose import Headers, compose
from maildesk.outbound.render import Rendered
from maildesk.store import outbox as notify
from maildesk.store.models import outbox
from tests.conftest import NOW, free_port, make_config, need
from tests.hostile.support import ingest, outbox_to, show
from tests.integration.sink import Sink
from tests.mail import message
from tests.secrets_scan import find


@pytest.fixture
def sink() -> Iterator[Sink]:
    with Sink() as running:
        yield running


@pytest.fixture
def desk(db_url, tmp_path, sink):
    built = build(make_config(db_url, tmp_path, outbound={"host": sink.host, "port": sink.port}))
    yield built
    built.engine.dispose()


@pytest.mark.parametrize(
    "subject",
    [
        "=?utf-8?q?hi=0D=0ABcc=3A_victim=40example=2Ecom?=",
        "=?utf-8?q?hi=0ABcc=3A_victim=40example=2Ecom?=",
    ],
    ids=["encoded-crlf", "encoded-lf"],
)
def test_f067_injected_subject_is_plain_text_in_one_header(desk, sink, subject):
    raw = message(subject="placeholder", sender="Eve <eve@acme.ch>").replace(
        b"Subject: placeholder", b"Subject: " + subject.encode()
    )
    assert ingest(desk, raw).outcome == "created"
    desk.sender.flush(NOW)
    [ack] = sink.to("eve@acme.ch")
    head = ack.raw.split(b"\r\n\r\n", 1)[0].lower()
    assert b"\r\nbcc:" not in head
    assert "hi Bcc: victim@example.com" in str(ack.message["Subject"])
    assert ack.rcpt_tos == ("eve@acme.ch",)


def test_f069_cve_inputs_are_neutralised_on_this_interpreter():
    from email import message_from_string, policy

    msg = message_from_string(
        "From: alice@example.org)<bob@example.org>\n\n", policy=policy.default
    )
    assert addresses_in(msg, "from") == []  # parseaddr would say alice (CVE-2023-27043)
    raw = compose(
        Rendered("hi\nBcc: x@evil.example", "t", "<p>t</p>", "fr"),
        Headers(
            "SUP-1",
            "Desk",
            "support@help.example",
            "Eve\r\nBcc: y@evil.example",
            "eve@acme.ch",
            "support@help.example",
            "<a.b@help.example>",
        ),
        NOW,
    )
    head = raw.split(b"\r\n\r\n", 1)[0].lower()
    assert b"\r\nbcc:" not in head  # CVE-2024-6923 would let the generator write it
    assert one_line("a\r\nb\x00c") == "a b c"


def test_f070_stored_hostile_recipient_is_refused_before_any_smtp(desk, sink):
    ingest(desk, message())
    with desk.engine.begin() as conn:
        conn.execute(
            update(outbox)
            .where(outbox.c.recipient == "alice@acme.ch")
            .values(recipient="a@x.example>\r\nRCPT TO:<evil@evil.example")
        )
    done = desk.sender.flush(NOW)
    assert any(d.status == "dead" and "address" in d.detail for d in done)
    assert not sink.to("evil@evil.example")


def test_f073_one_row_per_recipient_so_a_refusal_touches_only_its_own(desk, sink):
    ingest(desk, message())
    rows = sorted(
        __import__("maildesk.store.reports").store.reports.list_outbox(desk.engine),
        key=lambda r: r["id"],
    )
    assert len(rows) == 3  # the ack and one notice per consultant
    sink.answer(550)
    first = desk.sender.deliver(rows[0]["id"], NOW)
    sink.answer(250)
    others = desk.sender.flush(NOW)
    assert first.status == "dead"
    assert sorted(d.status for d in others) == ["sent", "sent"]
    assert len(sink.received) == 2


class _Dropper:
    """A relay that reads the whole mail, then hangs up without answering."""

    def __init__(self) -> None:
        self.seen = 0

    async def handle_DATA(self, server, session, envelope):
        self.seen += 1
        server.transport.close()
        await asyncio.sleep(0.1)
        return "250 never heard"


def test_f074_relay_hanging_up_after_the_dot_is_a_temporary_failure(db_url, tmp_path, sink):
    dropper = _Dropper()
    port = free_port()
    relay = Controller(dropper, hostname="127.0.0.1", port=port)
    relay.start()
    try:
        desk = build(make_config(db_url, tmp_path, outbound={"host": "127.0.0.1", "port": port}))
        ingest(desk, message())
        [row] = outbox_to(desk, "alice@acme.ch")
        failed = desk.sender.deliver(row["id"], NOW)
    finally:
        relay.stop()
    assert dropper.seen == 1
    assert failed.status == "failed"
    again = build(make_config(db_url, tmp_path, outbound={"host": sink.host, "port": sink.port}))
    assert again.sender.deliver(row["id"], NOW.replace(hour=23)).status == "sent"
    [mail] = sink.to("alice@acme.ch")
    assert mail.message_id == row["message_id"]  # the same mail, same Message-ID
    desk.engine.dispose()
    again.engine.dispose()


# --- F75: TLS to the relay, never plain text when TLS is asked for ------------------------


def _certificate(folder: Path) -> Path:
    """A throw-away self-signed certificate for 127.0.0.1 (openssl CLI); its key beside it."""
    need("the openssl command", shutil.which("openssl") is not None)
    cert, key = folder / "relay-cert.pem", folder / "relay-key.pem"
    key_type = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    names = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        ["openssl", "req", "-x509", "-days", "2", *key_type, *files, *names],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert


@pytest.fixture
def relay_cert(tmp_path) -> Path:
    return _certificate(tmp_path)


def _server_context(cert: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, cert.with_name("relay-key.pem"))
    return context


SECOND_SUBJECT = "Deuxième erreur de transmission SwissDec pour Mme Favre"


@contextmanager
def _tls_sink(cert: Path, implicit: bool = False) -> Iterator[Sink]:
    with Sink(tls_context=_server_context(cert), implicit_tls=implicit) as running:
        yield running


def _desk(db_url, tmp_path, relay: Sink, **outbound: object):
    return build(make_config(db_url, tmp_path, outbound={**_at(relay), **outbound}))


def _at(relay: Sink) -> dict:
    return {"host": relay.host, "port": relay.port}


def test_f075_required_starttls_never_falls_back_to_plaintext(db_url, tmp_path, sink, caplog):
    desk = _desk(db_url, tmp_path, sink, tls="starttls")  # the sink offers no STARTTLS
    ingest(desk, message())
    with caplog.at_level(logging.ERROR, logger="maildesk.sender"):
        done = desk.sender.flush(NOW)
    desk.dispose()
    assert sink.received == []
    assert [d.status for d in done] == ["failed"] * 3  # retried later, not given up
    assert all("does not offer STARTTLS" in d.detail for d in done)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 3
    assert all("action=retry" in e and "STARTTLS" in e for e in errors)


def test_f075_untrusted_certificate_is_retried_then_sent_once_the_ca_is_given(
    db_url, tmp_path, relay_cert
):
    with _tls_sink(relay_cert) as relay:
        desk = _desk(db_url, tmp_path, relay, tls="starttls")  # the system CAs only
        ingest(desk, message())
        [row] = outbox_to(desk, "alice@acme.ch")
        failed = desk.sender.deliver(row["id"], NOW)
        assert relay.received == []
        assert failed.status == "failed"
        assert "CERTIFICATE_VERIFY_FAILED" in failed.detail
        desk.dispose()
        fixed = _desk(db_url, tmp_path, relay, tls="starttls", ca_file=str(relay_cert))
        assert fixed.sender.deliver(row["id"], NOW.replace(hour=23)).status == "sent"
        fixed.dispose()
    [mail] = relay.to("alice@acme.ch")
    assert mail.tls
    assert mail.message_id == row["message_id"]


def test_f075_certificate_for_another_name_is_refused(db_url, tmp_path, relay_cert):
    with _tls_sink(relay_cert) as relay:
        trusted = _desk(db_url, tmp_path, relay, tls="starttls", ca_file=str(relay_cert))
        # The certificate names 127.0.0.1; the same relay reached as `localhost` is refused.
        desk = build(
            replace(trusted.config, outbound=replace(trusted.config.outbound, host="localhost"))
        )
        trusted.dispose()
        ingest(desk, message())
        done = desk.sender.flush(NOW)
        desk.dispose()
    assert relay.received == []
    assert {d.status for d in done} == {"failed"}
    assert all("Hostname mismatch" in d.detail for d in done)


def test_f075_starttls_with_a_trusted_certificate_sends_encrypted(db_url, tmp_path, relay_cert):
    with _tls_sink(relay_cert) as relay:
        desk = _desk(db_url, tmp_path, relay, tls="starttls", ca_file=str(relay_cert))
        ingest(desk, message())
        done = desk.sender.flush(NOW)
        desk.dispose()
    assert [d.status for d in done] == ["sent"] * 3
    assert len(relay.received) == 3
    assert all(mail.tls for mail in relay.received)


def test_f075_verification_off_still_encrypts(db_url, tmp_path, relay_cert):
    with _tls_sink(relay_cert) as relay:
        desk = _desk(db_url, tmp_path, relay, tls="starttls", tls_verify=False)
        ingest(desk, message())
        desk.sender.flush(NOW)
        desk.dispose()
    assert len(relay.received) == 3
    assert all(mail.tls for mail in relay.received)


def test_f075_implicit_tls_sends_encrypted_and_never_speaks_plain(db_url, tmp_path, relay_cert):
    with _tls_sink(relay_cert, implicit=True) as relay:
        desk = _desk(db_url, tmp_path, relay, tls="tls", ca_file=str(relay_cert))
        ingest(desk, message())
        assert [d.status for d in desk.sender.flush(NOW)] == ["sent"] * 3
        desk.dispose()
    assert all(mail.tls for mail in relay.received)
    with Sink() as plain:  # a relay without TLS on the port given for implicit TLS
        desk = _desk(db_url, tmp_path, plain, tls="tls", ca_file=str(relay_cert))
        ingest(desk, message(message_id="<second@acme.ch>", subject=SECOND_SUBJECT))
        done = desk.sender.flush(NOW)
        desk.dispose()
    assert plain.received == []
    assert {d.status for d in done} == {"failed"}


class _LoginRelay:
    """A relay that wants AUTH after STARTTLS (aiosmtpd), recording logins and mails."""

    def __init__(self, cert: Path, username: str, password: str) -> None:
        self.credentials = (username.encode(), password.encode())
        self.logins: list[tuple[bytes, bool]] = []  # (login, accepted)
        self.received: list[bytes] = []
        self.port = free_port()
        self.controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=_server_context(cert),
            authenticator=self.authenticate,
            auth_required=True,
        )

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (auth_data.login, auth_data.password) == self.credentials
        self.logins.append((auth_data.login, ok))
        return AuthResult(success=ok, handled=False)  # handled=True: no reply at all

    async def handle_DATA(self, server, session, envelope):
        self.received.append(envelope.original_content or envelope.content)
        return "250 2.0.0 OK"


@contextmanager
def _login_relay(cert: Path, username: str, password: str) -> Iterator[_LoginRelay]:
    relay = _LoginRelay(cert, username, password)
    relay.controller.start()
    try:
        yield relay
    finally:
        relay.controller.stop()


def test_f075_login_after_starttls_and_the_password_is_never_logged(
    db_url, tmp_path, relay_cert, secret_watch, caplog
):
    password = secret_watch.register(f"RelayPw{secrets.token_hex(8)}")
    mark = len(secret_watch.seen)
    with _login_relay(relay_cert, "desk@help.example", password) as relay:
        outbound = {"host": "127.0.0.1", "port": relay.port, "tls": "starttls"}
        outbound |= {"ca_file": str(relay_cert), "username": "desk@help.example"}
        wrong = build(make_config(db_url, tmp_path, outbound={**outbound, "password": "nope"}))
        ingest(wrong, message())
        with caplog.at_level(logging.DEBUG):
            refused = wrong.sender.flush(NOW)
        wrong.dispose()
        secret_file = tmp_path / "relay-password"
        secret_file.write_text(password + "\n", encoding="utf-8")
        right = build(
            make_config(db_url, tmp_path, outbound={**outbound, "password_file": str(secret_file)})
        )
        with caplog.at_level(logging.DEBUG):
            sent = right.sender.flush(NOW.replace(hour=23))
        right.dispose()
    assert {d.status for d in refused} == {"failed"}  # a wrong password gives no mail up
    assert all("login" in d.detail and "535" in d.detail for d in refused)
    assert [d.status for d in sent] == ["sent"] * 3
    assert len(relay.received) == 3
    assert (b"desk@help.example", True) in relay.logins
    assert find(secret_watch.since(mark), {password}) == []
    assert password not in caplog.text


def test_f077_rows_committed_before_a_crash_are_sent_once_after_restart(db_url, tmp_path, sink):
    config = make_config(db_url, tmp_path, outbound={"host": sink.host, "port": sink.port})
    first = build(config)
    ingest(first, message())
    first.engine.dispose()  # the process dies here: committed, nothing sent
    restarted = build(config)
    restarted.sender.flush(NOW)
    restarted.sender.flush(NOW.replace(hour=23))
    assert len(sink.to("alice@acme.ch")) == 1
    assert len(sink.received) == 3
    restarted.engine.dispose()


def test_f079_template_failure_at_send_time_keeps_the_ticket(desk, monkeypatch):
    real = desk.templates.render

    def render(name, lang, context):
        if name == "ack":
            raise RuntimeError("template broke after a deploy")
        return real(name, lang, context)

    monkeypatch.setattr(desk.templates, "render", render)
    result = ingest(desk, message())
    assert result.outcome == "created"
    assert show(desk, "SUP-1")["status"] == "new"
    assert notify is not None
