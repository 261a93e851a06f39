"""Consultants' mail commands: `#status`, `#criticality` … on lines of their own at the top.

Pure parsing: the commands are read from the first non-empty lines of the consultant's
new text (quotes already stripped), removed from the text that is relayed, and turned
into a `lifecycle.Change`. French and English spellings are accepted. Anything unknown
or malformed is an error, and then nothing at all is relayed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from maildesk.addresses import normalise_address
from maildesk.desk import status as st
from maildesk.desk.lifecycle import Change

_LINE = re.compile(r"^#\s*([^\W\d_][\w-]*)[ \t:]*(.*)$")
ALIASES = {
    "status": "status",
    "statut": "status",
    "état": "status",
    "etat": "status",
    "criticality": "criticality",
    "criticité": "criticality",
    "criticite": "criticality",
    "priority": "criticality",
    "priorité": "criticality",
    "reason": "reason",
    "raison": "reason",
    "motif": "reason",
    "type": "type",
    "assign": "assign",
    "assigner": "assign",
    "attribuer": "assign",
    "close": "close",
    "clore": "close",
    "fermer": "close",
    "clôturer": "close",
    "escalate": "escalate",
    "escalader": "escalate",
    "escalade": "escalate",
    "consulting": "consulting",
    "note": "note",
    "history": "history",
    "historique": "history",
    "verlauf": "history",
    "files": "files",
    "fichiers": "files",
    "dateien": "files",
    "language": "language",
    "langue": "language",
    "sprache": "language",
    "lingua": "language",
}
# Requests to maildesk itself: answered by mail to the consultant, nothing relayed.
REQUESTS = ("history", "files")
# `#language` values: the codes, and each language's name in the four languages.
LANGUAGE_WORDS = {
    "fr": "fr", "français": "fr", "francais": "fr", "französisch": "fr", "francese": "fr",
    "french": "fr",
    "de": "de", "allemand": "de", "deutsch": "de", "tedesco": "de", "german": "de",
    "it": "it", "italien": "it", "italienisch": "it", "italiano": "it", "italian": "it",
    "en": "en", "anglais": "en", "englisch": "en", "inglese": "en", "english": "en",
}  # fmt: skip
VALID = (
    "#status <new|qualified|in_progress|waiting_customer|closed|escalated_spc|escalated_rpc|"
    "escalated_l2|consulting|waiting_patch>",
    "#criticality <low|medium|high|critical>  (with #reason <text> when lowering)",
    "#reason <text>",
    "#type <assistance|patch|solva_flex>",
    "#assign <address|me>",
    "#close  (resolution solved)",
    "#escalate <spc|rpc|l2>",
    "#consulting",
    "#note  (the whole mail is an internal note, never sent to the customer)",
    "#history  (the whole ticket by mail: fields, changes, every message, files)",
    "#files  (the files the notices left out, in several mails if needed)",
    "#language <fr|de|it|en>  (the ticket's language, and the requester's from now on)",
)
_CRITICALITY_WORDS = {
    "basse": "low",
    "moyenne": "medium",
    "haute": "high",
    "critique": "critical",
    "niedrig": "low",
    "mittel": "medium",
    "hoch": "high",
    "kritisch": "critical",
}


@dataclass(frozen=True)
class Commands:
    change: Change = field(default_factory=Change)  # what the commands ask for
    note: bool = False
    errors: tuple[str, ...] = ()
    text: str = ""  # the reply without its command lines
    given: tuple[str, ...] = ()
    language: str | None = None  # `#language`: the ticket's (and requester's) language

    @property
    def requests(self) -> tuple[str, ...]:
        """#history / #files asked for, in order."""
        return tuple(name for name in dict.fromkeys(self.given) if name in REQUESTS)

    @property
    def only_requests(self) -> bool:
        """Nothing but requests: a read of the ticket that changes nothing."""
        return bool(self.given) and all(name in REQUESTS for name in self.given)


def parse(text: str, sender: str) -> Commands:
    lines = text.splitlines()
    values: dict[str, str | bool] = {}
    errors: list[str] = []
    given: list[str] = []
    i = 0
    while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
        line = lines[i].strip()
        i += 1
        if not line:
            continue
        match = _LINE.match(line)
        name = ALIASES.get(match.group(1).lower()) if match else None
        if match is None or name is None:
            errors.append(f"{line[:80]}: unknown command")
            continue
        given.append(name)
        error = _apply(name, match.group(2).strip(), sender, values)
        if error:
            errors.append(f"#{match.group(1)}: {error}")
    rest = "\n".join(lines[i:]).strip()
    change = Change(
        status=_text(values, "status"),
        resolution=_text(values, "resolution"),
        criticality=_text(values, "criticality"),
        request_type=_text(values, "type"),
        assignee=_text(values, "assign"),
        reason=_text(values, "reason") or "",
    )
    language = _text(values, "language")
    return Commands(change, bool(values.get("note")), tuple(errors), rest, tuple(given), language)


def _text(values: dict[str, str | bool], key: str) -> str | None:
    value = values.get(key)
    return value if isinstance(value, str) else None


def _apply(name: str, arg: str, sender: str, values: dict[str, str | bool]) -> str | None:
    word = arg.split(maxsplit=1)[0].lower() if arg.split() else ""
    if name in REQUESTS:
        return None  # read from `given`
    if name in ("note", "consulting", "close"):
        if name == "note":
            values["note"] = True
        elif name == "consulting":
            values["status"] = "consulting"
        else:
            values["status"], values["resolution"] = st.CLOSED, "solved"
        return None
    if name == "reason":
        if not arg:
            return "needs a text"
        values["reason"] = arg[:500]
        return None
    if not word:
        return "needs a value"
    return _language(word, values) if name == "language" else _valued(name, word, sender, values)


def _language(word: str, values: dict[str, str | bool]) -> str | None:
    if word not in LANGUAGE_WORDS:
        return f"unknown language {word!r} (fr, de, it or en)"
    values["language"] = LANGUAGE_WORDS[word]
    return None


def _valued(name: str, word: str, sender: str, values: dict[str, str | bool]) -> str | None:
    if name == "status":
        if word not in st.STATUSES:
            return f"unknown status {word!r}"
        values["status"] = word
        if word == st.CLOSED:
            values["resolution"] = "solved"
    elif name == "criticality":
        level = _CRITICALITY_WORDS.get(word, word)
        if level not in st.CRITICALITIES:
            return f"unknown level {word!r}"
        values["criticality"] = level
    elif name == "type":
        if word not in st.REQUEST_TYPES:
            return f"unknown type {word!r}"
        values["type"] = word
    elif name == "assign":
        address = sender if word in ("me", "moi") else normalise_address(word)
        if not address:
            return f"{word!r} is not an address"
        values["assign"] = address
    elif name == "escalate":
        if word not in ("spc", "rpc", "l2"):
            return f"unknown escalation {word!r} (spc, rpc or l2)"
        values["status"] = f"escalated_{word}"
    return None
