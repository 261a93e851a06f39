"""Relative paths in a configuration file are relative to that file's folder; the new
[logging] and [status] sections are checked like every other."""

from __future__ import annotations

import pytest

from maildesk import config


def _load(tmp_path, text: str) -> config.Config:
    folder = tmp_path / "etc"
    folder.mkdir(exist_ok=True)
    (folder / "maildesk.toml").write_text(text)
    return config.load(folder / "maildesk.toml")


def test_every_relative_path_resolves_against_the_file_folder(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "ca.pem").write_text("")
    loaded = _load(
        tmp_path,
        '[database]\nurl = "sqlite:///state/desk.db"\n'
        '[outbound]\npickup_dir = "out"\nhost = "relay.example.com"\ntls = "starttls"\n'
        'ca_file = "ca.pem"\nusername = "u"\npassword_file = "secret"\n'
        '[templates]\ndirectory = "../mine"\n[logging]\nfile = "log/maildesk.log"\n'
        '[[imap]]\nname = "box"\nhost = "imap.example.com"\nusername = "u"\n'
        'password_file = "imap-secret"\nqueue = "support"\n',
    )
    assert loaded.database.url == f"sqlite:///{etc}/state/desk.db"
    assert loaded.outbound.pickup_dir == f"{etc}/out"
    assert loaded.outbound.ca_file == f"{etc}/ca.pem"
    assert loaded.outbound.password_file == f"{etc}/secret"
    assert loaded.templates.directory == f"{etc}/../mine"
    assert loaded.logging.file == f"{etc}/log/maildesk.log"
    assert loaded.imap[0].password_file == f"{etc}/imap-secret"


def test_absolute_paths_memory_databases_and_defaults_stay_as_they_are(tmp_path):
    loaded = _load(tmp_path, '[database]\nurl = "sqlite:////var/lib/desk.db"\n')
    assert loaded.database.url == "sqlite:////var/lib/desk.db"
    assert loaded.outbound.pickup_dir == "outbox"  # not in the file: the embedded default
    memory = _load(tmp_path, '[database]\nurl = "sqlite:///:memory:"\n')
    assert memory.database.url == "sqlite:///:memory:"
    assert config.from_mapping({"outbound": {"pickup_dir": "out"}}).outbound.pickup_dir == "out"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[status]\nquarantined_warning = -1\n", "status.quarantined_warning"),
        ("[status]\npending_warning_minutes = 0\n", "status.pending_warning_minutes"),
        ("[status]\nnope = 1\n", "status.nope: unknown key"),
        ("[logging]\nfile = 3\n", "logging.file: must be a string"),
    ],
)
def test_status_and_logging_values_are_checked(tmp_path, text, message):
    with pytest.raises(config.ConfigError, match=message):
        _load(tmp_path, text)


def test_an_unreadable_config_file_is_a_configuration_error(tmp_path):
    with pytest.raises(config.ConfigError, match="cannot read"):
        config.load(tmp_path)  # a folder, not a file
