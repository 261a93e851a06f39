"""Inline forwards as Outlook, Gmail, Apple Mail and Thunderbird write them, in fr, de, en."""

from __future__ import annotations

import pytest

from maildesk.inbound.forward import from_subject, inline

BODY = "Bonjour,\nla transmission SwissDec échoue.\nVersion 12.4.1"
FORWARDS = {
    "outlook-fr": (
        "Merci de l'ouvrir pour elle.\n\n________________________________\n"
        "De : Alice Martin <alice@acme.example>\nEnvoyé : lundi 2 mars 2026 08:12\n"
        "À : Marc Dubois <consultant@help.example>\nObjet : Erreur SwissDec\n\n"
    ),
    "outlook-en-original": (
        "-----Original Message-----\nFrom: Alice Martin [mailto:alice@acme.example]\n"
        "Sent: Monday, March 2, 2026 8:12 AM\nTo: Marc Dubois\nSubject: Erreur SwissDec\n\n"
    ),
    "gmail-en": (
        "---------- Forwarded message ---------\nFrom: Alice Martin <alice@acme.example>\n"
        "Date: Mon, 2 Mar 2026 at 08:12\nSubject: Erreur SwissDec\n"
        "To: <consultant@help.example>\n\n\n"
    ),
    "gmail-fr": (
        "---------- Message transféré ---------\nDe : Alice Martin <alice@acme.example>\n"
        "Date: lun. 2 mars 2026 à 08:12\nSubject: Erreur SwissDec\n"
        "To: <consultant@help.example>\n\n"
    ),
    "apple-en": (
        "Begin forwarded message:\n\nFrom: Alice Martin <alice@acme.example>\n"
        "Subject: Erreur SwissDec\nDate: 2 March 2026 at 08:12:00 CET\n"
        "To: consultant@help.example\n\n"
    ),
    "apple-de": (
        "Anfang der weitergeleiteten Nachricht:\n\nVon: Alice Martin <alice@acme.example>\n"
        "Betreff: Erreur SwissDec\nDatum: 2. März 2026 um 08:12:00 MEZ\n"
        "An: consultant@help.example\n\n"
    ),
    "thunderbird-en": (
        "-------- Forwarded Message --------\nSubject: \tErreur SwissDec\n"
        "Date: \tMon, 2 Mar 2026 08:12:00 +0100\nFrom: \tAlice Martin <alice@acme.example>\n"
        "To: \tconsultant@help.example\n\n"
    ),
    "thunderbird-de": (
        "-------- Weitergeleitete Nachricht --------\nBetreff: \tErreur SwissDec\n"
        "Datum: \tMon, 2 Mar 2026 08:12:00 +0100\nVon: \tAlice Martin <alice@acme.example>\n"
        "An: \tconsultant@help.example\n\n"
    ),
}


@pytest.mark.parametrize("name", sorted(FORWARDS))
def test_inline_forward_names_the_original_sender(name: str):
    found = inline(FORWARDS[name] + BODY)

    assert found is not None
    assert (found.sender, found.sender_name) == ("alice@acme.example", "Alice Martin")
    assert found.subject == "Erreur SwissDec"
    assert found.text == BODY


def test_a_mail_without_a_forward_is_none():
    assert inline("Bonjour,\nDe : mon côté tout va bien.\nMerci") is None
    assert inline("-----Original Message-----\nnothing here") is None


def test_a_forged_address_in_the_block_is_refused():
    text = "-----Original Message-----\nFrom: Eve <eve@x.example\r\nBcc: a@b>\nSubject: x\n\nhi"
    found = inline(text)
    assert found is None or "\n" not in found.sender


def test_forward_prefixes_are_removed_from_the_subject():
    assert from_subject("TR: Fwd: WG: Erreur SwissDec") == "Erreur SwissDec"
