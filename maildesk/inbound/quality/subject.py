"""Judge whether a request's subject lets the customer and Customer Services find it again.

It reads only the subject line it is given; it never rewrites the subject nor looks at the body.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from maildesk.config.quality import QualityConfig

# Every reason a verdict can give, in the order they are reported.
REASONS = (
    "empty",
    "only-prefix",
    "bare-ticket-number",
    "generic-word",
    "module-name",
    "all-capitals",
    "too-short",
)

# Reply/forward markers of French, German, Italian and English mail clients, and gateway tags
# such as "[EXT]" or a ticket key "[SUP-123]", repeated any number of times.
_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|tr|fwd?|wg|r[ée]f|sv|antw|vs|r|i|rif|inoltro)\s*(?:(?:\[\d+\]|\(\d+\))\s*)?:"
    r"|\[[^\[\]]{1,40}\])\s*",
    re.IGNORECASE,
)
_TICKET_TAG = re.compile(r"\[\s*(?:[A-Z][A-Z0-9]{1,9}-\d+|#?\d{3,})\s*\]", re.IGNORECASE)
_BARE_TICKET = re.compile(
    r"^(?:(?:ticket|demande|request|anfrage|case|incident|r[ée]f[ée]rence|reference|r[ée]f"
    r"|no|nr|n°|num[ée]ro|nummer)\.?[\s:#]*)*#?(?:[A-Z][A-Z0-9]{1,9}-\d+|\d{3,})\W*$",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060\ufeff]")
_TOKEN = re.compile(r"[^\W_]+")

# Words that carry no meaning of their own in a subject (articles, prepositions, "about").
# fmt: off
_FILLER = frozenset((
    "le", "la", "les", "de", "du", "des", "un", "une", "et", "ou", "au", "aux", "en", "pour",
    "sur", "avec", "dans", "lors", "sans", "par", "pas", "plus", "mon", "ma", "mes", "notre",
    "nos", "votre", "vos", "concernant", "concerne", "sujet", "objet", "svp", "merci", "tres",
    "petit", "petite", "nouveau", "nouvelle", "der", "die", "das", "den", "dem", "ein", "eine",
    "einer", "und", "oder", "mit", "bei", "im", "in", "zu", "zum", "zur", "von", "fur", "auf",
    "an", "bitte", "betreffend", "bezuglich", "wegen", "betr", "neue", "neuer", "the", "and",
    "or", "with", "for", "on", "to", "of", "at", "my", "our", "your", "please", "regarding",
    "about", "concerning", "new", "small", "quick",
))
# fmt: on


@dataclass(frozen=True)
class SubjectVerdict:
    ok: bool
    reasons: tuple[str, ...]


def fold(word: str) -> str:
    """Lower-case without accents, so "Problème", "PROBLEME" and "probleme" compare equal.

    Most text is ASCII, where this is `lower()`; the rest is decomposed (NFKD) and loses
    its combining marks, removed by one pattern instead of a test per character (the
    language reader folds every line of every request)."""
    if word.isascii():
        return word.lower()
    return _combining().sub("", unicodedata.normalize("NFKD", word.casefold()))


@functools.lru_cache(maxsize=1)
def _combining() -> re.Pattern[str]:
    """Every character with a non-zero combining class (none lies above U+1FFFF)."""
    marks = [i for i in range(0x300, 0x20000) if unicodedata.combining(chr(i))]
    ranges = []
    for i in marks:
        if ranges and ranges[-1][1] == i - 1:
            ranges[-1][1] = i
        else:
            ranges.append([i, i])
    return re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in ranges) + "]")


@functools.lru_cache(maxsize=8)
def _vocabulary(words: tuple[str, ...], names: tuple[str, ...]) -> tuple[frozenset, frozenset]:
    """The generic words and the words of module names, folded once per configuration."""
    generic = frozenset(fold(w) for w in words)
    modules = frozenset(fold(t) for name in names for t in _TOKEN.findall(name))
    return generic, modules


def strip_prefixes(subject: str) -> tuple[str, bool]:
    """The subject without reply/forward prefixes and tags, and whether a ticket tag was there."""
    text = _CONTROL.sub(" ", subject)
    had_ticket = bool(_TICKET_TAG.search(text))
    text = _TICKET_TAG.sub(" ", text)
    while (match := _PREFIX.match(text)) and match.end() > 0:
        text = text[match.end() :]
    return " ".join(text.split()), had_ticket


def judge_subject(subject: str, config: QualityConfig) -> SubjectVerdict:
    """Say whether `subject` is specific enough, and if not, every reason why."""
    if not _CONTROL.sub("", subject).strip():
        return SubjectVerdict(ok=False, reasons=("empty",))
    rest, had_ticket = strip_prefixes(subject)
    if not rest:
        return SubjectVerdict(False, ("bare-ticket-number",) if had_ticket else ("only-prefix",))
    if _BARE_TICKET.match(rest):
        return SubjectVerdict(ok=False, reasons=("bare-ticket-number",))
    found = {*_vocabulary_reasons(rest, config), *_shape_reasons(rest, config)}
    reasons = tuple(r for r in REASONS if r in found)
    return SubjectVerdict(ok=not reasons, reasons=reasons)


def _vocabulary_reasons(rest: str, config: QualityConfig) -> list[str]:
    """Flag a subject whose meaningful words are all generic words or module names."""
    words = tuple(w for group in config.generic_words.values() for w in group)
    generic, modules = _vocabulary(words, tuple(config.module_names))
    content = [fold(t) for t in _TOKEN.findall(rest)]
    # One-letter tokens ("d'", "M.") and bare numbers say nothing about the request.
    content = [t for t in content if len(t) > 1 and not t.isdigit() and t not in _FILLER]
    if not content or any(t not in generic and t not in modules for t in content):
        return []
    reasons = []
    if any(t in generic for t in content):
        reasons.append("generic-word")
    if any(t in modules for t in content):
        reasons.append("module-name")
    return reasons


def _shape_reasons(rest: str, config: QualityConfig) -> list[str]:
    reasons = []
    letters = [c for c in rest if c.isalpha()]
    alpha_words = [w for w in rest.split() if any(c.isalpha() for c in w)]
    # Short acronyms ("SEPA XML ISO") are legitimate; a long upper-case line is shouting.
    if len(letters) >= 12 and len(alpha_words) >= 2 and not any(c.islower() for c in letters):
        reasons.append("all-capitals")
    words = [w for w in rest.split() if any(c.isalnum() for c in w)]
    if len(rest) < config.min_subject_chars or len(words) < config.min_subject_words:
        reasons.append("too-short")
    return reasons
