"""Language detection on short mails: the 240-mail table, and each kind of evidence."""

from __future__ import annotations

from collections import Counter

import pytest

from maildesk.inbound.quality.assess import QualityConfig, assess
from maildesk.inbound.quality.fields import fresh_text
from maildesk.inbound.quality.language import detect, own_words
from tests.unit.language_cases import CASES

CONFIG = QualityConfig()


def test_table_has_60_short_mails_per_language() -> None:
    assert Counter(lang for lang, _, _ in CASES) == {"fr": 60, "de": 60, "it": 60, "en": 60}
    for _, _, body in CASES:
        assert 1 <= len(own_words(fresh_text(body)).splitlines()) <= 5


def test_language_table_is_read_right_at_least_97_percent() -> None:
    confusions: Counter[tuple[str, str]] = Counter()
    for lang, subject, body in CASES:
        found = assess(subject, body, (), CONFIG).language
        if found != lang:
            confusions[(lang, found)] += 1
    right = len(CASES) - sum(confusions.values())
    print(f"language table: {right}/{len(CASES)} right; confusions: {dict(confusions)}")
    assert right / len(CASES) >= 0.97, confusions


@pytest.mark.parametrize(
    ("subject", "body", "language"),
    [
        # The short mails that were answered in the wrong language.
        ("Export", "Hallo\nExport geht nicht.\nFirma: Acme AG", "de"),
        ("Lohnlauf", "Grüezi mitenand\nLohnlauf bricht ab.\nGruess Reto", "de"),
        ("Stampa", "Buongiorno,\nla stampa non va.\nSocietà: Rossi SA", "it"),
        ("SwissDec", "Buongiorno\nSwissDec non parte", "it"),
        ("Export", "Hello, export broken.", "en"),
        ("Export", "Bonjour, export vide.", "fr"),
    ],
)
def test_short_mails(subject: str, body: str, language: str) -> None:
    assert assess(subject, body, (), CONFIG).language == language


def test_a_signature_in_another_language_does_not_count() -> None:
    body = (
        "Buongiorno,\nil conteggio è sbagliato.\nCordiali saluti\nMarco\n"
        "--\nMuster AG, Bahnhofstrasse 1, 8001 Zürich. Diese E-Mail ist vertraulich und nur "
        "für den Empfänger bestimmt. Wenn Sie nicht der Empfänger sind, löschen Sie sie bitte."
    )
    assert assess("Conteggio", body, (), CONFIG).language == "it"


def test_nothing_decides_french() -> None:
    assert detect("", "").language == "fr"
    assert detect("SUP-12", "12.4.1").language == "fr"


def test_content_language_and_earlier_tickets_decide_when_the_text_cannot() -> None:
    assert detect("12.4.1", "", content_language="de-CH").language == "de"
    assert detect("12.4.1", "", previous="it").language == "it"
    # ... but they do not outweigh a clear text.
    text = "Bonjour,\nl'export des salaires est vide depuis ce matin.\nCordialement"
    assert detect("Export vide", text, content_language="de-CH", previous="en").language == "fr"


def test_a_language_a_consultant_chose_outweighs_a_short_text() -> None:
    assert detect("", "Lohnlauf leer").language == "de"
    assert detect("", "Lohnlauf leer", previous="it").language == "de"
    assert detect("", "Lohnlauf leer", previous="it", chosen=True).language == "it"
    clear = "Guten Tag, der Lohnlauf ist seit dem Update leer. Freundliche Grüsse"
    assert detect("Lohnlauf", clear, previous="it", chosen=True).language == "de"


def test_only_enabled_languages_are_chosen() -> None:
    body = "Buongiorno,\nla stampa non funziona più da stamattina.\nCordiali saluti"
    assert detect("Stampa", body, enabled=("fr", "de", "en")).language in ("fr", "de", "en")
    assert detect("Stampa", body, enabled=("de",)).language == "de"
