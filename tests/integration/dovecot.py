"""The throw-away Dovecot that `.ci/dovecot.sh` starts: is it answering, and mailbox helpers.

Users `desk1` and `desk2` (password `secret`) on 127.0.0.1:10143, plaintext on loopback.
"""

from __future__ import annotations

import socket
import time

from imapclient import IMAPClient

from maildesk.config.imap import ImapAccount, accounts_from

HOST, PORT = "127.0.0.1", 10143
PASSWORD = "secret"


def dovecot_available(patience: float = 15.0) -> bool:
    """True when something on 127.0.0.1:10143 greets like an IMAP server.

    Dovecot may take a moment to greet (a login process being started), so a slow or
    empty greeting is tried again for up to `patience` seconds before giving up.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            with socket.create_connection((HOST, PORT), timeout=5) as sock:
                if sock.recv(100).startswith(b"* OK"):
                    return True
        except OSError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


def client(user: str) -> IMAPClient:
    imap = IMAPClient(HOST, port=PORT, ssl=False, timeout=10)
    imap.login(user, PASSWORD)
    return imap


def reset(user: str) -> None:
    """Empty INBOX and delete every other folder, so each test starts from nothing."""
    with client(user) as imap:
        for _flags, _sep, name in imap.list_folders():
            if name != "INBOX":
                imap.delete_folder(name)
        imap.select_folder("INBOX")
        uids = imap.search("ALL")
        if uids:
            imap.delete_messages(uids)
            imap.expunge()


def append(user: str, raw: bytes, folder: str = "INBOX") -> None:
    with client(user) as imap:
        imap.append(folder, raw)


def messages(user: str, folder: str) -> list[tuple[bytes, tuple[bytes, ...]]]:
    """(raw bytes, flags) of every message in `folder`; [] when the folder does not exist."""
    with client(user) as imap:
        if not imap.folder_exists(folder):
            return []
        imap.select_folder(folder, readonly=True)
        found = imap.fetch(imap.search("ALL"), ["BODY.PEEK[]", "FLAGS"])
        return [(data[b"BODY[]"], data[b"FLAGS"]) for _uid, data in sorted(found.items())]


def account(user: str = "desk1", **overrides: object) -> ImapAccount:
    """An account on the test server, built the way the configuration file builds it."""
    values: dict[str, object] = {
        "name": user,
        "host": HOST,
        "port": PORT,
        "tls": "none",
        "username": user,
        "password": PASSWORD,
        "poll_seconds": 300,
    }
    (built,) = accounts_from([values | overrides], queues=("support", "consulting"))
    return built
