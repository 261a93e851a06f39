"""Read what kind of request a message is and what evidence it carries: request type,
criticality, an error message, steps to reproduce, screenshots.

It only reports what the customer's own text and attachments show; it never lowers or raises
a criticality (that is Customer Services' decision, made elsewhere).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from maildesk.desk.effects import Attachment
from maildesk.inbound.quality.fields import clean_value, is_label_line
from maildesk.inbound.quality.subject import fold

_M = re.IGNORECASE | re.MULTILINE
_IMAGE_NAME = re.compile(r"\.(?:png|jpe?g|gif|bmp|tiff?|webp)$", re.IGNORECASE)
_INLINE_IMAGE = re.compile(
    r"\[cid:([^\]@\s]{1,200})(?:@[^\]\s]{0,200})?\]|\[image:\s*([^\]\n]{0,200})\]"
    r"|<<([^<>\n]{1,200}\.(?:png|jpe?g|gif|bmp))>>"
    r"|!\[[^\]\n]{0,200}\]\(([^)\n]{1,200})\)",
    re.IGNORECASE,
)
# Criticality words, most severe first so "très haute" is not read as something lower.
_CRITICALITY_WORDS = (
    ("critical", r"critique|kritisch|critical|bloquant|blocker|critica|bloccante|p1"),
    ("high", r"haute?|[ée]lev[ée]e?|hoch|high|major|urgent|dringend|alta|urgente|p2"),
    ("medium", r"moyenne?|mittel|medium|normale?|media|p3"),
    ("low", r"basse?|faible|niedrig|gering|low|minor|bassa|p4"),
)
_FLEX = re.compile(
    r"\b(?:solde|contrat|compte)\s+flex\b|\bsolva[\s-]?flex\b|\bflex[\s-]?(?:guthaben|vertrag"
    r"|saldo|kontingent)\b|\bflex\s+(?:balance|contract|credit)\b",
    re.IGNORECASE,
)
_PATCH = re.compile(
    r"\b(?:d[ée]ployer|installer|passer|appliquer|livrer)\s+(?:(?:le|la|les|un|une|des|du|ce"
    r"|ces|cet|notre|nos)\s+|l['’]\s*)?(?:correctifs?|patch(?:s|es)?|hotfix)\b"
    r"|\bpatch(?:es|s)?\s+(?:einspielen|installieren|aufspielen|deployen|ausrollen)\b"
    r"|\b(?:einspielen|installation|installieren)\s+(?:des|der|eines|von)\s+(?:patch(?:es)?"
    r"|hotfix|korrektur)\b"
    r"|\b(?:deploy|install|apply|roll\s+out)\s+(?:(?:the|a|this|these|our)\s+)?"
    r"(?:fix|fixes|patch|patches|hotfix)\b",
    re.IGNORECASE,
)
_ERROR_LABEL = re.compile(
    r"(?:message\s+d['’]\s?erreur|fehlermeldung|error\s+message|\berreur|\bfehler|\berror)"
    r"(?:\s+suivante?)?\s*[:：]\s*(?P<value>[^\n]*)",
    re.IGNORECASE,
)
_ERROR_QUOTED = re.compile(
    r"(?:erreur|error|fehler\w*|message|meldung)\b[^\n]{0,60}?[«\"“„‹]\s*[^\n\"»”“›]{6,}",
    re.IGNORECASE,
)
_ERROR_CODE = re.compile(
    r"\b(?:ORA|TNS|PLS|SP2|IMP|EXP|RMAN|SQL)-\d{4,5}\b|\bSQLSTATE\b|\b0x8[0-9A-F]{7}\b"
    r"|\b\w+Exception\b|\bException\b(?!\s+(?:de|faite|d['’]))"
)
_NEXT_LINE = re.compile(r"[\n ]*([^\n]*)")
# Answers that say there is no error message.
_NOTHING = ("aucun", "neant", "non", "pas de", "kein", "nein", "none", "no", "n/a", "na", "-", "/")
_STEP_LINE = re.compile(r"^[ \t]*(?:(?:[ée]tape|schritt|step)\s*)?([12])\s*[.):-]\s+\S", _M)
# Three patterns searched one after the other: as one alternation they cost twice as much
# (every alternative is tried at every position of a long text).
_STEPS = (
    re.compile(
        r"\b[ée]tapes\b|\bmarche [àa] suivre\b|\bpour reproduire\b|\bschritte\b"
        r"|\bvorgehen(?:sweise)?\b|\bzum reproduzieren\b|\bsteps to reproduce\b"
        r"|\b(?:following|these|the) steps\b|\bsteps\s*:",
        _M,
    ),
    re.compile(r"(?:^|\s)1[.)]\s+\S[^\n]{0,300}?\s2[.)]\s+\S", _M),
    re.compile(r"\w\s*(?:->|=>|→|>)\s*\w[^\n>]{0,40}(?:->|=>|→|>)\s*\w", _M),
)


def find_criticality(labelled: str | None) -> str | None:
    """Only an explicit "Priorité : haute" counts: "urgent" in a sentence is not a choice."""
    if not labelled:
        return None
    value = fold(labelled)
    for level, words in _CRITICALITY_WORDS:
        if re.search(rf"\b(?:{words})\b", value):
            return level
    return None


def find_type(labelled: str | None, text: str) -> str:
    if labelled:
        value = fold(labelled)
        if "flex" in value:
            return "solva_flex"
        if re.search(r"patch|correctif|hotfix|\bfix\b", value):
            return "patch"
        if re.search(r"assistance|support|hilfe|help", value):
            return "assistance"
    # Billing on the Flex balance is an explicit instruction; it wins over a patch mention.
    if _FLEX.search(text):
        return "solva_flex"
    if _PATCH.search(text):
        return "patch"
    return "assistance"


def has_error_message(text: str) -> bool:
    for match in _ERROR_LABEL.finditer(text):
        value = fold(clean_value(match["value"])).strip(" .")
        if not value:
            after = _NEXT_LINE.match(text, match.end()).group(1)  # type: ignore[union-attr]
            value = "" if is_label_line(after) else fold(clean_value(after))
        if value and not any(value == word or value.startswith(f"{word} ") for word in _NOTHING):
            return True
    return bool(_ERROR_QUOTED.search(text) or _ERROR_CODE.search(text))


def has_steps(text: str) -> bool:
    numbers = {match.group(1) for match in _STEP_LINE.finditer(text)}
    return numbers == {"1", "2"} or any(pattern.search(text) for pattern in _STEPS)


def has_screenshots(text: str, attachments: Sequence[Attachment], min_bytes: int) -> bool:
    """Images big enough to be a screen capture; small ones are signature logos."""
    small: set[str] = set()
    for attachment in attachments:
        if _is_image(attachment):
            if attachment.size >= min_bytes:
                return True
            small.add(attachment.filename.strip().casefold())
    for match in _INLINE_IMAGE.finditer(text):
        name = next(group for group in match.groups() if group is not None)
        if name.strip().casefold() not in small:
            return True
    return False


def _is_image(attachment: Attachment) -> bool:
    kind = attachment.content_type.strip().lower()
    return kind.startswith("image/") or (
        kind in ("", "application/octet-stream") and bool(_IMAGE_NAME.search(attachment.filename))
    )
