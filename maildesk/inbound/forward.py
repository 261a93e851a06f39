"""A forwarded customer mail, read from a consultant's forward: who wrote it, and what.

Mail clients forward inline, with a marker line and a block of the original's header
fields in the client's language, or attach the original as a `message/rfc822` part:

- Outlook: `-----Original Message-----` or a line of underscores, then `From:` / `De :` /
  `Von:` with `Sent:` / `Envoyé :` / `Gesendet:`, `To:`, `Subject:` / `Objet :` / `Betreff:`;
- Gmail: `---------- Forwarded message ---------` (`Message transféré`,
  `Weitergeleitete Nachricht`), then `From:`, `Date:`, `Subject:`, `To:`;
- Apple Mail: `Begin forwarded message:` (`Début du message réexpédié :`, `Anfang der
  weitergeleiteten Nachricht:`), then the same fields;
- Thunderbird: `-------- Forwarded Message --------`, with `Subject:` before `From:`.

Pure text work on what the parser already decoded: nothing here reads anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from maildesk.addresses import normalise_address

MARKERS = re.compile(
    r"^\s*(?:"
    r"-{2,}\s*(?:original message|message d'origine|ursprüngliche nachricht)\s*-{2,}"
    r"|-{2,}\s*(?:forwarded message|message transféré|weitergeleitete nachricht)\s*-{2,}"
    r"|(?:begin forwarded message|début du message réexpédié|anfang der weitergeleiteten "
    r"nachricht)\s*:"
    r"|_{10,}"
    r")\s*$",
    re.IGNORECASE,
)
_FIELD = re.compile(r"^\s*\*?([^\W\d_][^:*]{0,20}?)\*?\s*:\s*(.*)$")
FROM_NAMES = ("from", "de", "von")
SUBJECT_NAMES = ("subject", "objet", "sujet", "betreff")
OTHER_NAMES = (
    *("sent", "date", "to", "cc", "envoyé", "envoye", "à", "a", "gesendet", "datum", "an"),
    *("reply-to", "répondre à", "antwort an"),
)
_ADDRESS = re.compile(r"[<\[]?\s*(?:mailto:)?([^\s<>\"'\[\]]+@[^\s<>\"'\[\]]+?)\s*[>\]]?\s*$")
_PREFIX = re.compile(r"^\s*(?:(?:fwd?|tr|wg|fw)\s*:\s*)+", re.IGNORECASE)


@dataclass(frozen=True)
class Forwarded:
    sender: str
    sender_name: str
    subject: str
    text: str  # the original's text, below its header block
    note: str  # what the forwarding consultant wrote above it


def inline(text: str) -> Forwarded | None:
    """The first forwarded mail in `text`, when a marker or header block names its sender."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if MARKERS.match(line):
            found = _block(lines, i + 1)
            if found:
                return _forwarded(lines, i, *found)
        elif _name(line) in FROM_NAMES and i and not lines[i - 1].strip():
            found = _block(lines, i)  # a header block without a marker (Outlook's HTML)
            if found and found[3] >= 3:
                return _forwarded(lines, i, *found)
    return None


def from_subject(subject: str) -> str:
    """The subject without the forward's `Fwd:` / `TR:` / `WG:`."""
    return _PREFIX.sub("", subject).strip()


def _name(line: str) -> str:
    match = _FIELD.match(line)
    return match.group(1).strip().lower() if match else ""


def _block(lines: list[str], start: int) -> tuple[str, str, str, int, int] | None:
    """(address, name, subject, fields, end) of the header block starting at `start`."""
    i = start
    while i < len(lines) and not lines[i].strip():
        i += 1
    sender = name = subject = ""
    fields = 0
    while i < len(lines) and lines[i].strip():
        match = _FIELD.match(lines[i])
        key = match.group(1).strip().lower() if match else ""
        if key in FROM_NAMES:
            sender, name = _who(match.group(2))  # type: ignore[union-attr]
        elif key in SUBJECT_NAMES:
            subject = match.group(2).strip()  # type: ignore[union-attr]
        elif key not in OTHER_NAMES:
            if fields and lines[i].startswith((" ", "\t")):  # a folded value
                i += 1
                continue
            break
        fields += 1
        i += 1
    if not sender or fields < 2:
        return None
    return sender, name, subject, fields, i


def _who(value: str) -> tuple[str, str]:
    """(address, display name) of `Alice Martin <alice@acme.example>` and its variants
    (`Alice Martin [mailto:alice@acme.example]`, a bare address); ("", "") otherwise."""
    value = value.strip()
    match = _ADDRESS.search(value)
    if not match:
        return "", ""
    address = normalise_address(match.group(1).strip("<>[]"))
    if not address:
        return "", ""
    name = value[: match.start()].strip().strip('"').strip()
    return address, name if "@" not in name else ""


def _forwarded(
    lines: list[str], marker: int, sender: str, name: str, subject: str, _fields: int, end: int
) -> Forwarded:
    body = "\n".join(lines[end:]).strip()
    note = "\n".join(lines[:marker]).strip()
    return Forwarded(sender, name, subject, body, note)
