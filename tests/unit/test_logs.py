"""Decision log lines: one physical line each, greppable `key=value`, escaping reversible.

A customer controls the subject; whatever it contains must neither forge a second log
line nor be lost: an admin must be able to read the original value back.
"""

from __future__ import annotations

import io
import logging
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maildesk import logs

HOSTILE_SUBJECT = (
    'Urgent\r\nticket=SUP-999 action=closed\x1b[2J\x1b[31m "quoted" a=b \\ end\x00\x7f\x85'
)
PAIR = re.compile(r'([a-z_]+)=("(?:[^"\\]|\\.)*"|[^\s"]+)(?:\s|$)')
ESCAPE = re.compile(r"\\(?:x([0-9a-f]{2})|u([0-9a-f]{4})|(.))")


def unescape(token: str) -> str:
    """Read a value back the way an admin's script would (`\\xNN`, `\\uNNNN`, `\\c`)."""
    if token.startswith('"'):
        token = token[1:-1]

    def one(m: re.Match) -> str:
        hex2, hex4, char = m.groups()
        return chr(int(hex2 or hex4, 16)) if (hex2 or hex4) else char

    return ESCAPE.sub(one, token)


def pairs(line: str) -> dict[str, str]:
    found = PAIR.findall(line)
    assert " ".join(f"{k}={v}" for k, v in found) == line, f"not only key=value pairs: {line!r}"
    return {key: unescape(value) for key, value in found}


def test_hostile_subject_stays_on_one_line():
    line = logs.line(ticket="SUP-12", action="appended", subject=HOSTILE_SUBJECT)
    assert len(line.splitlines()) == 1
    assert "\r" not in line
    assert "\n" not in line
    assert "\x1b" not in line
    assert "\x85" not in line
    assert line.startswith("ticket=SUP-12 action=appended subject=")


def test_forged_pairs_inside_a_value_cannot_be_grepped_as_real_ones():
    line = logs.line(action="appended", subject=HOSTILE_SUBJECT)
    assert pairs(line) == {"action": "appended", "subject": HOSTILE_SUBJECT}
    assert re.search(r"(^| )ticket=SUP-999( |$)", line) is None


def test_plain_values_are_bare_and_none_is_omitted():
    assert logs.line(ticket="SUP-12", msgid="<a@b>", action="appended", reason=None) == (
        "ticket=SUP-12 msgid=<a@b> action=appended"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", '""'),
        ("two words", '"two words"'),
        ("a=b", '"a=b"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("tab\there", '"tab\\x09here"'),
        (12, "12"),
    ],
)
def test_values_needing_it_are_quoted_and_escaped(value, expected):
    assert logs.escape(value) == expected


@given(st.text(alphabet=st.characters(blacklist_characters="\u2028\u2029"), max_size=60))
def test_escaping_round_trips(text):
    line = logs.line(action="x", subject=text)
    assert len(line.splitlines()) == 1
    assert pairs(line) == {"action": "x", "subject": text}


@pytest.mark.parametrize("separator", ["\u2028", "\u2029"])
def test_unicode_line_separators_round_trip(separator):
    text = f"avant{separator}après"
    assert pairs(logs.line(subject=text)) == {"subject": text}


def test_decision_writes_one_record_through_logging():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("maildesk.test-logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        logs.decision(logger, ticket="SUP-1", action="created", subject="a\nb", reason=None)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == 'ticket=SUP-1 action=created subject="a\\x0ab"\n'
