"""Delivery-failure notices that are not RFC 3464 reports: recognised by what they say.

Older MTAs, groupware (Notes, GroupWise, Exchange in plain text) and antivirus gateways
send a plain mail ("Returned Mail - Error During Delivery", "Unzustellbar: …", "Votre
message n'a pas pu être délivré", "Messaggio non recapitato") from an ordinary-looking
address. Answering one is backscatter to a robot; making a ticket of one wastes a
consultant's time. But customers also write about delivery problems in the same words
("our payslips are undeliverable since 12.4"), and those are requests.

No single sign decides, so each adds points and a mail is a notice at `THRESHOLD`:

| sign | points |
|---|---|
| the subject is a notice's subject (`Undeliverable: …`, `Non remis : …`, no RE/TR) | 3 |
| the subject speaks of a failed delivery, without a reply or forward prefix | 1 |
| the newly written text has a notice's sentence ("could not be delivered to …") | 1 |
| it says it is automatic ("automatically generated", "ne pas répondre", …) | 2 |
| a recipient quoted beside an SMTP 5xx code (`550 5.1.1 <x@y>`) | 1 |
| a copy of one of our own notifications (our signed Message-ID) inside | 2 |
| the sender's name part is a system's (mailer, gateway, antivirus, postmaster, …) | 1 |
| a person wrote it: each of a greeting, a closing, a question in the new text | -2 |

Only the newly written text counts (quoted and forwarded history is cut with
`quotes.strip_reply`), so a customer forwarding a notice they received, with "can you
look at this?", stays a customer. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from maildesk.inbound.parse import Parsed
from maildesk.inbound.quotes import strip_reply

THRESHOLD = 3
MAX_SCAN = 20_000  # characters of the body scored: a notice says what it is early
MAX_LINK_SCAN = 100_000  # characters searched for what a notice names (its transcript)

_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|tr|fw|fwd|wg|r|i|rif|inoltro|antw|réf|ref)\s*(?:\[\d+\])?\s*:\s*)+",
    re.IGNORECASE,
)
# The subject of a notice, as the first words and followed by ":" or the end.
_NOTICE_SUBJECT = re.compile(
    r"^\s*(?:\*{3}\s*)?(?:undeliverable|undelivered mail(?: returned to sender)?|"
    r"returned mail(?:\s*[-:]\s*(?:error during delivery|see transcript for details|"
    r"user unknown))?|mail delivery failed(?:: returning message to sender)?|"
    r"delivery (?:status notification(?: \(failure\))?|failure(?: notification| report)?|"
    r"has failed|notification: delivery has failed)|failure notice|"
    r"mail could not be delivered|message not delivered|non[- ]delivery (?:report|notification)|"
    r"non remis|non distribuable|non délivré|message non (?:remis|délivré|distribué)|"
    r"échec de (?:la )?(?:remise|distribution|livraison)|"
    r"votre message n'a pas pu être (?:délivré|remis|distribué)|"
    r"unzustellbar|nicht zustellbar|unzustellbare nachricht|zustellung fehlgeschlagen|"
    r"rückläufer|fehler bei der zustellung|benachrichtigung über fehlgeschlagene zustellung|"
    r"messaggio non recapitato|(?:avviso|notifica) di mancato recapito|mancato recapito|"
    r"impossibile recapitare(?: il messaggio)?|recapito non riuscito|non recapitabile)"
    r"\s*(?:\*{3})?\s*(?::|$|-|/)",
    re.IGNORECASE,
)
# Words of a failed delivery anywhere in a subject.
_FAILURE_WORDS = re.compile(
    r"undeliver|undelivered|not (?:be )?delivered|delivery (?:failure|failed|has failed)|"
    r"returned mail|mail delivery|non remis|pas pu être (?:délivré|remis|distribué)|"
    r"non délivré|échec de (?:la )?remise|unzustellbar|nicht zugestellt|nicht zustellbar|"
    r"zustellung fehlgeschlagen|non recapitat|mancato recapito|impossibile recapitare|"
    r"virus (?:found|detected|alert)|message blocked|nachricht blockiert|messaggio bloccato|"
    r"message bloqué",
    re.IGNORECASE,
)
_NOTICE_SENTENCE = re.compile(
    r"could not be delivered|couldn't be delivered|was not delivered|wasn't delivered|"
    r"delivery (?:has )?failed|delivery to the following recipients? (?:failed|has failed)|"
    r"did not reach (?:some or all of )?the intended recipient|"
    r"permanent (?:fatal )?errors?|undeliverable to|recipient address rejected|"
    r"user unknown|mailbox (?:unavailable|not found|full)|no such user|"
    r"the following (?:addresses|recipients?) (?:had permanent fatal errors|failed|"
    r"could not be reached)|was blocked|has been blocked|contained a virus|"
    r"n'a pas pu être (?:délivré|remis|distribué)|n'a pas été (?:remis|délivré|distribué)|"
    r"non remis|destinataire (?:inconnu|introuvable)|échec de (?:la )?remise|"
    r"konnte nicht (?:zugestellt|übermittelt)|nicht zugestellt werden|unzustellbar|"
    r"empfänger (?:unbekannt|nicht gefunden)|zustellung (?:ist )?fehlgeschlagen|"
    r"non (?:è stato possibile recapitare|può essere recapitato|è stato recapitato)|"
    r"impossibile recapitare|mancato recapito|destinatario (?:sconosciuto|inesistente)|"
    r"recapito (?:non riuscito|fallito)",
)
_AUTOMATIC_SENTENCE = re.compile(
    r"automatically generated|automatic(?:ally)? (?:notification|message)|"
    r"this is the mail (?:system|server|delivery)|mail delivery (?:subsystem|system)|"
    r"do not reply to this|please do not reply|this is the [\w-]+ program|"
    r"delivery software|wasn't able to deliver|"
    r"généré automatiquement|message automatique|ne pas répondre|ne répondez pas|"
    r"automatisch (?:generiert|erstellt|erzeugt)|automatische (?:benachrichtigung|nachricht)|"
    r"nicht auf diese (?:nachricht|e-mail) antworten|"
    r"generat[oa] automaticamente|messaggio automatico|non rispondere",
)
_SMTP_5XX = re.compile(r"(?<![\d.])(?:5[0-5]\d(?:[ -]|$)|5\.\d{1,3}\.\d{1,3})(?![\d.])", re.M)
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_MSGID = re.compile(r"<([^<>\s@]{1,300}@[^<>\s]{1,200})>")
_SYSTEM_LOCAL = re.compile(
    r"(?:mailer|daemon|postmaster|gateway|mailgw|mail-gw|antivirus|anti-virus|virus|"
    r"scanner|mailscan|notes|domino|groupwise|exchange|smtp|mta|quarantine|filter|"
    r"mailadmin|mail-admin|sysadmin|system|delivery|bounce)",
    re.IGNORECASE,
)
_GREETING = re.compile(
    r"^\W*(?:bonjour|bonsoir|salut|madame|monsieur|ch[èe]re?s?\b|hallo|guten (?:tag|morgen|abend)|"
    r"gr[üu]ezi|gr[üu]ss gott|sehr geehrte|liebe[rs]?\b|hoi\b|sal[üu]\b|buongiorno|buonasera|"
    r"gentil[ie]|egregi|ciao\b|salve\b|hello\b|hi\b|dear\b|good (?:morning|afternoon))",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"cordialement|meilleures salutations|bien à vous|avec mes remerciements|merci\b|"
    r"freundliche[n]? gr[üu](?:ss|ß)e|mit freundlichen|beste gr[üu]sse|liebe gr[üu]sse|"
    r"gruss\b|danke\b|vielen dank|cordiali saluti|distinti saluti|grazie\b|saluti\b|"
    r"best regards|kind regards|regards\b|thanks\b|thank you|sincerely",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Notice:
    """What the scoring found: the total, the signs in words, and what the notice names."""

    score: int
    signs: tuple[str, ...]
    message_ids: tuple[str, ...] = ()  # our own Message-IDs quoted inside
    failed_recipients: tuple[str, ...] = ()  # addresses quoted beside a 5xx code

    @property
    def is_notice(self) -> bool:
        return self.score >= THRESHOLD

    @property
    def reason(self) -> str:
        return f"delivery-failure-notice: {', '.join(self.signs)}"


def read_notice(
    parsed: Parsed, is_ours: Callable[[str], bool], own_addresses: frozenset[str] = frozenset()
) -> Notice:
    """Score `parsed` as a delivery-failure notice; `is_ours` tells our signed Message-IDs."""
    signs: list[tuple[str, int]] = []
    subject = parsed.subject
    prefixed = bool(_REPLY_PREFIX.match(subject))
    if not prefixed and _NOTICE_SUBJECT.match(subject):
        signs.append(("notice-subject", 3))
    elif not prefixed and _FAILURE_WORDS.search(subject):
        signs.append(("failure-subject", 1))
    body = parsed.text_body[:MAX_LINK_SCAN]
    own = strip_reply(body[:MAX_SCAN]) if body else ""
    lowered = own.lower()
    if _NOTICE_SENTENCE.search(lowered):
        signs.append(("failure-sentence", 1))
    if _AUTOMATIC_SENTENCE.search(lowered):
        signs.append(("says-automatic", 2))
    failed = _failed_recipients(own, own_addresses | {parsed.sender})
    if failed:
        signs.append(("recipient-with-5xx", 1))
    ours = _our_ids(parsed, body, is_ours)
    if ours:
        signs.append(("copy-of-our-notification", 2))
    local = parsed.sender.partition("@")[0]
    if local and _SYSTEM_LOCAL.search(local):
        signs.append(("system-sender", 1))
    signs += [(f"written-by-a-person ({sign})", -2) for sign in _person_signs(own, lowered)]
    return Notice(
        sum(points for _, points in signs),
        tuple(name for name, _ in signs),
        ours,
        tuple(dict.fromkeys((*failed, *_all_failed(body, own_addresses | {parsed.sender}))))[:20],
    )


def _person_signs(own: str, lowered: str) -> list[str]:
    """What shows a person wrote the new text. A notice that says it is automatic may
    still open with "Hi." or end with "merci de ne pas répondre": there only a question
    counts."""
    lines = [line for line in own.splitlines() if line.strip()]
    if not lines:
        return []
    signs = ["question"] if "?" in own else []
    if _AUTOMATIC_SENTENCE.search(lowered):
        return signs
    if _GREETING.match(lines[0]):
        signs.append("greeting")
    if any(_CLOSING.search(line) for line in lines[-4:]):
        signs.append("closing")
    return signs


def _failed_recipients(text: str, exclude: set[str] | frozenset[str]) -> tuple[str, ...]:
    """Addresses written within two lines of an SMTP 5xx code (`550 5.1.1 <x@y>`)."""
    lines = text.splitlines()
    found: dict[str, None] = {}
    for i, line in enumerate(lines):
        if len(found) >= 20:
            break
        if _SMTP_5XX.search(line):
            window = "\n".join(lines[max(0, i - 2) : i + 3])
            found.update((a.lower(), None) for a in _ADDRESS.findall(window))
    return tuple(a for a in found if a not in exclude)[:20]


def _all_failed(body: str, exclude: set[str] | frozenset[str]) -> tuple[str, ...]:
    """The same over the whole body (the notice's quoted transcript), for linking only."""
    return _failed_recipients(body, exclude)


def _our_ids(parsed: Parsed, body: str, is_ours: Callable[[str], bool]) -> tuple[str, ...]:
    """Our signed Message-IDs in a copy of our mail: attached (its header lines) or inlined
    (anywhere in the text, quoted with `>` or not)."""
    candidates = (*parsed.quoted_message_ids, *(f"<{m}>" for m in _MSGID.findall(body)))
    return tuple(dict.fromkeys(c for c in candidates if is_ours(c)))[:20]
