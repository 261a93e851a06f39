"""`[[imap]]` validation: defaults, and every mistake named by its key."""

from __future__ import annotations

import pytest

from maildesk.config import ConfigError
from maildesk.config.imap import ImapAccount, accounts_from

BASE = {"name": "support", "host": "imap.example.com", "username": "desk", "password": "pw"}


def one(**changes: object) -> ImapAccount:
    """One account from BASE with `changes`; a change to None removes the key."""
    item = {k: v for k, v in (BASE | changes).items() if v is not None}
    (account,) = accounts_from([item], queues=("support", "consulting"))
    return account


def error(*items: dict, queues=("support",)) -> str:
    with pytest.raises(ConfigError) as err:
        accounts_from(list(items), queues=queues)
    return str(err.value)


def test_defaults_are_safe():
    account = one()
    assert (account.tls, account.port, account.folder) == ("implicit", 993, "INBOX")
    assert (account.processed_folder, account.quarantine_folder) == ("Processed", "Quarantine")
    assert account.idle is True
    assert account.idle_renew_seconds == 600
    assert not account.uses_oauth2
    assert "pw" not in repr(account)


def test_port_follows_tls_unless_given():
    assert one(tls="starttls").port == 143
    assert one(tls="starttls", port=1143).port == 1143
    assert one(tls="none", host="127.0.0.1").port == 143


def test_oauth2_token_sources():
    account = one(password=None, oauth2_token_command="get-token --user desk")
    assert account.uses_oauth2
    assert one(password=None, oauth2_token_file="/run/token").uses_oauth2


def test_no_accounts_is_fine():
    assert accounts_from([]) == ()


@pytest.mark.parametrize(
    ("changes", "key", "words"),
    [
        ({"tls": "ssl"}, "imap[0].tls", "implicit, starttls, none"),
        ({"tls": "none"}, "imap[0].tls", "only allowed"),
        ({"port": 0}, "imap[0].port", "1-65535"),
        ({"port": "993"}, "imap[0].port", "port number"),
        ({"name": "Support Desk"}, "imap[0].name", "lower-case"),
        ({"host": ""}, "imap[0].host", "required"),
        ({"password": None}, "imap[0].password", "exactly one"),
        ({"password_file": "/etc/pw"}, "imap[0].password", "got password, password_file"),
        ({"idle": "yes"}, "imap[0].idle", "true or false"),
        ({"idle_renew_seconds": 1800}, "imap[0].idle_renew_seconds", "30 minutes"),
        ({"poll_seconds": 0}, "imap[0].poll_seconds", "positive"),
        ({"processed_folder": "INBOX"}, "imap[0].processed_folder", "three different"),
        ({"quarantine_folder": " "}, "imap[0].quarantine_folder", "empty"),
        ({"queue": "sales"}, "imap[0].queue", "not a configured queue"),
        ({"folder": "IN\nBOX"}, "imap[0].folder", "control characters"),
        ({"user": "desk"}, "imap[0].user", "unknown key"),
    ],
)
def test_mistakes_name_their_key(changes, key, words):
    item = {k: v for k, v in (BASE | changes).items() if v is not None}
    message = error(item)
    assert message.startswith(f"{key}:"), message
    assert words in message


def test_second_account_is_named_by_index():
    assert error(BASE, BASE | {"name": "other", "tls": "bad"}).startswith("imap[1].tls:")


def test_names_are_unique():
    assert "'support' is used twice" in error(BASE, BASE)


def test_shape_errors():
    assert error({"imap": 1}).startswith("imap[0].")
    with pytest.raises(ConfigError, match="array of tables"):
        accounts_from({"name": "x"})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"imap\[0\]: must be a table"):
        accounts_from(["support"])


def test_queue_is_not_checked_without_the_queue_list():
    (account,) = accounts_from([BASE | {"queue": "anything"}])
    assert account.queue == "anything"
