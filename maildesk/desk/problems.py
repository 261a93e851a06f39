"""A refused command's reason, worded in the consultant's language.

The pipeline and the command line keep one English reason (the trace, the events, the
log read the same everywhere); the refusal mail (`command_error`) words each one in the
language of the consultant it goes to, status and level codes included. A reason this
table does not know is shown as it is, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from maildesk.desk.labels import label

_Q = {"fr": ("« ", " »"), "de": ("«", "»"), "en": ("'", "'")}


def _q(text: str, lang: str) -> str:
    left, right = _Q.get(lang, _Q["en"])
    return f"{left}{text}{right}"


def _status(code: str, lang: str) -> str:
    return _q(label("status", code, lang), lang)


def _statuses(codes: str, lang: str) -> str:
    return ", ".join(_status(c.strip(), lang) for c in codes.split(",") if c.strip())


Words = dict[str, Callable[..., str]]

_TABLE: tuple[tuple[re.Pattern[str], Words], ...] = (
    (
        re.compile(r"^(?P<x>.*): unknown command$"),
        {
            "fr": lambda x, lang: f"{x} : commande inconnue",
            "de": lambda x, lang: f"{x}: unbekannter Befehl",
            "en": lambda x, lang: f"{x}: unknown command",
        },
    ),
    (
        re.compile(r"^(?P<x>#\S+): needs a (?:text|value)$"),
        {
            "fr": lambda x, lang: f"{x} : il manque la valeur",
            "de": lambda x, lang: f"{x}: der Wert fehlt",
            "en": lambda x, lang: f"{x}: the value is missing",
        },
    ),
    (
        re.compile(r"^(?P<x>#\S+): unknown (?P<what>status|level|type|escalation) '(?P<v>.*)'.*$"),
        {
            "fr": lambda x, what, v, lang: f"{x} : valeur inconnue {_q(v, lang)}",
            "de": lambda x, what, v, lang: f"{x}: unbekannter Wert {_q(v, lang)}",
            "en": lambda x, what, v, lang: f"{x}: unknown value {_q(v, lang)}",
        },
    ),
    (
        re.compile(r"^(?P<x>#\S+): '(?P<v>.*)' is not an address$"),
        {
            "fr": lambda x, v, lang: f"{x} : {_q(v, lang)} n'est pas une adresse e-mail",
            "de": lambda x, v, lang: f"{x}: {_q(v, lang)} ist keine E-Mail-Adresse",
            "en": lambda x, v, lang: f"{x}: {_q(v, lang)} is not a mail address",
        },
    ),
    (
        re.compile(r"^(?P<a>\w+) cannot become (?P<b>\w+); from \w+: (?P<ok>.*)$"),
        {
            "fr": lambda a, b, ok, lang: (
                f"une demande {_status(a, lang)} ne peut pas passer à {_status(b, lang)} ; "
                f"possibles : {_statuses(ok, lang)}"
            ),
            "de": lambda a, b, ok, lang: (
                f"eine Anfrage {_status(a, lang)} kann nicht zu {_status(b, lang)} wechseln; "
                f"möglich: {_statuses(ok, lang)}"
            ),
            "en": lambda a, b, ok, lang: (
                f"a request {_status(a, lang)} cannot become {_status(b, lang)}; "
                f"possible: {_statuses(ok, lang)}"
            ),
        },
    ),
    (
        re.compile(r"^the ticket is already (?P<a>\w+)$"),
        {
            "fr": lambda a, lang: f"la demande est déjà {_status(a, lang)}",
            "de": lambda a, lang: f"die Anfrage ist bereits {_status(a, lang)}",
            "en": lambda a, lang: f"the request is already {_status(a, lang)}",
        },
    ),
    (
        re.compile(r"^lowering the criticality needs a reason.*$"),
        {
            "fr": lambda lang: (
                "baisser la criticité demande un motif (#raison …) : il est communiqué au client"
            ),
            "de": lambda lang: (
                "eine tiefere Kritikalität braucht einen Grund (#reason …): "
                "er wird dem Kunden mitgeteilt"
            ),
            "en": lambda lang: (
                "lowering the criticality needs a reason (#reason …): the customer is told it"
            ),
        },
    ),
    (
        re.compile(r"^the reply has no text for the customer.*$"),
        {
            "fr": lambda lang: (
                "la réponse n'a pas de texte pour le client : écrivez-en un, "
                "ou commencez le message par #note pour une note interne"
            ),
            "de": lambda lang: (
                "die Antwort hat keinen Text für den Kunden: schreiben Sie "
                "einen, oder beginnen Sie die Nachricht mit #note für eine interne Notiz"
            ),
            "en": lambda lang: (
                "the reply has no text for the customer: write one, or start "
                "the mail with #note for an internal note"
            ),
        },
    ),
)


def word(reason: str, lang: str) -> str:
    """`reason` in `lang` (French when the language is unknown); as it is when unknown."""
    for pattern, words in _TABLE:
        match = pattern.match(reason)
        if match:
            wording = words.get(lang) or words["fr"]
            return wording(**match.groupdict(), lang=lang)
    return reason
