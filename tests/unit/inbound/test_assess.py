"""Request quality assessment: subject verdicts, field extraction, language, merging replies."""

from __future__ import annotations

import dataclasses
import time
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maildesk.config.quality import REQUIRABLE, QualityConfig, from_mapping
from maildesk.desk.effects import Attachment
from maildesk.inbound.quality.assess import (
    Assessment,
    SubjectVerdict,
    assess,
    detect_language,
    judge_subject,
    merge_reply,
)
from maildesk.inbound.quality.subject import REASONS
from tests.unit.inbound.quality_cases import CASES

DEFAULTS = {
    "type": "assistance",
    "criticality": "medium",
    "error_message": "no",
    "screenshots": "no",
    "steps": "no",
}
CONFIG = QualityConfig()


def _assess(case: dict) -> Assessment:
    attachments = [Attachment(*a) for a in case.get("attachments", [])]
    return assess(case["subject"], case["text"], attachments, CONFIG)


# --- the table of real-looking requests ----------------------------------------------------


def test_table_is_large_and_covers_every_reason() -> None:
    good = [c for c in CASES if not c["reasons"]]
    bad = [c for c in CASES if c["reasons"]]
    assert len(CASES) >= 60
    assert len({c["id"] for c in CASES}) == len(CASES)
    assert len(good) >= 15
    assert len(bad) >= 15
    assert {r for c in bad for r in c["reasons"]} == set(REASONS)
    assert {c["language"] for c in CASES} == {"fr", "de", "en"}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_fields_of_each_request(case: dict) -> None:
    assert _assess(case).fields == {**DEFAULTS, **case["fields"]}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_subject_verdict_of_each_request(case: dict) -> None:
    verdict = _assess(case).subject
    assert verdict == SubjectVerdict(ok=not case["reasons"], reasons=case["reasons"])
    assert verdict == judge_subject(case["subject"], CONFIG)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_language_missing_and_default_criticality(case: dict) -> None:
    result = _assess(case)
    assert result.language == case["language"]
    expected = {**DEFAULTS, **case["fields"]}
    assert result.missing == tuple(
        k for k in CONFIG.required_fields if expected.get(k, "no") in ("", "no")
    )
    stated = case.get("criticality_defaulted", "criticality" not in case["fields"])
    assert result.criticality_defaulted is stated


# --- subjects --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "Problème lors de la connexion initiale à ProConcept en client lourd",
        "Erreur lors de la transmission SwissDec pour M. Dupont",
        "Ajout d'une nouvelle variable salaire « Prime de Noël »",
        "RE: RE: AW: Fwd: FW: WG: TR: Réf: Erreur lors de la transmission SwissDec pour M. Dupont",
        "Re[2]: [SUP-1234] Lohnausweis 2024 zeigt falsche Kinderzulagen",
        "Calcul AVS erroné pour les apprentis [SUP-77]",
    ],
)
def test_specific_subjects_pass(subject: str) -> None:
    assert judge_subject(subject, CONFIG) == SubjectVerdict(ok=True, reasons=())


@pytest.mark.parametrize(
    ("subject", "reasons"),
    [
        ("#12345", ("bare-ticket-number",)),
        ("Ticket #4521", ("bare-ticket-number",)),
        ("Re: Réf. SUP-77", ("bare-ticket-number",)),
        ("[SUP-77]", ("bare-ticket-number",)),
        ("Fwd:", ("only-prefix",)),
        ("RE : RE :", ("only-prefix",)),
        ("?!", ("too-short",)),
        ("Erreur !!!", ("generic-word", "too-short")),
        ("LOHNLAUF FUNKTIONIERT NICHT MEHR", ("all-capitals",)),
        ("Problem with HR", ("generic-word", "module-name")),
    ],
)
def test_vague_subjects_are_refused(subject: str, reasons: tuple[str, ...]) -> None:
    assert judge_subject(subject, CONFIG) == SubjectVerdict(ok=False, reasons=reasons)


def test_prefixes_are_stripped_before_judging() -> None:
    bare = judge_subject("Problème", CONFIG)
    assert judge_subject("RE: TR: [EXT] Problème", CONFIG) == bare
    assert judge_subject("RE : Problème", CONFIG) == bare


def test_thresholds_come_from_the_configuration() -> None:
    strict = QualityConfig(min_subject_chars=40, min_subject_words=6)
    lenient = QualityConfig(min_subject_chars=1, min_subject_words=1)
    assert judge_subject("Export KO", lenient).ok
    assert judge_subject("Calcul AVS erroné", strict).reasons == ("too-short",)


def test_word_lists_come_from_the_configuration() -> None:
    subject = "Kassenbuch und Monatsabschluss"
    assert judge_subject(subject, CONFIG).ok
    modules = QualityConfig(module_names=("Kassenbuch", "Monatsabschluss"))
    assert judge_subject(subject, modules).reasons == ("module-name",)
    generic = QualityConfig(generic_words={"de": ("kassenbuch", "monatsabschluss")})
    assert judge_subject(subject, generic).reasons == ("generic-word",)


def test_accents_and_case_do_not_hide_a_generic_word() -> None:
    for subject in ("PROBLEME", "probleme", "Problème"):
        assert "generic-word" in judge_subject(subject, CONFIG).reasons


def test_control_characters_in_a_subject_are_ignored() -> None:
    assert judge_subject("\x00\u200b\t", CONFIG).reasons == ("empty",)
    assert judge_subject("Erreur\x07 lors de la\u200b transmission SwissDec", CONFIG).ok


# --- language --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("", "fr"),
        ("12.4.1 SUP-1234", "fr"),
        ("Bonjour, nous avons une erreur dans le calcul des salaires.", "fr"),
        ("Guten Tag, wir haben einen Fehler beim Lohnlauf. Danke für die Hilfe.", "de"),
        ("Hello, we have an error when posting the invoices. Thanks.", "en"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_language_ties_go_to_french() -> None:
    assert detect_language("the der") == "de"
    assert detect_language("the der le") == "fr"


# --- values are safe -------------------------------------------------------------------------


@given(st.text(max_size=400))
def test_extracted_values_are_single_trimmed_lines(value: str) -> None:
    text = f"Société : {value}\nContact : {value}\nVersion : 12.4\n"
    for found in assess("Sujet", text, (), CONFIG).fields.values():
        assert found == found.strip()
        assert 0 < len(found) <= 200
        assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in found)


@pytest.mark.parametrize(
    "text",
    [
        " " * 100_000 + "x",
        "1. " * 30_000,
        "021 555 12 34 " * 10_000,
        "Le chat dort sur le canapé depuis des heures\n" * 5_000,
        "[cid:" * 20_000,
        "a" * 100_000 + "@",
        "Erreur :\n" * 20_000,
        "De : x\n" * 20_000,
    ],
    ids=["spaces", "numbers", "phones", "le-lines", "cid", "word", "error-labels", "from-lines"],
)
def test_pathological_bodies_are_read_in_linear_time(text: str) -> None:
    started = time.perf_counter()
    assess("T" + " " * 5_000, text, (), CONFIG)
    assert time.perf_counter() - started < 5


def test_images_below_the_logo_size_are_not_screenshots() -> None:
    logo = Attachment("logo.png", "image/png", 5_000)
    assert assess("Sujet", "Bonjour", [logo], CONFIG).fields["screenshots"] == "no"
    small = QualityConfig(min_screenshot_bytes=1_000)
    assert assess("Sujet", "Bonjour", [logo], small).fields["screenshots"] == "yes"


def test_required_fields_decide_what_is_missing() -> None:
    text = "Version : 12.4\nTél. : 021 555 12 34\n"
    config = QualityConfig(required_fields=("phone", "screenshots", "contact", "version"))
    assert assess("Sujet", text, (), config).missing == ("screenshots", "contact")


# --- merging a later reply ---------------------------------------------------------------------


def _first_and_reply(first_text: str, reply_text: str) -> tuple[Assessment, Assessment]:
    subject = "Erreur lors de la transmission SwissDec pour M. Dupont"
    first = assess(subject, first_text, (), CONFIG)
    return first, assess(f"RE: {subject}", reply_text, (), CONFIG)


def test_reply_fills_only_what_was_missing() -> None:
    first, reply = _first_and_reply(
        "Version : 12.4.1\nCriticité : basse\n",
        "Version : 9.9\nSociété : ACME SA\nTél. : 021 555 12 34\nPriorité : critique\n"
        "Message d'erreur : « Numéro AVS invalide »\n",
    )
    assert first.missing == ("company", "phone")
    merged, still, supplied = merge_reply(first.fields, first.missing, reply, CONFIG)
    assert supplied == {"company": "ACME SA", "phone": "021 555 12 34", "error_message": "yes"}
    assert merged["version"] == "12.4.1"
    assert merged["criticality"] == "low"
    assert merged["company"] == "ACME SA"
    assert still == ()


def test_reply_without_the_missing_fields_leaves_them_missing() -> None:
    first, reply = _first_and_reply("Bonjour", "Je cherche encore.\nVersion : 12.4\n")
    merged, still, supplied = merge_reply(first.fields, first.missing, reply, CONFIG)
    assert supplied == {"version": "12.4"}
    assert still == ("company", "phone")
    assert merged == {**first.fields, "version": "12.4"}


def test_reply_never_changes_type_or_answers_no_over_yes() -> None:
    first, reply = _first_and_reply(
        "Étapes :\n1. ouvrir\n2. valider\nType : Patch\n",
        "Type : Solva Flex\nRien de plus.\n",
    )
    merged, _, supplied = merge_reply(first.fields, first.missing, reply, CONFIG)
    assert merged["type"] == "patch"
    assert merged["steps"] == "yes"
    assert supplied == {}


def test_merge_does_not_modify_its_input() -> None:
    first, reply = _first_and_reply("Bonjour", "Société : ACME SA\n")
    before = dict(first.fields)
    merge_reply(first.fields, first.missing, reply, CONFIG)
    assert first.fields == before


# --- configuration ---------------------------------------------------------------------------


def test_from_mapping_builds_a_config() -> None:
    config = from_mapping(
        {
            "required_fields": ["version", "steps"],
            "min_subject_chars": 20,
            "min_subject_words": 4,
            "generic_words": {"en": ["oops"]},
            "module_names": ["Kasse"],
            "min_screenshot_bytes": 0,
        }
    )
    assert config.required_fields == ("version", "steps")
    assert (config.min_subject_chars, config.min_subject_words) == (20, 4)
    assert config.generic_words["en"] == ("oops",)
    assert config.generic_words["fr"] == CONFIG.generic_words["fr"]
    assert config.module_names == ("Kasse",)
    assert QualityConfig.from_mapping({}) == QualityConfig()


@pytest.mark.parametrize(
    ("mapping", "key", "allowed"),
    [
        ({"min_subject_lenght": 3}, "min_subject_lenght", "min_subject_chars"),
        ({"required_fields": ["version", "iban"]}, "required_fields", "company"),
        ({"required_fields": "version"}, "required_fields", "list"),
        ({"required_fields": ["type"]}, "required_fields", "phone"),
        ({"min_subject_chars": -1}, "min_subject_chars", ">= 0"),
        ({"min_subject_words": True}, "min_subject_words", "whole number"),
        ({"min_subject_words": "3"}, "min_subject_words", "whole number"),
        ({"generic_words": {"es": ["problema"]}}, "generic_words", "fr, de, it, en"),
        ({"generic_words": ["problème"]}, "generic_words", "table"),
        ({"generic_words": {"fr": "problème"}}, "generic_words.fr", "list"),
        ({"module_names": ["RH", ""]}, "module_names", "non-empty"),
    ],
)
def test_from_mapping_names_the_bad_key_and_what_is_allowed(
    mapping: dict, key: str, allowed: str
) -> None:
    with pytest.raises(ValueError, match="quality") as error:
        from_mapping(mapping)
    assert key in str(error.value)
    assert allowed in str(error.value)


def test_from_mapping_rejects_a_non_table() -> None:
    with pytest.raises(ValueError, match="table"):
        from_mapping(["required_fields"])  # type: ignore[arg-type]


def test_every_requirable_field_can_be_required() -> None:
    config = from_mapping({"required_fields": list(REQUIRABLE)})
    result = assess("Sujet", "", (), config)
    assert result.missing == REQUIRABLE


def test_value_objects_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        CONFIG.min_subject_chars = 1  # type: ignore[misc]


def test_fold_strips_every_combining_mark_as_the_character_by_character_definition_does():
    """`fold` removes combining marks with one precomputed pattern; it must agree with the
    plain definition (NFKD, then drop each character whose combining class is not 0)."""
    import random
    import unicodedata

    from maildesk.inbound.quality.subject import fold

    def plain(text: str) -> str:
        decomposed = unicodedata.normalize("NFKD", text.casefold())
        return "".join(c for c in decomposed if not unicodedata.combining(c))

    rnd = random.Random(7)
    samples = ["Problème", "PROBLÈME", "Straße", "ﬁchier", "naïve café", "x\u0301\u0302", "ß"]
    samples += ["Ελληνικά", "עִבְרִית", "हिन्दी", "ﾊﾝｶｸ", "İstanbul", "Grüße", "ça", "𝔄𝔟"]
    samples += ["".join(chr(rnd.randrange(0x20, 0x30000)) for _ in range(12)) for _ in range(3000)]
    assert [fold(s) for s in samples] == [plain(s) for s in samples]
    assert fold("Problème") == fold("PROBLEME") == "probleme"


def test_a_reading_done_ahead_weighed_later_equals_the_assessment_in_one_go():
    """`read` (the mail alone) then `conclude` (with the requester's earlier language) is
    what `assess` gives, whatever the history says."""
    from maildesk.inbound.quality.assess import assess, conclude, read

    subject = "Lohnabrechnung: Fehler beim Export"
    text = "Guten Tag\n\nVersion: 12.4.1\nFirma: Muster AG\nTel. 031 123 45 67\n\nGruss"
    for previous, chosen in (("", False), ("fr", False), ("fr", True), ("it", True)):
        whole = assess(subject, text, previous_language=previous, language_chosen=chosen)
        found = read(subject, text)
        assert conclude(found, previous_language=previous, language_chosen=chosen) == whole
    assert assess(subject, text, previous_language="fr", language_chosen=True).language == "de"
