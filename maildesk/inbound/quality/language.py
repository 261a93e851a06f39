"""The language of a request, among the enabled ones (fr, de, it, en), on short mails.

Support mails are short ("Grüezi, Export geht nicht. Gruess Reto"), and word counting
alone answered a German mail in French. Three kinds of evidence are weighed:

1. the text itself, read by lingua (a detector built for short text: character n-grams
   of one to five letters, restricted to the enabled languages), on the customer's own
   words: quoted history is already gone, and the signature block after the closing
   formula is cut off, since companies' footers and disclaimers are often in another
   language than the mail;
2. what the mail says of itself: the greeting ("Grüezi", "Buongiorno", "Bonjour"),
   the closing ("Freundliche Grüsse", "Cordiali saluti"), field labels of the request
   ("Firma:", "Società:", "Téléphone :") and the Content-Language header (weak: mail
   programs set it from their own interface language, not from the text);
3. the requester's language on earlier tickets (set too by a consultant's `#language`).

French when nothing decides. Pure: text in, a language out (lingua's models are loaded
once per process, in memory, from the installed package).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from maildesk.inbound.quality.subject import fold as fold_word

LANGUAGES = ("fr", "de", "it", "en")
DEFAULT = "fr"

MODEL_WEIGHT = 3.0  # lingua's confidence values sum to 1 over the enabled languages
GREETING_WEIGHT = 1.5
CLOSING_WEIGHT = 1.0
LABEL_WEIGHT = 0.5
MAX_LABELS = 2
WORD_WEIGHT = 0.5  # per distinct function word of one language only ("ça", "geht", "non")
MAX_WORDS = 3
CONTENT_LANGUAGE_WEIGHT = 0.75
PREVIOUS_WEIGHT = 0.75  # the language of the requester's latest ticket
CHOSEN_WEIGHT = 2.5  # a language a consultant set for the requester with `#language`
MAX_MODEL_CHARS = 600  # the opening of the customer's text (about 100 words) says enough
MIN_MODEL_LETTERS = 4  # fewer letters (codes and numbers aside) say nothing
FULL_MODEL_LETTERS = 25
MIN_DECISIVE = 0.6  # below this, nothing decides: French ("Export ok", "12.4.1")
_CODE = re.compile(r"\b[A-Za-z]{1,10}-\d+\b")  # ticket keys, ORA-00942, …
# Product names and acronyms ("ProConcept", "SwissDec", "XML") are in no language.
_NAMES = re.compile(r"\b(?:[A-Z]{2,}|[A-Z]?[a-z]+[A-Z]\w*)\b")
_WORD = re.compile(r"[^\W\d_]{2,}")
_WORD_OR_ONE = re.compile(r"[^\W\d_]+(?:'t)?")

# Folded (lower case, no accents) patterns at the start of the first line of the text.
_GREETINGS = {
    "fr": r"bonjour|bonsoir|madame|monsieur|mesdames|messieurs|ch[e]re?s?\b|salut",
    "de": r"gruezi|gruessech|gruss gott|guten (?:tag|morgen|abend)|hallo|sehr geehrte|"
    r"liebe[rs]?\b|sali\b|hoi\b|servus|moin",
    "it": r"buongiorno|buonasera|buon giorno|gentil[ei]|egregi[oa]?|spettabile|salve\b|"
    r"ciao\b|caro\b|cara\b|cari\b",
    "en": r"hello|hi\b|dear\b|good (?:morning|afternoon|evening)|hey\b",
}
# Whole closing lines.
_CLOSINGS = {
    "fr": r"(?:avec )?(?:mes |nos )?(?:meilleures |sinceres )?salutations(?: distinguees)?|"
    r"cordialement|bien (?:a vous|cordialement)|merci d'avance.*|belle journee|bonne journee",
    "de": r"(?:mit )?freundliche[nm]? gru(?:ss|ß)en?|(?:beste|liebe|viele|herzliche) gru(?:ss|ß)e|"
    r"gru(?:ss|ß)e?|gruess|merci (?:vielmal|und gruess).*|danke (?:im voraus|schon).*|"
    r"en schone tag",
    "it": r"(?:cordiali|distinti|cari|i migliori) saluti|saluti|grazie(?: mille)?(?: .*)?|"
    r"buona giornata|cordialmente",
    "en": r"(?:best|kind|warm|many) (?:regards|thanks)|regards|thanks(?: in advance| again)?|"
    r"thank you.*|cheers|sincerely|yours (?:sincerely|faithfully)",
}
# Short words only one of the four languages uses: on a one-line mail ("Merci, ça
# marche"), a detector's character statistics alone are little better than a guess.
# fmt: off
_FUNCTION_WORDS = {
    "fr": frozenset(("le", "les", "des", "est", "une", "pour", "pas", "avec", "dans", "nous",
                     "vous", "je", "merci", "ca", "ne", "plus", "sur", "cette", "sont", "mais",
                     "notre", "votre", "depuis", "aux", "du", "au", "marche", "bonjour")),
    "de": frozenset(("der", "die", "das", "und", "ist", "nicht", "ich", "wir", "sie", "mit",
                     "fur", "auf", "eine", "bei", "danke", "bitte", "geht", "kein", "keine",
                     "seit", "wenn", "beim", "haben", "konnen", "uns", "wird", "werden")),
    "it": frozenset(("il", "lo", "gli", "della", "che", "non", "con", "sono", "grazie", "va",
                     "piu", "nel", "nella", "questo", "abbiamo", "dalla", "di", "e", "funziona",
                     "da", "ci", "ho", "anche")),
    "en": frozenset(("the", "and", "is", "not", "we", "you", "with", "for", "this", "that",
                     "please", "thanks", "have", "are", "when", "our", "your", "can", "since",
                     "does", "doesn't", "works", "any")),
}
# fmt: on
# Field labels of a request ("Firma:", "Società:"), at the start of a line.
_LABELS = {
    "fr": r"societe|entreprise|telephone|tel|personne de contact|criticite|priorite|"
    r"message d'erreur|objet",
    "de": r"firma|telefon|kontaktperson|ansprechpartner|prioritat|dringlichkeit|fehlermeldung|"
    r"mandant",
    "it": r"societa|ditta|azienda|telefono|persona di contatto|priorita|criticita|"
    r"messaggio di errore|versione",
    "en": r"company|phone|contact person|priority|severity|error message",
}


def _compile(table: dict[str, str], template: str) -> dict[str, re.Pattern[str]]:
    return {lang: re.compile(template.format(words)) for lang, words in table.items()}


_GREETING_RE = _compile(_GREETINGS, r"^\W*(?:{})")
_CLOSING_RE = _compile(_CLOSINGS, r"^\W*(?:{})[\s,.!]*$")
_LABEL_RE = _compile(_LABELS, r"^[\s*_-]*(?:{})\.?\s*[:：]")
_SIGNATURE_SEPARATOR = re.compile(r"^(?:--|__+|—+)\s*$")


@dataclass(frozen=True)
class Verdict:
    language: str
    scores: tuple[tuple[str, float], ...]  # every enabled language, best first
    reason: str  # what decided, for the trace


def fold(text: str) -> str:
    return fold_word(text).replace("’", "'")


def detect(
    subject: str,
    text: str,
    *,
    enabled: Sequence[str] = LANGUAGES,
    content_language: str = "",
    previous: str = "",
    chosen: bool = False,
) -> Verdict:
    """The request's language; `text` is the customer's own text (quotes removed).
    `previous` is the requester's language on earlier tickets, `chosen` whether a
    consultant set it (then it outweighs anything but a clear text in another language)."""
    found = evidence(subject, text, enabled=enabled, content_language=content_language)
    return weigh(found, previous=previous, chosen=chosen)


@dataclass(frozen=True)
class Evidence:
    """What the mail itself says of its language: the costly part of `detect` (the model
    and the cues), which needs no history, so it can be read ahead of the transaction that
    knows the requester's earlier language."""

    enabled: tuple[str, ...]
    scores: tuple[tuple[str, float], ...]  # every enabled language, in `enabled` order
    reasons: tuple[str, ...]
    text_reason: str = ""  # "text=de:0.93": the model's best guess, first in the trace


def evidence(
    subject: str, text: str, *, enabled: Sequence[str] = LANGUAGES, content_language: str = ""
) -> Evidence:
    enabled = tuple(lang for lang in enabled if lang in LANGUAGES) or (DEFAULT,)
    if len(enabled) == 1:
        return Evidence(enabled, ((enabled[0], 1.0),), ("only language enabled",))
    own = own_words(text)
    scores = dict.fromkeys(enabled, 0.0)
    reasons: list[str] = []
    sample = _NAMES.sub(" ", f"{subject}\n{own}").strip()
    letters = _letters(sample)
    model = _model_scores(sample, enabled, letters)
    # A detector's confidence on one word is no better than a guess: it counts fully
    # from FULL_MODEL_LETTERS letters on, less on shorter texts.
    weight = MODEL_WEIGHT * min(1.0, letters / FULL_MODEL_LETTERS)
    for lang, value in model.items():
        scores[lang] += weight * value
    for lang, cue_weight in _cues(own, enabled, reasons):
        scores[lang] += cue_weight
    declared = _content_language(content_language)
    if declared in scores:
        scores[declared] += CONTENT_LANGUAGE_WEIGHT
        reasons.append(f"content-language={declared}")
    best = max(model, key=model.get) if model else ""
    text_reason = f"text={best}:{model[best]:.2f}" if best else ""
    return Evidence(enabled, tuple(scores.items()), tuple(reasons), text_reason)


def weigh(found: Evidence, *, previous: str = "", chosen: bool = False) -> Verdict:
    """The verdict from the mail's own evidence and the requester's history."""
    enabled = found.enabled
    if len(enabled) == 1:
        return Verdict(enabled[0], found.scores, found.reasons[0])
    scores = dict(found.scores)
    reasons = list(found.reasons)
    if previous in scores:
        scores[previous] += CHOSEN_WEIGHT if chosen else PREVIOUS_WEIGHT
        reasons.append(f"{'chosen' if chosen else 'earlier'}={previous}")
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], enabled.index(kv[0])))
    if ranked[0][1] < MIN_DECISIVE:
        fallback = DEFAULT if DEFAULT in enabled else enabled[0]
        return Verdict(fallback, tuple(ranked), "nothing decides: default")
    if found.text_reason:
        reasons.insert(0, found.text_reason)
    return Verdict(ranked[0][0], tuple(ranked), " ".join(reasons))


def own_words(text: str) -> str:
    """The text down to its closing formula: the signature and footer below it (often in
    another language: a company's disclaimer) say nothing of the customer's language."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if _SIGNATURE_SEPARATOR.match(line.strip()):
            break
        kept.append(line)
        folded = fold(line.strip())
        if folded and any(p.match(folded) for p in _CLOSING_RE.values()):
            break
    return "\n".join(kept).strip()


def _cues(own: str, enabled: Sequence[str], reasons: list[str]) -> list[tuple[str, float]]:
    lines = [fold(line.strip()) for line in own.split("\n") if line.strip()]
    found: list[tuple[str, float]] = []
    if lines:
        for lang in enabled:
            if _GREETING_RE[lang].match(lines[0]):
                found.append((lang, GREETING_WEIGHT))
                reasons.append(f"greeting={lang}")
    words = set(_WORD_OR_ONE.findall(" ".join(lines)))
    for lang in enabled:
        hits = len(words & _FUNCTION_WORDS[lang])
        if hits:
            found.append((lang, WORD_WEIGHT * min(hits, MAX_WORDS)))
            reasons.append(f"words={lang}:{hits}")
        if any(_CLOSING_RE[lang].match(line) for line in lines[1:] or lines):
            found.append((lang, CLOSING_WEIGHT))
            reasons.append(f"closing={lang}")
        labels = sum(1 for line in lines if _LABEL_RE[lang].match(line))
        if labels:
            found.append((lang, LABEL_WEIGHT * min(labels, MAX_LABELS)))
            reasons.append(f"labels={lang}")
    return found


def _content_language(value: str) -> str:
    """`de-CH, en` → "de": the first tag's primary subtag."""
    first = value.split(",", maxsplit=1)[0].strip().lower()
    return first.split("-")[0].split("_")[0][:8]


def _model_scores(text: str, enabled: tuple[str, ...], letters: int) -> dict[str, float]:
    if letters < MIN_MODEL_LETTERS:
        return {}  # "SUP-12 12.4.1": nothing to read
    detector = _detector(enabled)
    if detector is None:
        return {}
    values = detector.compute_language_confidence_values(text[:MAX_MODEL_CHARS])
    by_code = {v.language.iso_code_639_1.name.lower(): v.value for v in values}
    return {lang: by_code.get(lang, 0.0) for lang in enabled}


def preload(enabled: Sequence[str] = LANGUAGES) -> None:
    """Load the model now: before a fork, so that helper processes share it."""
    enabled = tuple(lang for lang in enabled if lang in LANGUAGES)
    if len(enabled) > 1:
        _detector(enabled)


def _letters(text: str) -> int:
    return sum(len(w) for w in _WORD.findall(_CODE.sub(" ", text)))


@functools.lru_cache(maxsize=4)
def _detector(enabled: tuple[str, ...]):
    """lingua's detector for the enabled languages, built once per process.

    Low-accuracy mode (trigram models only): on the 240 short mails of the language table
    it reads as many right as the high-accuracy mode (all of them; 220 of 240 subjects
    alone, 1 to 4 words, in both modes), loads in 0.3 s instead of 9 s and takes about
    16 MB instead of 150 MB."""
    try:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
    except ImportError:  # pragma: no cover - a dependency; cues and history still decide
        return None
    codes = [getattr(IsoCode639_1, lang.upper()) for lang in enabled]
    languages = [Language.from_iso_code_639_1(code) for code in codes]
    return LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()
