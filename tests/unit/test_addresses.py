"""The address guard (CVE-2023-27043) and header-safe formatting.

Whatever the interpreter's own parser makes of a hostile address, maildesk must refuse
it rather than act on the wrong part, and must never write CR/LF into a header.
"""

from __future__ import annotations

import re
from email import policy
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maildesk.addresses import addresses_in, format_address, normalise_address

HOSTILE = [
    '"alice@good.example"@evil.example',
    "alice@good.example@evil",
    "alice@good.example@evil.example",
    "alice(comment)@good.example",
    "alice@(comment)good.example",
    "alice@good.example(comment)",
    '"alice"@good.example',
    '"alice smith"@good.example',
    "ali\r\nce@good.example",
    "alice@good.example\r\nBcc: x@evil.example",
    "alice@good.example\nBcc: x@evil.example",
    "alice@good\r.example",
    "@evil.example:alice@good.example",
    "alice@[127.0.0.1]",
    "alice@example.org)<bob@example.org>",
    "alice@example.com<bob@example.com>",
    "Alice <alice@good.example>",
    "alice@good.example, bob@good.example",
    "",
    "alice",
    "alice@",
    "@good.example",
    "alice..x@good.example",
    "alice@-good.example",
]


def message_from(header_value: bytes) -> EmailMessage:
    raw = b"From: " + header_value + b"\r\nTo: support@help.example\r\nSubject: s\r\n\r\nbody\r\n"
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    return msg


@pytest.mark.parametrize("text", HOSTILE)
def test_normalise_refuses_anything_but_one_plain_address(text):
    assert normalise_address(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alice@good.example", "alice@good.example"),
        ("Alice.Martin@ACME.CH", "alice.martin@acme.ch"),
        ("<Bob+tickets@Sub.Acme.CH>", "bob+tickets@sub.acme.ch"),
        ("  carol_o'neil@acme-group.ch ", "carol_o'neil@acme-group.ch"),
    ],
)
def test_normalise_accepts_and_lower_cases(text, expected):
    assert normalise_address(text) == expected


@pytest.mark.parametrize(
    "value",
    [
        b'"alice@good.example"@evil.example',
        b'Alice <"alice@good.example"@evil.example>',
        b"alice@good.example@evil",
        b"Alice <alice@good.example@evil>",
        b'"alice smith"@good.example',
        b"ali\rce@good.example",
        b"ali\nce@good.example",
        b"al\xe9ce@good.example",
        b"Alice <al\xe9ce@good.example>",
        "Alice <alicé@good.example>".encode(),
    ],
)
def test_addresses_in_refuses_hostile_from(value):
    assert addresses_in(message_from(value), "from") == []


@pytest.mark.parametrize(
    "value",
    [
        b"alice(comment)@good.example",
        b"alice@(comment)good.example",
        b'"alice"@good.example',
    ],
)
def test_addresses_in_refuses_comments_and_quoted_local_parts(value):
    assert addresses_in(message_from(value), "from") == []


@pytest.mark.parametrize(
    "value", [b"alice@example.org)<bob@example.org>", b"alice@example.com<bob@example.com>"]
)
def test_addresses_in_refuses_addresses_the_parser_must_guess(value):
    assert addresses_in(message_from(value), "from") == []


@pytest.mark.parametrize("value", ["ali\r\nce@good.example", "alice@good.example\r\nBcc: x@y.ch"])
def test_addresses_in_refuses_raw_crlf(value):
    msg = EmailMessage()
    msg.set_raw("From", value)
    assert addresses_in(msg, "from") == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"Name <a@B.ch>", [("Name", "a@b.ch")]),
        (b"Alice.Martin@ACME.CH", [("", "alice.martin@acme.ch")]),
        (b'"Martin, Alice" <alice@acme.ch>', [("Martin, Alice", "alice@acme.ch")]),
        (
            b"=?utf-8?q?Andr=C3=A9_M=C3=BCller?= <Andre@Example.CH>",
            [("André Müller", "andre@example.ch")],
        ),
        (b"=?iso-8859-1?q?Suzanne_Lef=E8vre?= <S@Acme.ch>", [("Suzanne Lefèvre", "s@acme.ch")]),
        (
            b'Bob <bob@acme.ch>, "x@y.ch"@evil.example, carol@acme.ch',
            [("Bob", "bob@acme.ch"), ("", "carol@acme.ch")],
        ),
        # Raw 8-bit display names: UTF-8 is read as such, anything else as windows-1252.
        (b"Andr\xe9 <Alice@Acme.ch>", [("Andr\xe9", "alice@acme.ch")]),
        ("André <alice@acme.ch>".encode(), [("André", "alice@acme.ch")]),
    ],
)
def test_addresses_in_accepts_normal_addresses(value, expected):
    assert addresses_in(message_from(value), "from") == expected


def test_addresses_in_of_a_missing_header_is_empty():
    assert addresses_in(message_from(b"alice@acme.ch"), "cc") == []


@given(st.text(max_size=80))
def test_format_address_never_emits_line_breaks(name):
    rendered = format_address(name, "Alice@Acme.ch")
    assert "\r" not in rendered
    assert "\n" not in rendered
    assert len(rendered.splitlines()) <= 1
    parsed = HeaderRegistry()("to", rendered)
    assert [a.addr_spec for a in parsed.addresses] == ["alice@acme.ch"]


@pytest.mark.parametrize("address", HOSTILE)
def test_format_address_refuses_unsafe_addresses(address):
    with pytest.raises(ValueError, match="unsafe address"):
        format_address("Alice", address)


def test_the_fast_reading_of_one_plain_mailbox_is_the_stdlib_parsers():
    """`Name <addr>` and a bare address skip the stdlib's header parser; whatever the fast
    path accepts must read exactly as the full path reads it (and what it refuses falls
    through to the full path)."""
    import random

    from maildesk import addresses

    rnd = random.Random(3)
    pieces = ["Anna", "Müller", "O'Brien", "jean-luc", "a_b", "Dr.", "x", "42", "=?utf-8?q?x?="]
    pieces += ['"Q"', "(c)", "<", ">", ",", "@", ";", ":", "\\"]
    addrs = ["a@b.ch", "Anna.Muller@Firm-1.example", "x+y@z.io", "bad@", "@x.ch", "a..b@c.ch"]
    addrs += ["a@b.ch.", "ä@b.ch", "a@-b.ch", "first.last@sub.domain.example.org"]
    values = []
    for _ in range(4000):
        name = " ".join(rnd.choice(pieces) for _ in range(rnd.randrange(0, 4)))
        addr = rnd.choice(addrs)
        spaces = rnd.choice(["", " ", "  ", "\t"])
        shape = rnd.randrange(3)
        if shape == 0:
            values.append(f"{spaces}{name}{spaces} <{addr}>{spaces}")
        elif shape == 1:
            values.append(f"{spaces}{addr}{spaces}")
        else:
            values.append(f"{name}<{addr}>")
    fast = 0
    for value in values:
        full = _full_reading(addresses, value)
        if addresses._SIMPLE.match(value):
            fast += 1
        assert addresses._parse_header_value(value) == full, value
    assert fast > 500  # the fast path was taken, often


def _full_reading(addresses, value):
    """The reading with the fast path switched off."""
    saved = addresses._SIMPLE
    addresses._SIMPLE = re.compile(r"(?!)")  # matches nothing
    try:
        return addresses._parse_header_value(value)
    finally:
        addresses._SIMPLE = saved
