"""Real output of every JSON command against the shapes documented in docs/json.md.

The tables of docs/json.md are the contract: this test parses them, runs the commands on
a desk with linked, waiting, closed and bounced tickets (SQLite and PostgreSQL), and
checks that each document has exactly the documented fields, each of its one type, and
that every documented field was seen (nullable ones with a value too, where the desk can
produce one).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from maildesk.cli import main
from tests.integration.daemon import write_config
from tests.mail import message

DOC = Path(__file__).resolve().parents[2] / "docs" / "json.md"
_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*([^|]+?)\s*\|")
_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?[+-]\d\d:\d\d$")
TYPES = {
    "string",
    "integer",
    "boolean",
    "datetime",
    "object",
    "map of string",
    "array of string",
    "array of object",
}
# Never filled on this desk: a delivery error needs a failing relay (tests/hostile/test_outbound).
NEVER_FILLED = {("outbox-list", "notifications[].last_error")}


def shapes() -> dict[str, dict[str, str]]:
    """{shape name: {field path: type}} from the tables that follow `<!-- shape: NAME -->`."""
    found: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        marker = re.match(r"^<!-- shape: ([\w-]+) -->$", line.strip())
        if marker:
            current = found.setdefault(marker.group(1), {})
            continue
        row = _ROW.match(line)
        if current is not None and row:
            path, kind = row.groups()
            assert kind.removesuffix(" or null") in TYPES, f"{path}: unknown type {kind!r}"
            assert path not in current, f"{path} documented twice"
            current[path] = kind
        elif current is not None and current and not line.startswith("|"):
            current = None
    return found


class Checker:
    def __init__(self, shape: dict[str, str]) -> None:
        self.shape = shape
        self.seen: set[str] = set()
        self.filled: set[str] = set()
        self.problems: list[str] = []

    def members(self, prefix: str) -> set[str]:
        return {
            p[len(prefix) :]
            for p in self.shape
            if p.startswith(prefix) and not re.search(r"[.\[]", p[len(prefix) :])
        }

    def document(self, doc: object) -> None:
        self.object(doc, "", "(document)")

    def object(self, value: object, prefix: str, where: str) -> None:
        if not isinstance(value, dict):
            self.problems.append(f"{where}: {value!r} is not an object")
            return
        documented = self.members(prefix)
        if set(value) != documented:
            extra, missing = set(value) - documented, documented - set(value)
            self.problems.append(
                f"{where}: undocumented {extra or '{}'}, missing {missing or '{}'}"
            )
        for name in set(value) & documented:
            self.field(value[name], prefix + name)

    def field(self, value: object, path: str) -> None:
        kind = self.shape[path]
        self.seen.add(path)
        base = kind.removesuffix(" or null")
        if value is None:
            if base == kind:
                self.problems.append(f"{path}: null, documented as {kind}")
            return
        self.filled.add(path)
        ok = {
            "string": isinstance(value, str),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "boolean": isinstance(value, bool),
            "datetime": isinstance(value, str) and bool(_ISO.match(value)),
            "map of string": isinstance(value, dict)
            and all(isinstance(v, str) for v in value.values()),
            "array of string": isinstance(value, list) and all(isinstance(v, str) for v in value),
            "object": isinstance(value, dict),
            "array of object": isinstance(value, list),
        }[base]
        if not ok:
            self.problems.append(f"{path}: {value!r} is not {kind}")
            return
        if base == "datetime":
            datetime.fromisoformat(value)  # a real instant, not only its form
        if base == "object":
            self.object(value, path + ".", path)
        if base == "array of object":
            for i, item in enumerate(value):
                self.object(item, path + "[].", f"{path}[{i}]")


def test_the_documented_shapes_are_complete():
    found = shapes()
    assert set(found) == {"tickets-show", "tickets-list", "outbox-list", "ingest", "trace"}
    for name, shape in found.items():
        assert shape.get("schema") == "integer", name
        for path in shape:
            parent = re.sub(r"(\[\])?\.[^.\[]+$", "", path) if "." in path else None
            if parent is not None:
                assert parent in shape, f"{name}: {path} has no documented parent"
                expected = "array of object" if path.startswith(parent + "[]") else "object"
                assert shape[parent].removesuffix(" or null") == expected, f"{name}: {path}"


def cli(capsys, cfg: Path, *args: str) -> str:
    capsys.readouterr()
    code = main(["--config", str(cfg), *args])
    out = capsys.readouterr().out
    assert code == 0, (args, out)
    return out


def request_with_attachment() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Alice Martin <alice@acme.ch>"
    msg["To"] = "support@help.example"
    msg["Cc"] = "Bob Keller <bob@partner.example>"
    msg["Subject"] = "Erreur lors de la transmission SwissDec pour M. Dupont"
    msg["Message-ID"] = "<req-1@acme.ch>"
    msg.set_content("Bonjour,\nVersion : 12.4.1\nSociété : Acme SA\nTéléphone : +41 31 555 01 23\n")
    msg.add_alternative("<p>Bonjour</p>", subtype="html")
    msg.add_attachment(b"\x89PNG\r\n\x1a\n" + bytes(2000), "image", "png", filename="écran.png")
    return msg.as_bytes()


def test_every_command_prints_the_documented_shape(db_url, tmp_path, capsys):
    cfg, _ = write_config(tmp_path, db_url)
    found = shapes()
    checkers = {name: Checker(shape) for name, shape in found.items()}
    mails = {
        "request": request_with_attachment(),
        "stranger": message(
            sender="Carol <carol@other.example>",
            subject="RE: [SUP-1] suite",
            message_id="<stranger-1@other.example>",
        ),
        "vague": message(
            sender="dora@gmail.com", subject="Salaire", message_id="<vague-1@gmail.com>"
        ),
    }
    for name, raw in mails.items():
        (tmp_path / f"{name}.eml").write_bytes(raw)
    out = cli(
        capsys,
        cfg,
        "ingest",
        "--now",
        "2026-03-02T09:00:00+01:00",
        "--rcpt",
        "support@help.example",
        *(str(tmp_path / f"{n}.eml") for n in mails),
    )
    ingested = [json.loads(line) for line in out.splitlines()]
    assert [d["outcome"] for d in ingested] == ["created", "created", "created"]

    staff = ("--as", "consultant@help.example")
    at = ("--now", "2026-03-02T10:00:00+01:00")
    cli(
        capsys,
        cfg,
        "tickets",
        "set",
        "SUP-1",
        "--status",
        "in_progress",
        "--assign",
        "consultant@help.example",
        *staff,
        *at,
    )
    cli(capsys, cfg, "tickets", "set", "SUP-1", "--status", "waiting_customer", *staff, *at)
    cli(
        capsys,
        cfg,
        "tickets",
        "set",
        "SUP-2",
        "--status",
        "closed",
        "--resolution",
        "solved",
        "--reason",
        "answered by phone",
        *staff,
        *at,
    )
    cli(capsys, cfg, "outbox", "flush", "--now", "2026-03-02T10:05:00+01:00")

    ack = next(
        n["message_id"]
        for n in json.loads(cli(capsys, cfg, "outbox", "list", "--json"))["notifications"]
        if n["template"] == "ack" and n["recipient"] == "alice@acme.ch"
    )
    notice = message(
        sender="Mail Relay <relay@mx.partner.example>",
        subject="Mail could not be delivered",
        body=f"Mailbox full.\n\n> Message-ID: {ack}\n",
        message_id="<notice-1@mx.partner.example>",
    )
    (tmp_path / "notice.eml").write_bytes(notice)
    # no sender: nothing to answer, no ticket (empty input is refused with 65, no document)
    (tmp_path / "empty.eml").write_bytes(b"Subject: no sender\r\n\r\nhello\r\n")
    out = cli(
        capsys,
        cfg,
        "ingest",
        "--now",
        "2026-03-02T11:00:00+01:00",
        str(tmp_path / "notice.eml"),
        str(tmp_path / "empty.eml"),
    )
    ingested += [json.loads(line) for line in out.splitlines()]
    assert ingested[3]["outcome"] == "ignored"
    assert ingested[4]["ticket"] is None

    for doc in ingested:
        checkers["ingest"].document(doc)
    for key in ("SUP-1", "SUP-2", "SUP-3"):
        shown = json.loads(
            cli(capsys, cfg, "tickets", "show", key, "--json", "--now", "2026-03-03T09:00:00Z")
        )
        checkers["tickets-show"].document(shown)
    checkers["tickets-list"].document(json.loads(cli(capsys, cfg, "tickets", "list", "--json")))
    checkers["outbox-list"].document(json.loads(cli(capsys, cfg, "outbox", "list", "--json")))
    for doc in ingested:
        if doc["message_id"]:
            traced = json.loads(cli(capsys, cfg, "trace", doc["message_id"], "--json"))
            checkers["trace"].document(traced)

    for name, checker in checkers.items():
        assert checker.problems == [], name
        assert checker.seen == set(found[name]), name
        unfilled = {p for p, k in found[name].items() if k.endswith(" or null")} - checker.filled
        assert {(name, p) for p in unfilled} <= NEVER_FILLED, unfilled
    shown = json.loads(cli(capsys, cfg, "tickets", "show", "SUP-3", "--json"))
    assert shown["schema"] == 1
    assert shown["subject_quality"]["ok"] is False
    assert shown["subject_quality"]["reasons"]


@pytest.mark.parametrize("shape", ["tickets-show", "tickets-list", "outbox-list", "trace"])
def test_a_wrong_document_fails_the_check(shape):
    """The checker itself: an undocumented field, a missing one and a wrong type fail."""
    checker = Checker(shapes()[shape])
    checker.document({"schema": "1", "surprise": True})
    assert any("undocumented {'surprise'}" in p for p in checker.problems)
    assert any("missing" in p and "{}" not in p.split("missing")[1] for p in checker.problems)
    assert any(p.startswith("schema: '1' is not integer") for p in checker.problems)
