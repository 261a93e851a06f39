"""Fields read from the subject line, and the body winning where both give a value."""

from __future__ import annotations

import pytest

from maildesk.inbound.quality.assess import QualityConfig, assess
from maildesk.inbound.quality.subject_fields import subject_fields

CONFIG = QualityConfig()


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Export vide depuis la 12.4.1", {"version": "12.4.1"}),
        ("RE: [SUP-12] Export vide depuis la 12.4.1", {"version": "12.4.1"}),
        ("Lohnlauf bricht ab seit Update auf 11.2.10", {"version": "11.2.10"}),
        ("Stampa bloccata dopo l'aggiornamento alla 12.4.3", {"version": "12.4.3"}),
        ("Erreur SwissDec en version 12.3", {"version": "12.3"}),
        ("Payroll export fails on v12.4", {"version": "12.4"}),
        ("Release 12.5: Lohnausweis leer", {"version": "12.5"}),
        ("Firma: Muster AG – Lohnlauf bricht ab", {"company": "Muster AG"}),
        ("Priorité : haute / transmission SwissDec refusée", {"criticality": "high"}),
        ("Déployer le correctif 12.4.3 sur la production", {"type": "patch", "version": "12.4.3"}),
        ("Solde Flex pour la formation de mars", {"type": "solva_flex"}),
        ("ORA-00942 à l'ouverture du module Salaires", {"error_message": "yes"}),
        # Not versions: dates, amounts, IP addresses, longer dotted numbers, a ticket tag.
        ("Transmission du 12.03.25 refusée par la caisse", {}),
        ("Écart de 1.250.00 CHF sur le décompte", {}),
        ("Serveur 10.0.12.7 injoignable depuis ce matin", {}),
        ("AVS 756.1234.5678.97 refusé", {}),
        ("RE: [SUP-12] Export vide", {}),
        ("Problème d'impression à la caisse", {}),
        ("", {}),
    ],
)
def test_subject_fields(subject: str, expected: dict[str, str]) -> None:
    assert subject_fields(subject) == expected


def test_a_version_only_in_the_subject_is_read() -> None:
    found = assess("Export vide depuis la 12.4.1", "Bonjour,\nl'export est vide.\nAnne", (), CONFIG)
    assert found.fields["version"] == "12.4.1"
    assert "version" not in found.missing


@pytest.mark.parametrize(
    ("subject", "body", "field", "value"),
    [
        ("Export vide depuis la 12.4.1", "Version : 12.4.2\nExport vide.", "version", "12.4.2"),
        ("Firma: Muster AG – Lohnlauf", "Firma: Beispiel GmbH\nDer Lohnlauf bricht ab.",
         "company", "Beispiel GmbH"),
        ("Priorité : haute – export", "Criticité : basse\nExport vide.", "criticality", "low"),
        ("Déployer le correctif 12.4.3", "Type : Assistance\nMerci.", "type", "assistance"),
        ("Solde Flex pour la formation", "Merci de déployer le correctif.", "type", "patch"),
    ],
)  # fmt: skip
def test_the_body_wins_where_both_give_a_value(subject, body, field, value) -> None:
    assert assess(subject, body, (), CONFIG).fields[field] == value


def test_the_subject_fills_defaults_and_no_answers() -> None:
    found = assess(
        "Priorité : haute – ORA-00942 après la 12.4.1", "Bonjour,\nça ne marche plus.", (), CONFIG
    )
    assert found.fields["criticality"] == "high"
    assert found.criticality_defaulted is False
    assert found.fields["error_message"] == "yes"
    assert found.fields["version"] == "12.4.1"
    plain = assess("Export vide depuis hier soir", "Bonjour,\nça ne marche plus.", (), CONFIG)
    assert plain.fields["criticality"] == "medium"
    assert plain.criticality_defaulted is True
    assert plain.fields["type"] == "assistance"
