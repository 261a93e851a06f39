"""The [quality] section: what makes a support request usable, as an admin tunes it.

Only data and its validation live here; the reading of requests is in
maildesk/inbound/quality/. Errors are ValueError worded for the admin (the loader wraps
them in ConfigError).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from maildesk.config.values import LANGUAGES

# Fields a configuration may require; type and criticality always have a value.
REQUIRABLE = ("version", "company", "contact", "phone", "error_message", "screenshots", "steps")

DEFAULT_GENERIC_WORDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "fr": ("problème", "problèmes", "question", "questions", "urgent", "urgente", "urgence",
               "erreur", "erreurs", "bug", "bugs", "aide", "demande", "souci", "soucis",
               "incident", "info", "information", "informations", "besoin", "important",
               "bloqué", "blocage", "test", "ticket", "support", "assistance", "suivi", "relance"),
        "de": ("problem", "probleme", "frage", "fragen", "hilfe", "dringend", "dringende",
               "fehler", "bug", "anfrage", "störung", "support", "info", "wichtig", "test",
               "ticket", "achtung"),
        "it": ("problema", "problemi", "domanda", "domande", "urgente", "errore", "errori",
               "aiuto", "richiesta", "supporto", "info", "informazione", "informazioni",
               "importante", "test", "ticket", "guasto", "blocco", "bloccato", "assistenza",
               "sollecito"),
        "en": ("help", "question", "questions", "issue", "issues", "problem", "problems",
               "urgent", "error", "errors", "bug", "bugs", "request", "support", "info",
               "important", "test", "ticket", "asap", "query"),
    }
)  # fmt: skip
DEFAULT_MODULE_NAMES = (
    "RH", "Salaire", "Salaires", "Paie", "Finance", "Finances", "Comptabilité", "Compta",
    "Débiteurs", "Créanciers", "Stock", "Achats", "Ventes", "Lohn", "Löhne", "Personal",
    "Buchhaltung", "Finanz", "HR", "Payroll", "Accounting", "Debitoren", "Kreditoren",
    "Stipendi", "Salari", "Contabilità", "Personale", "Debitori", "Creditori", "Magazzino",
    "SwissDec", "Flex", "ProConcept", "ERP",
)  # fmt: skip


@dataclass(frozen=True)
class QualityConfig:
    required_fields: tuple[str, ...] = ("version", "company", "phone")
    min_subject_chars: int = 12
    min_subject_words: int = 3
    generic_words: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: DEFAULT_GENERIC_WORDS
    )
    module_names: tuple[str, ...] = DEFAULT_MODULE_NAMES
    # Smaller images are taken for signature logos, not screen captures.
    min_screenshot_bytes: int = 10_000

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> QualityConfig:
        return from_mapping(data)


def from_mapping(data: Mapping[str, Any]) -> QualityConfig:
    """A QualityConfig from a TOML table; a ValueError names the bad key and what is allowed."""
    if not isinstance(data, Mapping):
        raise ValueError("quality: expected a table of keys, got " + type(data).__name__)
    parsers = {
        "required_fields": _parse_required,
        "min_subject_chars": _parse_count,
        "min_subject_words": _parse_count,
        "min_screenshot_bytes": _parse_count,
        "generic_words": _parse_generic,
        "module_names": _parse_words,
    }
    for key in data:
        if key not in parsers:
            raise ValueError(f"quality.{key}: unknown key; allowed: {', '.join(sorted(parsers))}")
    return QualityConfig(**{key: parsers[key](key, value) for key, value in data.items()})


def _parse_count(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"quality.{key}: expected a whole number >= 0, got {value!r}")
    return value


def _parse_words(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(
        isinstance(word, str) and word.strip() for word in value
    ):
        raise ValueError(f"quality.{key}: expected a list of non-empty strings, got {value!r}")
    return tuple(word.strip() for word in value)


def _parse_required(key: str, value: Any) -> tuple[str, ...]:
    names = _parse_words(key, value)
    for name in names:
        if name not in REQUIRABLE:
            allowed = ", ".join(REQUIRABLE)
            raise ValueError(f"quality.{key}: unknown field {name!r}; allowed: {allowed}")
    return tuple(dict.fromkeys(names))


def _parse_generic(key: str, value: Any) -> Mapping[str, tuple[str, ...]]:
    """Languages given replace the defaults for that language; the others keep theirs."""
    if not isinstance(value, Mapping):
        raise ValueError(f"quality.{key}: expected a table of language = [words], got {value!r}")
    merged = dict(DEFAULT_GENERIC_WORDS)
    for lang, words in value.items():
        if lang not in LANGUAGES:
            allowed = ", ".join(LANGUAGES)
            raise ValueError(f"quality.{key}: unknown language {lang!r}; allowed: {allowed}")
        merged[lang] = _parse_words(f"{key}.{lang}", words)
    return MappingProxyType(merged)
