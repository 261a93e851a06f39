"""Judge whether a new support request is usable: its subject, the fields it carries, what is
missing, its language; and merge what a later reply supplies.

Pure functions over text: nothing here sends mail, stores tickets or changes a criticality.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from maildesk.config.quality import LANGUAGES, QualityConfig
from maildesk.desk.effects import Attachment
from maildesk.inbound.quality import fields as extract
from maildesk.inbound.quality import language as languages
from maildesk.inbound.quality import signals
from maildesk.inbound.quality.subject import SubjectVerdict, judge_subject
from maildesk.inbound.quality.subject_fields import subject_fields

_YES_NO = ("error_message", "screenshots", "steps")

# fmt: off
_STOP_WORDS = {
    "fr": frozenset((
        "le", "la", "les", "des", "est", "une", "pour", "pas", "avec", "dans", "nous", "vous",
        "je", "bonjour", "merci", "cordialement", "que", "qui", "sur", "ce", "cette", "sont",
        "lors", "votre", "notre", "mais", "salutations", "erreur", "depuis",
    )),
    "de": frozenset((
        "der", "die", "das", "und", "ist", "nicht", "ich", "wir", "sie", "mit", "für", "auf",
        "eine", "bei", "grüsse", "grüße", "danke", "freundlichen", "guten", "tag", "bitte",
        "wenn", "beim", "können", "haben", "fehler", "seit",
    )),
    "it": frozenset((
        "il", "lo", "gli", "della", "che", "non", "per", "con", "una", "sono", "buongiorno",
        "grazie", "saluti", "cordiali", "errore", "dalla", "nel", "questo", "abbiamo",
    )),
    "en": frozenset((
        "the", "and", "is", "not", "we", "you", "with", "for", "this", "that", "please",
        "thanks", "regards", "hello", "have", "are", "when", "our", "your", "can", "since",
        "error", "could", "would",
    )),
}
# fmt: on
_WORD = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class Assessment:
    fields: dict[str, str]
    missing: tuple[str, ...]
    subject: SubjectVerdict
    language: str
    criticality_defaulted: bool
    language_reason: str = ""  # what decided the language, for the trace


def detect_language(text: str) -> str:
    """Guess a language by counting common words; French when unsure (the default). The
    pipeline reads languages with `language.detect`, which weighs far more evidence."""
    words = [w.casefold() for w in _WORD.findall(text)]
    scores = {lang: sum(w in stops for w in words) for lang, stops in _STOP_WORDS.items()}
    # max() keeps the first of equal scores, and French comes first.
    return max(LANGUAGES, key=lambda lang: scores[lang])


@dataclass(frozen=True)
class Reading:
    """Everything `assess` reads from the mail alone: all of the assessment but the weight
    of the requester's earlier language. Costly (the language model, the field patterns)
    and needing no database, so a batch or an import reads it ahead, outside the write
    transaction or in another process."""

    fields: dict[str, str]
    missing: tuple[str, ...]
    subject: SubjectVerdict
    language: languages.Evidence
    criticality_defaulted: bool


def assess(
    subject: str,
    text: str,
    attachments: Sequence[Attachment] = (),
    config: QualityConfig | None = None,
    *,
    enabled: Sequence[str] = LANGUAGES,
    content_language: str = "",
    previous_language: str = "",
    language_chosen: bool = False,
) -> Assessment:
    """Everything the desk needs to know about a new request, from its subject, text and files.

    Fields are read from the body and from the subject; the body wins where both give one."""
    found = read(
        subject, text, attachments, config, enabled=enabled, content_language=content_language
    )
    return conclude(found, previous_language=previous_language, language_chosen=language_chosen)


def read(
    subject: str,
    text: str,
    attachments: Sequence[Attachment] = (),
    config: QualityConfig | None = None,
    *,
    enabled: Sequence[str] = LANGUAGES,
    content_language: str = "",
) -> Reading:
    config = config or QualityConfig()
    fresh = extract.fresh_text(text)
    values, given = _read_fields(fresh, attachments, config)
    values, given = _with_subject(values, given, subject_fields(subject))
    evidence = languages.evidence(
        subject,
        fresh if fresh.strip() else text,
        enabled=enabled,
        content_language=content_language,
    )
    return Reading(
        fields=values,
        missing=tuple(key for key in config.required_fields if _absent(values, key)),
        subject=judge_subject(subject, config),
        language=evidence,
        criticality_defaulted="criticality" not in given,
    )


def conclude(
    found: Reading, *, previous_language: str = "", language_chosen: bool = False
) -> Assessment:
    verdict = languages.weigh(found.language, previous=previous_language, chosen=language_chosen)
    return Assessment(
        fields=dict(found.fields),
        missing=found.missing,
        subject=found.subject,
        language=verdict.language,
        criticality_defaulted=found.criticality_defaulted,
        language_reason=verdict.reason,
    )


def _with_subject(
    values: dict[str, str], given: frozenset[str], from_subject: Mapping[str, str]
) -> tuple[dict[str, str], frozenset[str]]:
    """Body values completed by the subject's: a subject value fills only what the body left
    absent, a default type or criticality, or a yes/no field the body answered "no"."""
    merged = dict(values)
    for key, value in from_subject.items():
        if key in ("type", "criticality"):
            if key not in given:
                merged[key] = value
        elif _absent(merged, key):
            merged[key] = value
    return merged, given | frozenset(k for k in ("type", "criticality") if k in from_subject)


def _read_fields(
    fresh: str, attachments: Sequence[Attachment], config: QualityConfig
) -> tuple[dict[str, str], frozenset[str]]:
    """The found fields (with defaults for type and criticality), and which of type and
    criticality the text stated rather than defaulted."""
    labelled = extract.labelled_values(fresh)
    criticality = signals.find_criticality(labelled.get("criticality"))
    screenshots = signals.has_screenshots(fresh, attachments, config.min_screenshot_bytes)
    found = {
        "version": extract.find_version(labelled.get("version"), fresh),
        "company": labelled.get("company"),
        "contact": extract.find_contact(labelled.get("contact"), fresh),
        "phone": extract.find_phone(fresh),
        "type": signals.find_type(labelled.get("type"), fresh),
        "criticality": criticality or "medium",
        "error_message": _yes_no(signals.has_error_message(fresh)),
        "screenshots": _yes_no(screenshots),
        "steps": _yes_no(signals.has_steps(fresh)),
    }
    given = {"criticality"} if criticality is not None else set()
    if labelled.get("type") or found["type"] != "assistance":
        given.add("type")
    return {key: value for key, value in found.items() if value}, frozenset(given)


def merge_reply(
    fields: Mapping[str, str], missing: Sequence[str], reply: Assessment, config: QualityConfig
) -> tuple[dict[str, str], tuple[str, ...], dict[str, str]]:
    """Fill what the request lacked from a later reply: (merged, still missing, newly supplied).

    What the customer already gave is never overwritten, and type and criticality are never
    taken from a reply: changing those is a decision, not a missing detail.
    """
    merged = dict(fields)
    supplied: dict[str, str] = {}
    for key, value in reply.fields.items():
        if key in ("type", "criticality") or not _absent(merged, key) or _absent(reply.fields, key):
            continue
        merged[key] = supplied[key] = value
    wanted = dict.fromkeys((*missing, *config.required_fields))
    return merged, tuple(key for key in wanted if _absent(merged, key)), supplied


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def _absent(values: Mapping[str, str], key: str) -> bool:
    value = values.get(key, "")
    return not value or (key in _YES_NO and value != "yes")
