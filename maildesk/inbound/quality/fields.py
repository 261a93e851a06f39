"""Read the facts a support request states: version, company, contact person and phone.

Only the customer's own new text counts (quoted history is cut off first); this module never
decides whether a request is complete, it only reports what it found.
"""

from __future__ import annotations

import html
import re
import unicodedata

from maildesk.desk.effects import Attachment  # noqa: F401 - one Attachment type for all
from maildesk.inbound.quality.subject import fold

MAX_VALUE_CHARS = 200
MAX_TEXT_CHARS = 100_000


_M = re.IGNORECASE | re.MULTILINE
_EMPH = r"[ \t*_>]*"  # HTML-to-text converters leave "**De :**" and "*Firma:*"
# Where the customer's text ends and the quoted or forwarded history begins.
_HISTORY = re.compile(
    rf"^{_EMPH}(?:-{{2,}}\s*(?:original message|message d['’]origine|urspr[üu]ngliche nachricht"
    r"|forwarded message|message transf[ée]r[ée]|weitergeleitete nachricht"
    r"|messaggio originale|messaggio inoltrato)\s*-{2,}"
    r"|(?:d[ée]but du message r[ée]exp[ée]di[ée]|begin forwarded message"
    r"|anfang der weitergeleiteten nachricht)\s*:"
    r"|le\s[^\n]{0,200}?(?:\n[^\n]{0,200}?)?\sa\s+[ée]crit\s*:"
    r"|am\s[^\n]{0,200}?(?:\n[^\n]{0,200}?)?\sschrieb[^\n]{0,100}:"
    r"|on\s[^\n]{0,200}?(?:\n[^\n]{0,200}?)?\swrote\s*:"
    r"|il\s[^\n]{0,200}?(?:\n[^\n]{0,200}?)?\sha\s+scritto\s*:"
    r"|(?:de|von|from|da)[ \t*_]*:[^\n]*\n(?:[^\n]*\n){0,3}?[ \t*_]*"
    r"(?:envoy[ée]|gesendet|sent|date|datum|inviato|data)\b)",
    _M,
)
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060\ufeff]")
_LABEL_LINE = re.compile(
    r"^[\s*_|•·–-]*(?P<label>[^\W\d_][\w .'’/-]{0,40}?)[\s*_]*[:：|\t][\s*_]*(?P<value>.*)$"
)
_LABELS = {
    "company": "societe|nom de la societe|societe concernee|entreprise|firma|gesellschaft"
    "|mandant|unternehmen|company|company name|societa|ditta|azienda",
    "contact": "contact|personne de contact|personne a contacter|interlocuteur|ansprechpartner"
    "|ansprechperson|kontaktperson|kontakt|contact person|persona di contatto|referente",
    "version": "version|version proconcept|proconcept version|release|versionsnummer|versione",
    "type": "type|type de demande|type de ticket|typ|anfragetyp|art der anfrage|request type"
    "|ticket type|tipo|tipo di richiesta",
    "criticality": "criticite|priorite|urgence|prioritat|dringlichkeit|kritikalitat|priority"
    "|criticality|severity|urgency|priorita|criticita|urgenza",
}
_LABEL_OF = {name: field for field, names in _LABELS.items() for name in names.split("|")}

_VERSION_NUMBER = re.compile(r"(?<![\d.])\d{1,2}(?:\.\d{1,3}){0,3}(?![\d.]*\d)")
# Unlabelled mentions, most explicit first: "Version ProConcept 11.2", "Release 12.4", "v12.4".
_NUMBER = r"(\d{1,2}(?:\.\d{1,3}){1,3})(?![\d.]*\d)"  # never a date such as 12.03.2025
_VERSION_MENTIONS = (
    re.compile(rf"\b(?:version(?:snummer)?|release)\b[^\d\n]{{0,25}}?v?{_NUMBER}", re.I),
    re.compile(rf"\bv{_NUMBER}", re.IGNORECASE),
    re.compile(rf"\bproconcept\s+(?:erp\s+)?v?{_NUMBER}", re.IGNORECASE),
)
# Labels also found in the middle of a sentence: "Version 12.4, Société : ACME SA."
_INLINE_LABEL = re.compile(
    r"(?:^|[\s,;(])(?P<label>soci[ée]t[ée]|firma|gesellschaft|company|criticit[ée]"
    r"|priorit[ée]|priorit[äa]t|dringlichkeit|priority|criticality|severity|societ[àa]"
    r"|priorit[àa]|criticit[àa])\s*[:：]\s*"
    r"(?P<value>[^,;\n]+)",
    re.IGNORECASE,
)
_ABBREVIATION_END = re.compile(r"(?:\b[A-Za-z]\.){2,}$")

_SEP = r"[ ./-]?"
_PHONE = re.compile(
    r"(?<![\w+./#-])(?:"
    rf"(?:\+|00)\s?41\s?(?:\(0\)\s?)?\d{{2}}{_SEP}\d{{3}}{_SEP}\d{{2}}{_SEP}\d{{2}}"
    r"|(?:\+|00)(?!41)[1-9]\d{0,2}[ .-]?(?:\(0\)\s?)?\d{1,4}(?:[ ./-]?\d{2,8}){1,4}"
    rf"|0\d{{2}}(?:{_SEP}\d{{3}}{_SEP}\d{{2}}{_SEP}\d{{2}}|{_SEP}\d{{7}})"
    r")(?![\w.-]?\d)(?!\w)"
)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_NOT_PHONE_LINE = re.compile(
    r"\b(?:fax|t[ée]l[ée]copie|iban|bic|swift|konto|compte|account|conto)\b", re.I
)
_PHONE_LINE = re.compile(
    r"\b(?:t[ée]l(?:[ée]phone|efon|efono)?|phone|mobile?|natel|portable|handy|gsm|direct"
    r"|durchwahl|cellulare|cell)\b"
    r"|^\s*[TMD][\s:.]*[+0(]",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"(?<![^\s<(,;:])[^\s@<>(),;:]+@[^\s<>(),;]+")
_CLOSING = re.compile(
    r"^\s*(?:cordialement|(?:avec )?(?:mes )?meilleures? salutations"
    r"|salutations(?: distingu[ée]es)?|bien (?:[àa] vous|cordialement)"
    r"|(?:mit )?freundliche[nm]? gr[üu](?:ss|ß)en?"
    r"|(?:beste|liebe|viele|freundliche) gr[üu](?:ss|ß)e|gr[üu](?:ss|ß)e?"
    r"|(?:best|kind|warm) regards|regards|best|many thanks|thanks(?: and regards)?"
    r"|merci d['’]avance|(?:cordiali|distinti|cari) saluti|saluti|cordialmente)[\s,.!]*$",
    re.IGNORECASE,
)
_NAME = re.compile(r"^[A-ZÀ-Ý][\w'’-]+(?:\s+[A-ZÀ-Ý][\w'’.-]*){1,3}$")
_LEGAL_FORM = re.compile(r"\b(?:SA|AG|GmbH|S[àa]rl|Ltd|Inc|SE|KG)\b")


def clean_value(value: str) -> str:
    """One trimmed line of at most MAX_VALUE_CHARS characters, without control characters."""
    kept = "".join(map(_without_control, value[: MAX_VALUE_CHARS * 10]))
    return " ".join(kept.split()).strip(" *_|")[:MAX_VALUE_CHARS].strip()


def _without_control(char: str) -> str:
    # Format characters (soft hyphens, zero-width, direction overrides) vanish; other controls
    # and line separators become spaces so that words stay apart.
    category = unicodedata.category(char)
    if category == "Cf":
        return ""
    return " " if category in ("Cc", "Zl", "Zp") else char


def fresh_text(text: str) -> str:
    """The customer's own new text: decoded, without quoted lines and without history."""
    # The customer's own words come first; reading further only costs time on huge bodies.
    text = (
        html.unescape(text[:MAX_TEXT_CHARS])
        .replace("\r\n", "\n")
        .replace("\r", "\n")
        .replace("\xa0", " ")
    )
    text = _INVISIBLE.sub("", text)
    match = _HISTORY.search(text)
    if match:
        text = text[: match.start()]
    return "\n".join(line for line in text.split("\n") if not line.lstrip().startswith(">"))


def is_label_line(line: str) -> bool:
    return bool(_LABEL_LINE.match(line))


def labelled_values(text: str) -> dict[str, str]:
    """First value of each known "Label : value": whole lines first, then inside sentences."""
    lines = text.split("\n")
    found: dict[str, str] = {}
    for index, line in enumerate(lines):
        match = _LABEL_LINE.match(line)
        field = match and _LABEL_OF.get(" ".join(fold(match["label"]).rstrip(". ").split()))
        if not match or not field or field in found:
            continue
        value = clean_value(match["value"])
        if not value:
            following = next((n for n in lines[index + 1 : index + 3] if n.strip()), "")
            value = "" if _LABEL_LINE.match(following) else clean_value(following)
        if value:
            found[field] = value
    for match in _INLINE_LABEL.finditer(text):
        value = clean_value(match["value"])
        # A sentence's full stop is not part of the value; "S.A." keeps its dots.
        if value.endswith(".") and not _ABBREVIATION_END.search(value):
            value = value[:-1].rstrip()
        found.setdefault(_LABEL_OF[fold(match["label"])], value)
    return {field: value for field, value in found.items() if value}


def find_version(labelled: str | None, text: str) -> str | None:
    if labelled and (match := _VERSION_NUMBER.search(labelled)):
        return match.group()
    for pattern in _VERSION_MENTIONS:
        if match := pattern.search(text):
            return match.group(1)
    return None


def find_phone(text: str) -> str | None:
    """A labelled phone number first, else the first number anywhere (usually the signature)."""
    first: str | None = None
    for line in _IBAN.sub(" ", text).split("\n"):
        if _NOT_PHONE_LINE.search(line):
            continue
        numbers = (clean_value(match.group()) for match in _PHONE.finditer(line))
        number = next((n for n in numbers if 8 <= sum(c.isdigit() for c in n) <= 15), None)
        if number and _PHONE_LINE.search(line):
            return number
        first = first or number
    return first


def find_contact(labelled: str | None, text: str) -> str | None:
    """The labelled contact without phone or e-mail, else the name under a closing formula."""
    if labelled:
        value = clean_value(_EMAIL.sub(" ", _PHONE.sub(" ", labelled))).strip(" ,;-–/")
        return value or None
    lines = [line.strip() for line in text.split("\n")]
    for index, line in enumerate(lines):
        if not _CLOSING.match(line):
            continue
        name = next((n for n in lines[index + 1 : index + 4] if n), "")
        if _NAME.match(name) and not _LEGAL_FORM.search(name) and len(name) <= 60:
            return clean_value(name)
    return None
