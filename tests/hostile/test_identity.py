"""F45–F53: forged senders, tokens, Cc injection, Authentication-Results, control headers."""

from __future__ import annotations

import pytest

from maildesk.inbound.parse import parse
from tests.conftest import NOW, make_config
from tests.hostile.support import ingest, outbox_to, show, sqlite_desk
from tests.mail import message


@pytest.fixture
def desk(tmp_path):
    built = sqlite_desk(tmp_path)
    assert ingest(built, message()).ticket == "SUP-1"  # alice@acme.ch opens SUP-1
    yield built
    built.engine.dispose()


def test_f045_stranger_with_a_tag_opens_a_linked_ticket(desk):
    result = ingest(
        desk,
        message(sender="mallory@evil.example", subject="Re: [SUP-1] ferme", message_id="<m@e>"),
    )
    assert (result.outcome, result.ticket) == ("created", "SUP-2")
    assert len(show(desk, "SUP-1")["messages"]) == 1


def test_f045_forged_participant_with_a_tag_is_appended_as_documented(desk):
    # Decided differently (README, Threading): a tag from a participant's address is
    # honoured; without Authentication-Results a forged From cannot be told apart.
    forged = message(subject="Re: [SUP-1] merci", message_id="<forged@evil.example>")
    assert ingest(desk, forged).outcome == "appended"


def test_f046_forged_staff_sender_from_outside_gets_no_staff_rights(desk):
    forged = message(
        sender="Consultant <consultant@help.example>",
        subject="Re: [SUP-1] #status closed",
        body="#status closed\nDone.\n",
        message_id="<fake-staff@evil.example>",
    )
    result = ingest(desk, forged)
    assert result.outcome == "appended"
    assert show(desk, "SUP-1")["status"] == "new"
    assert outbox_to(desk, "alice@acme.ch")[-1]["template"] == "ack"  # nothing relayed


def test_f047_token_from_another_sender_does_not_add_a_participant(desk):
    token = desk.ids.make("SUP-1", "help.example")
    ingest(desk, message(sender="bob@other.example", message_id="<b@o>", in_reply_to=token))
    addresses = [p["address"] for p in show(desk, "SUP-1")["participants"]]
    assert addresses == ["alice@acme.ch"]


@pytest.mark.parametrize("tamper", ["flip", "replay"])
def test_f048_tampered_or_replayed_token_is_treated_as_new_mail(desk, tamper):
    ingest(desk, message(sender="carol@other.example", subject="Autre chose", message_id="<c@o>"))
    token = desk.ids.make("SUP-1", "help.example")
    if tamper == "flip":
        i = token.index("@") - 3
        forged = token[:i] + ("a" if token[i] != "a" else "b") + token[i + 1 :]
    else:
        forged = token.replace("SUP-1", "SUP-2")
    assert desk.ids.ticket_key(forged) is None
    result = ingest(
        desk, message(sender="mallory@evil.example", in_reply_to=forged, message_id="<t@e>")
    )
    assert result.outcome == "created"
    assert [len(show(desk, k)["messages"]) for k in ("SUP-1", "SUP-2")] == [1, 1]


def test_f049_cc_on_a_reply_is_not_made_a_participant(desk):
    token = desk.ids.make("SUP-1", "help.example")
    ingest(
        desk,
        message(in_reply_to=token, message_id="<r@a>", cc="attacker@evil.example", subject="Re"),
    )
    addresses = [p["address"] for p in show(desk, "SUP-1")["participants"]]
    assert "attacker@evil.example" not in addresses


@pytest.fixture
def authserv_desk(tmp_path):
    config = make_config(
        f"sqlite:///{tmp_path / 'a.db'}",
        tmp_path,
        staff={
            "addresses": ["consultant@help.example"],
            "trusted_authserv_ids": ["mx.help.example"],
        },
    )
    from maildesk.daemon.app import build

    built = build(config)
    ingest(built, message())
    built.sender.flush(NOW)
    yield built
    built.engine.dispose()


def _staff_reply(desk, results: list[str]) -> bytes:
    [note] = outbox_to(desk, "consultant@help.example")
    headers = {"Authentication-Results": results[0]}
    raw = message(
        sender="Consultant <consultant@help.example>",
        subject="Re: [SUP-1]",
        body="Voici la correction.\n",
        message_id="<staff-1@help.example>",
        in_reply_to=note["message_id"],
        headers=headers,
    )
    for extra in results[1:]:
        raw = raw.replace(b"\nSubject:", f"\nAuthentication-Results: {extra}\nSubject:".encode(), 1)
    return raw


@pytest.mark.parametrize(
    "results",
    [
        ["evil.example; dkim=pass header.d=help.example; dmarc=pass header.from=help.example"],
        [  # the first lands below the Message-ID (forged), the second on top (ours)
            "mx.help.example; dkim=pass header.d=help.example",
            "mx.help.example; dkim=fail header.d=help.example",
        ],
    ],
    ids=["foreign-authserv", "forged-below-ours"],
)
def test_f050_forged_authentication_results_are_ignored(authserv_desk, results):
    result = ingest(authserv_desk, _staff_reply(authserv_desk, results))
    assert "relayed" not in (result.reason or "")
    assert outbox_to(authserv_desk, "alice@acme.ch")[-1]["template"] == "ack"


def test_f050_our_topmost_pass_grants_staff_rights(authserv_desk):
    raw = _staff_reply(authserv_desk, ["mx.help.example; dkim=pass header.d=help.example"])
    assert "relayed" in (ingest(authserv_desk, raw).reason or "")


def test_f051_cve_2023_27043_shape_is_never_mapped_to_alice(desk):
    result = ingest(desk, message(sender="alice@example.org)<bob@example.org>", message_id="<q@q>"))
    assert parse(message(sender="alice@example.org)<bob@example.org>")).sender == ""
    assert (result.outcome, result.ticket) == ("ignored", None)


@pytest.mark.parametrize("shape", ["two-headers", "two-addresses", "same-address-twice"])
def test_f051_several_senders_are_not_a_sender(desk, shape):
    if shape == "two-headers":
        raw = message().replace(b"From: Alice", b"From: mallory@evil.example\nFrom: Alice")
    elif shape == "two-addresses":
        raw = message(sender="alice@acme.ch, mallory@evil.example")
    else:
        raw = message().replace(b"From: Alice", b"From: alice@acme.ch\nFrom: Alice")
    parsed = parse(raw)
    assert (parsed.sender, parsed.sender_name) == ("", "")
    assert "several-from" in parsed.defects
    result = ingest(desk, raw)
    assert (result.outcome, result.ticket) == ("ignored", None)
    assert "no-usable-sender: several From mailboxes" in (result.reason or "")


def test_f051_one_from_mailbox_is_the_sender():
    assert parse(message()).sender == "alice@acme.ch"


def test_f052_display_name_spoof_shows_the_real_address(desk):
    spoof = '"support@help.example" <attacker@evil.example>'
    result = ingest(desk, message(sender=spoof, subject="Facture SwissDec", message_id="<s@e>"))
    shown = show(desk, result.ticket)
    assert shown["requester"] == "attacker@evil.example"
    desk.sender.flush(NOW)
    [ack] = outbox_to(desk, "attacker@evil.example")
    assert ack["recipient"] == "attacker@evil.example"


def test_f053_control_headers_from_outside_are_ignored(desk):
    raw = message(
        sender="mallory@evil.example",
        subject="Nouvelle demande SwissDec",
        message_id="<ctl@e>",
        headers={"X-Maildesk-Ticket": "SUP-1", "X-Maildesk-Priority": "critical"},
    )
    result = ingest(desk, raw)
    assert (result.outcome, result.ticket) == ("created", "SUP-2")
    assert len(show(desk, "SUP-1")["messages"]) == 1
