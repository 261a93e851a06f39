"""Configuration: embedded defaults, a complete file, $MAILDESK_CONFIG, and every refusal.

A wrong key or value must stop start-up with a ConfigError that names the key, so the
admin knows which line of the file to fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from maildesk import config
from maildesk.config import ConfigError

FULL = """
[database]
url = "postgresql://maildesk@db.internal:5432/maildesk"

[smtp]
host = "0.0.0.0"
port = 2526
max_message_bytes = 10485760
max_connections = 50
max_connections_per_client = 50
messages_per_sender_per_minute = 0

[outbound]
host = "relay.internal"
port = 587
from_address = "Support@Help.Example"
from_name = "Service clients"
pickup_dir = "/var/spool/maildesk"
tls = "starttls"
tls_verify = false
username = "desk@help.example"
password_file = "/etc/maildesk/relay-password"

[[queues]]
name = "support"
key_prefix = "SUP"
addresses = ["support@help.example", "Aide@Help.Example"]

[[queues]]
name = "consulting"
key_prefix = "CON"
addresses = ["consulting@help.example"]

[staff]
addresses = ["Consultant@Help.Example"]

[clock]
timezone = "Europe/Zurich"

[processing]
max_attempts = 5
poll_seconds = 0.5
default_queue = "consulting"
new_tickets_per_sender_per_hour = 0
"""


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv("MAILDESK_CONFIG", raising=False)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "maildesk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_embedded_defaults():
    loaded = config.load()
    assert loaded.source == "(embedded defaults)"
    assert loaded.database.url == "sqlite:///maildesk.db"
    assert (loaded.smtp.host, loaded.smtp.port) == ("127.0.0.1", 2525)
    assert [(q.name, q.key_prefix) for q in loaded.queues] == [
        ("support", "SUP"),
        ("consulting", "CON"),
    ]
    assert loaded.default_queue.name == "support"
    assert loaded.clock.timezone == "Europe/Zurich"
    assert loaded.processing.max_attempts == 3
    assert loaded.processing.new_tickets_per_sender_per_hour == 20
    assert loaded.staff.addresses == ()
    smtp = loaded.smtp
    assert (smtp.max_connections, smtp.max_connections_per_client) == (100, 50)
    assert smtp.messages_per_sender_per_minute == 60
    out = loaded.outbound
    assert (out.tls, out.tls_verify, out.ca_file, out.username) == ("none", True, "", "")


def test_full_file(tmp_path):
    path = write(tmp_path, FULL)
    loaded = config.load(path)
    assert loaded.source == str(path)
    assert loaded.database.url == "postgresql+psycopg://maildesk@db.internal:5432/maildesk"
    assert (loaded.smtp.host, loaded.smtp.port, loaded.smtp.max_message_bytes) == (
        "0.0.0.0",
        2526,
        10485760,
    )
    assert loaded.outbound.from_address == "support@help.example"
    assert (loaded.outbound.host, loaded.outbound.port) == ("relay.internal", 587)
    assert loaded.outbound.from_name == "Service clients"
    assert (loaded.smtp.max_connections, loaded.smtp.max_connections_per_client) == (50, 50)
    assert loaded.smtp.messages_per_sender_per_minute == 0  # 0: no limit
    assert (loaded.outbound.tls, loaded.outbound.tls_verify) == ("starttls", False)
    assert loaded.outbound.username == "desk@help.example"
    assert loaded.outbound.password_file == "/etc/maildesk/relay-password"
    assert loaded.queue_for_address("AIDE@help.example").name == "support"
    assert loaded.queue_for_address("consulting@help.example").key_prefix == "CON"
    assert loaded.queue_for_address("stranger@help.example") is None
    assert loaded.staff.addresses == ("consultant@help.example",)
    assert loaded.processing.max_attempts == 5
    assert loaded.processing.poll_seconds == 0.5
    assert loaded.default_queue.name == "consulting"
    assert loaded.processing.new_tickets_per_sender_per_hour == 0  # 0: no cap
    assert "aide@help.example" in loaded.own_addresses


def test_env_variable_names_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, "[smtp]\nport = 2600\n")
    monkeypatch.setenv("MAILDESK_CONFIG", str(path))
    loaded = config.load()
    assert loaded.smtp.port == 2600
    assert loaded.source == str(path)


def test_explicit_path_wins_over_env(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILDESK_CONFIG", str(write(tmp_path, "[smtp]\nport = 2600\n")))
    other = tmp_path / "other.toml"
    other.write_text("[smtp]\nport = 2700\n", encoding="utf-8")
    assert config.load(other).smtp.port == 2700


def test_missing_file_and_bad_toml_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such configuration file"):
        config.load(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(write(tmp_path, "[smtp\nport = 1"))


QUEUE = '[[queues]]\nname = "support"\nkey_prefix = "SUP"\naddresses = ["support@help.example"]\n'

WRONG = {
    "unknown-section": ("[mailbox]\nhost = 'x'\n", "mailbox"),
    "unknown-key": ("[smtp]\nhostname = 'x'\n", "smtp.hostname"),
    "port-too-big": ("[smtp]\nport = 70000\n", "smtp.port"),
    "port-negative": ("[outbound]\nport = -1\n", "outbound.port"),
    "port-string": ("[smtp]\nport = '25'\n", "smtp.port"),
    "port-bool": ("[smtp]\nport = true\n", "smtp.port"),
    "bad-from-address": (
        "[outbound]\nfrom_address = 'support at example'\n",
        "outbound.from_address",
    ),
    "quoted-from-address": (
        "[outbound]\nfrom_address = '\"a@b.example\"@evil.example'\n",
        "outbound.from_address",
    ),
    "bad-staff-address": ("[staff]\naddresses = ['Bob <bob@x.ch>']\n", "staff.addresses[0]"),
    "bad-queue-address": (
        '[[queues]]\nname = "support"\nkey_prefix = "SUP"\naddresses = ["nobody"]\n',
        "queues[0].addresses[0]",
    ),
    "lower-case-key-prefix": (
        '[[queues]]\nname = "support"\nkey_prefix = "sup"\naddresses = ["s@help.example"]\n',
        "queues[0].key_prefix",
    ),
    "long-key-prefix": (
        '[[queues]]\nname = "support"\nkey_prefix = "SUPPORTDESK1"\naddresses = ["s@h.example"]\n',
        "queues[0].key_prefix",
    ),
    "duplicate-queue-address": (
        QUEUE
        + '[[queues]]\nname = "consulting"\nkey_prefix = "CON"\n'
        + 'addresses = ["Support@Help.Example"]\n',
        "support@help.example",
    ),
    "duplicate-key-prefix": (
        QUEUE + '[[queues]]\nname = "other"\nkey_prefix = "SUP"\naddresses = ["o@help.example"]\n',
        "key_prefix",
    ),
    "bad-timezone": ("[clock]\ntimezone = 'Europe/Zuerich'\n", "clock.timezone"),
    "bad-database-url": ("[database]\nurl = 'mysql://root@localhost/maildesk'\n", "database.url"),
    "default-queue-unknown": (
        "[processing]\ndefault_queue = 'sales'\n",
        "processing.default_queue",
    ),
    "from-name-crlf": (
        '[outbound]\nfrom_name = "Support\\r\\nBcc: all@evil.example"\n',
        "outbound.from_name",
    ),
    "from-name-lf": ('[outbound]\nfrom_name = "Support\\nX: y"\n', "outbound.from_name"),
    "zero-attempts": ("[processing]\nmax_attempts = 0\n", "processing.max_attempts"),
    "negative-ticket-cap": (
        "[processing]\nnew_tickets_per_sender_per_hour = -1\n",
        "processing.new_tickets_per_sender_per_hour",
    ),
    "fractional-ticket-cap": (
        "[processing]\nnew_tickets_per_sender_per_hour = 2.5\n",
        "processing.new_tickets_per_sender_per_hour",
    ),
    "section-not-table": ("smtp = 3\n", "smtp"),
    "zero-connections": ("[smtp]\nmax_connections = 0\n", "smtp.max_connections"),
    "per-client-over-total": (
        "[smtp]\nmax_connections = 10\nmax_connections_per_client = 11\n",
        "smtp.max_connections_per_client",
    ),
    "negative-sender-rate": (
        "[smtp]\nmessages_per_sender_per_minute = -1\n",
        "smtp.messages_per_sender_per_minute",
    ),
    "unknown-outbound-tls": ("[outbound]\ntls = 'ssl'\n", "outbound.tls"),
    "tls-verify-not-bool": (
        "[outbound]\ntls = 'starttls'\ntls_verify = 'no'\n",
        "outbound.tls_verify",
    ),
    "tls-verify-without-tls": ("[outbound]\ntls_verify = false\n", "outbound.tls_verify"),
    "ca-file-without-tls": ("[outbound]\nca_file = '/etc/ssl/ca.pem'\n", "outbound.ca_file"),
    "ca-file-missing": (
        "[outbound]\ntls = 'tls'\nca_file = '/nonexistent/ca.pem'\n",
        "outbound.ca_file",
    ),
    "password-without-username": (
        "[outbound]\ntls = 'starttls'\npassword = 'x'\n",
        "outbound.username",
    ),
    "username-without-password": (
        "[outbound]\ntls = 'starttls'\nusername = 'desk'\n",
        "outbound.password",
    ),
    "two-passwords": (
        "[outbound]\ntls = 'starttls'\nusername = 'desk'\npassword = 'x'\n"
        "password_file = '/etc/maildesk/relay-password'\n",
        "outbound.password",
    ),
    "auth-in-clear-text": (
        "[outbound]\nhost = 'relay.example.com'\nusername = 'desk'\npassword = 'x'\n",
        "outbound.tls",
    ),
    "zero-header-fields": ("[processing]\nmax_header_fields = 0\n", "processing.max_header_fields"),
    "text-mime-parts": ("[processing]\nmax_mime_parts = '1000'\n", "processing.max_mime_parts"),
    "negative-attachments": ("[processing]\nmax_attachments = -1\n", "processing.max_attachments"),
    "fractional-parameters": (
        "[processing]\nmax_content_type_parameters = 100.5\n",
        "processing.max_content_type_parameters",
    ),
    "depth-beyond-the-parser": (
        "[processing]\nmax_mime_depth = 500\n",
        "processing.max_mime_depth",
    ),
}


@pytest.mark.parametrize("case", sorted(WRONG))
def test_wrong_value_names_the_key(tmp_path, case):
    text, key = WRONG[case]
    with pytest.raises(ConfigError) as raised:
        config.load(write(tmp_path, text))
    assert key in str(raised.value)


def test_duplicate_queue_address_message_names_queues_key(tmp_path):
    text, _ = WRONG["duplicate-queue-address"]
    with pytest.raises(ConfigError, match=r"^queues: support@help\.example belongs to two queues"):
        config.load(write(tmp_path, text))


def test_from_mapping_does_not_change_its_input():
    data = {"queues": [{"name": "support", "key_prefix": "SUP", "addresses": ["s@h.example"]}]}
    snapshot = repr(data)
    config.from_mapping(data)
    assert repr(data) == snapshot


def test_ca_file_and_auth_to_a_local_relay_without_tls(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    loaded = config.from_mapping({"outbound": {"tls": "tls", "ca_file": str(ca)}})
    assert loaded.outbound.ca_file == str(ca)
    local = {"host": "127.0.0.1", "username": "desk", "password": "Local-Relay-Pw"}
    assert config.from_mapping({"outbound": local}).outbound.username == "desk"


def test_relay_password_is_not_in_the_repr_or_any_error():
    password = "Relay-Pw-7f3a9c"
    loaded = config.from_mapping(
        {"outbound": {"tls": "starttls", "username": "desk", "password": password}}
    )
    assert loaded.outbound.password == password
    assert password not in repr(loaded)
    with pytest.raises(ConfigError) as raised:
        config.from_mapping(
            {"outbound": {"host": "relay.example.com", "username": "d", "password": password}}
        )
    assert password not in str(raised.value)


def test_mime_limits_are_read_from_processing(tmp_path):
    text = (
        "[processing]\nmax_header_fields = 2000\nmax_mime_parts = 3000\nmax_mime_depth = 80\n"
        "max_attachments = 400\nmax_content_type_parameters = 250\n"
    )
    loaded = config.load(write(tmp_path, text)).processing
    assert (
        loaded.max_header_fields,
        loaded.max_mime_parts,
        loaded.max_mime_depth,
        loaded.max_attachments,
        loaded.max_content_type_parameters,
    ) == (2000, 3000, 80, 400, 250)
    with pytest.raises(ConfigError, match=r"processing\.max_mime_depth: at most 200"):
        config.load(write(tmp_path, "[processing]\nmax_mime_depth = 201\n"))
    with pytest.raises(ConfigError, match=r"must be a positive integer, got 0"):
        config.load(write(tmp_path, "[processing]\nmax_mime_parts = 0\n"))
