"""`compose`: whatever text a customer supplies, the mail keeps exactly the headers we set.

Subjects and display names come from customers (decoded encoded words included), so the
property is tried over any text with line breaks, NUL, Unicode separators and `=?` words.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from maildesk.desk.effects import AUTO_GENERATED, AUTO_REPLIED
from maildesk.outbound.compose import Headers, compose
from maildesk.outbound.render import Rendered

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OURS = "<SUP-1.0123456789abcdef.0123456789abcdef0123@help.example>"
BASE = [
    "from",
    "to",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "x-maildesk-loop",
    "mime-version",
    "content-type",
    "content-language",
]
THREAD = ["in-reply-to", "references"]
AUTOMATIC = ["auto-submitted", "x-auto-response-suppress", "precedence"]

# Text the way hostile or broken mail delivers it: line breaks, NUL, Unicode separators,
# things that look like headers or encoded words, and anything else.
TRICKY = st.sampled_from(
    ["\r", "\n", "\r\n", "\x00", "\u2028", "\u2029", "\x85", "\t", "\x0b", "\x0c", "=?", "?=",
     "=?utf-8?b?QmNjOiB2aWN0aW1AZXZpbC5leGFtcGxl?=", "=?utf-8?q?a=0D=0Ab?=", "=?utf-8?q?",
     "Bcc: x@evil.example",
     ": ", "<", ">", '"', "\\", ",", ";", "@", " "]
)  # fmt: skip
# Encoded words as literal text (what a customer's doubly encoded header decodes to).
CRLF_WORD = "=?utf-8?b?eA0KQmNjOiB2aWN0aW1AZXZpbC5leGFtcGxl?="  # "x\r\nBcc: victim@evil.example"
BCC_WORD = "=?utf-8?b?QmNjOiB2aWN0aW1AZXZpbC5leGFtcGxl?="  # "Bcc: victim@evil.example"
TEXT = st.lists(st.one_of(TRICKY, st.text(max_size=20)), max_size=12).map("".join)


def headers(name: str = "Alice", **changes: object) -> Headers:
    values: dict = {
        "ticket_key": "SUP-1",
        "from_name": name,
        "from_address": "support@help.example",
        "to_name": name,
        "to_address": "alice@acme.ch",
        "reply_to": "support@help.example",
        "message_id": OURS,
        "in_reply_to": "<req-1@acme.ch>",
        "references": ("<req-0@acme.ch>", "<req-1@acme.ch>"),
        "auto_submitted": AUTO_REPLIED,
    }
    return Headers(**(values | changes))


def rendered(subject: str = "Demande enregistrée") -> Rendered:
    return Rendered(subject, "Bonjour,\nmerci.\n", "<p>Bonjour,</p>", "fr")


def parse(raw: bytes) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return parsed


LONG_NAME = "Bcc: victim@evil.example" + "x" * 60  # one word too long for a header line


def check(raw: bytes, automatic: str | None) -> None:
    """The property: exactly our headers, once each, one line each, addresses unchanged."""
    mail = parse(raw)
    expected = BASE + THREAD + (AUTOMATIC if automatic else [])
    assert sorted(k.lower() for k in mail) == sorted(expected)
    for header, value in mail.items():
        assert not {"\r", "\n"} & set(str(value)), header
    assert [a.addr_spec for a in mail["To"].addresses] == ["alice@acme.ch"]
    assert [a.addr_spec for a in mail["From"].addresses] == ["support@help.example"]
    assert [a.addr_spec for a in mail["Reply-To"].addresses] == ["support@help.example"]
    assert str(mail["Subject"]).lstrip(" ").startswith("[SUP-1]")
    assert str(mail["Message-ID"]) == OURS
    assert mail.get_content_type() == "multipart/alternative"
    # No physical header line may start with anything but a header we set (or folding).
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    for line in head.split("\r\n"):
        assert line[:1] in (" ", "\t") or line.partition(":")[0].lower() in expected, line


AUTOMATIC_VALUES = st.sampled_from([AUTO_REPLIED, AUTO_GENERATED, None])
# Text without encoded-word syntax, and names short enough to fold between words.
PLAIN = TEXT.filter(lambda text: "=?" not in text)


@settings(max_examples=300, deadline=None)
@given(subject=PLAIN, name=PLAIN.map(lambda text: text[:40]), automatic=AUTOMATIC_VALUES)
@example(
    subject="x\r\nBcc: victim@evil.example", name="Eve\r\nBcc: victim@evil.example", automatic=None
)
@example(
    subject="<script>\x00\u2028\u2029\x85", name="Eve: a@b.example, <c@d.example>;", automatic=None
)
def test_plain_subjects_and_names_keep_the_header_structure(subject, name, automatic):
    check(compose(rendered(subject), headers(name, auto_submitted=automatic), NOW), automatic)


@settings(max_examples=300, deadline=None)
@given(subject=TEXT, name=TEXT, automatic=AUTOMATIC_VALUES)
@example(subject="x", name=BCC_WORD, automatic=AUTO_REPLIED)
def test_any_subject_and_name_keep_the_header_structure(subject, name, automatic):
    check(compose(rendered(subject), headers(name, auto_submitted=automatic), NOW), automatic)


# Inputs that once broke the property, each for its own reason: the stdlib parses header
# strings again (decoding encoded words in them) and may fold a long quoted name without
# its quotes. compose must keep every one of them inside its header.
HOSTILE_HEADER_TEXT = [
    pytest.param(
        f"x {CRLF_WORD}",
        "Eve",
        id="subject-word-decoding-to-crlf-is-refused",
    ),
    pytest.param(
        "é =?utf-8?q?a=0D=0Ab?= é",
        "Eve",
        id="subject-word-with-non-ascii-is-sent-with-crlf",
    ),
    pytest.param(
        "x",
        CRLF_WORD,
        id="name-word-decoding-to-crlf-is-refused",
    ),
    pytest.param(
        "x",
        BCC_WORD,
        id="name-word-becomes-a-group",
    ),
    pytest.param(
        "x",
        LONG_NAME,
        id="long-name-loses-its-quotes",
    ),
]


@pytest.mark.parametrize(("subject", "name"), HOSTILE_HEADER_TEXT)
def test_hostile_header_text_stays_in_its_header(subject, name):
    check(compose(rendered(subject), headers(name), NOW), AUTO_REPLIED)


def test_without_a_thread_there_are_no_thread_headers():
    mail = parse(compose(rendered(), headers(in_reply_to=None, references=()), NOW))
    assert "In-Reply-To" not in mail
    assert "References" not in mail
    assert str(mail["Auto-Submitted"]) == AUTO_REPLIED


def test_references_keep_only_the_last_twenty():
    refs = tuple(f"<r{i}@acme.ch>" for i in range(30))
    mail = parse(compose(rendered(), headers(references=refs), NOW))
    assert str(mail["References"]).split() == list(refs[-20:])


BAD_IDS = [
    "no-brackets@acme.ch",
    "<two words@acme.ch>",
    "<a<b@acme.ch>",
    "<a>b@acme.ch>",
    "<x@acme.ch",
    "x@acme.ch>",
    "<a@acme.ch>\r\nBcc: victim@evil.example",
    "<a\r\nBcc: victim@evil.example>",
    "<caf\ufffd@acme.ch>",  # a header line is ASCII (fuzzer finding: the ack failed to render)
    "",
]


@pytest.mark.parametrize("bad", list(BAD_IDS))
def test_a_bad_message_id_of_ours_is_refused(bad):
    with pytest.raises(ValueError, match="Message-ID"):
        compose(rendered(), headers(message_id=bad), NOW)


@pytest.mark.parametrize(
    ("field", "bad"), [(f, b) for f in ("in_reply_to", "references") for b in BAD_IDS]
)
def test_a_bad_message_id_we_answer_is_left_out_not_written(field, bad):
    """The customer's Message-ID may be anything (`<xxxx>`): the answer still goes out,
    unthreaded, and the bad value never reaches a header."""
    value = (bad, "<req-1@acme.ch>") if field == "references" else bad
    raw = compose(rendered(), headers(**{field: value}), NOW)
    mail = parse(raw)
    expected = BASE + AUTOMATIC + (THREAD if field == "references" else ["references"])
    assert sorted(k.lower() for k in mail) == sorted(expected)
    if field == "in_reply_to":
        assert mail["In-Reply-To"] is None
    else:
        assert str(mail["References"]) == "<req-1@acme.ch>"
    assert b"victim" not in raw.split(b"\r\n\r\n", 1)[0]


def test_a_message_id_without_at_sign_is_not_threaded_on():
    raw = compose(rendered(), headers(in_reply_to="<xxxx>", references=("<xxxx>",)), NOW)
    mail = parse(raw)
    assert mail["In-Reply-To"] is None
    assert mail["References"] is None


def test_an_empty_message_id_in_brackets_is_refused():
    with pytest.raises(ValueError, match="Message-ID"):
        compose(rendered(), headers(message_id="<>"), NOW)
