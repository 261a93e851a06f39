"""Real-looking support requests and what the desk must read from each of them.

`fields` lists every field expected beyond the defaults (type "assistance", criticality
"medium", error_message/screenshots/steps "no"); version, company, contact and phone must be
absent unless listed. `reasons` is the exact subject verdict (empty means the subject passes).
"""

from __future__ import annotations

from typing import Any

LOGO = ("image001.png", "image/png", 4_312)
SCREEN = ("capture.png", "image/png", 184_220)

CASES: list[dict[str, Any]] = [
    # --- French, good subjects -------------------------------------------------------------
    {
        "id": "fr-swissdec-complete",
        "subject": "Erreur lors de la transmission SwissDec pour M. Dupont",
        "text": """Bonjour,

Lors de la transmission SwissDec de décembre, le collaborateur M. Dupont est refusé.
Message d'erreur : « Le numéro AVS 756.1234.5678.97 n'est pas valide pour la caisse 066 ».

Étapes :
1. Salaires > Déclarations > SwissDec
2. Sélectionner décembre et lancer la transmission

Version : 12.4.1
Société : ACME Holding SA
Criticité : Haute

Meilleures salutations

Jean Dupont
Responsable RH
ACME Holding SA
Tél. +41 21 555 12 34
""",
        "attachments": [SCREEN],
        "fields": {
            "version": "12.4.1",
            "company": "ACME Holding SA",
            "contact": "Jean Dupont",
            "phone": "+41 21 555 12 34",
            "criticality": "high",
            "error_message": "yes",
            "screenshots": "yes",
            "steps": "yes",
        },
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "fr-connexion-client-lourd",
        "subject": "Problème lors de la connexion initiale à ProConcept en client lourd",
        "text": """Bonjour,

Depuis ce matin, plus personne ne peut se connecter en client lourd.
Nous sommes en version ProConcept 11.2.

Contact : Marie Rochat
Téléphone : 021 555 66 77

Cordialement
Marie Rochat
""",
        "fields": {"version": "11.2", "contact": "Marie Rochat", "phone": "021 555 66 77"},
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "fr-prime-noel",
        "subject": "Ajout d'une nouvelle variable salaire « Prime de Noël »",
        "text": """Bonjour,

Nous souhaitons ajouter une nouvelle variable pour la prime de Noël, facturée sur notre
solde Flex.

Version ProConcept : 12.3
Société : Boulangerie Martin SA

Bien à vous,

Sophie Martin
Boulangerie Martin SA
+41 26 400 10 20
""",
        "fields": {
            "version": "12.3",
            "company": "Boulangerie Martin SA",
            "contact": "Sophie Martin",
            "phone": "+41 26 400 10 20",
            "type": "solva_flex",
        },
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "fr-patch-deploiement",
        "subject": "RE: Déploiement du correctif 12.4.2 sur l'environnement de test",
        "text": """Bonjour,

Pourriez-vous déployer le correctif 12.4.2 sur notre environnement de test mardi ?

Version actuelle : v12.4
Société : Transports Favre SA
Priorité : basse

Salutations
Luc Favre
Tél. direct : 0041 27 322 45 67
""",
        "fields": {
            "version": "12.4",
            "company": "Transports Favre SA",
            "contact": "Luc Favre",
            "phone": "0041 27 322 45 67",
            "type": "patch",
            "criticality": "low",
        },
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "fr-ora-error-outlook-reply",
        "subject": "RE: [SUP-4512] Calcul des salaires bloqué par une erreur ORA-00942",
        "text": """Bonjour,

Voici les informations demandées : Version : 12.2.3, Société : Garage du Lac Sàrl.

Le calcul affiche ORA-00942 dès le deuxième collaborateur.

Cordialement,

Pierre Blanc
Garage du Lac Sàrl
Mobile +41 79 123 45 67

De : Customer Services <support@example.com>
Envoyé : mardi 4 mars 2025 09:14
À : Pierre Blanc <p.blanc@garagedulac.ch>
Objet : [SUP-4512] Calcul des salaires bloqué

Bonjour,
Merci de nous indiquer votre version et votre société.
Téléphone : 031 999 88 77
""",
        "fields": {
            "version": "12.2.3",
            "company": "Garage du Lac Sàrl",
            "contact": "Pierre Blanc",
            "phone": "+41 79 123 45 67",
            "error_message": "yes",
        },
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "fr-html-converted-table",
        "subject": "Impression des bulletins de salaire vide en PDF",
        "text": """Bonjour,\xa0

**Version :** 12.1.0\xa0
**Société :** Clinique des Alpes SA
**Criticité :** Critique

Les bulletins de salaire sortent vides en PDF depuis la mise à jour.

[cid:image002.png@01DB8F3A.1C2E0F40]

Meilleures salutations

Anne Chevalley
T +41 24 466 77 88
[cid:image001.png@01DB8F3A.1C2E0F40]
""",
        "attachments": [("image002.png", "image/png", 96_000), LOGO],
        "fields": {
            "version": "12.1.0",
            "company": "Clinique des Alpes SA",
            "contact": "Anne Chevalley",
            "phone": "+41 24 466 77 88",
            "criticality": "critical",
            "screenshots": "yes",
        },
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "fr-logo-only-no-screenshot",
        "subject": "Export des écritures comptables vers la fiduciaire",
        "text": """Bonjour,

L'export des écritures vers notre fiduciaire ne contient pas le mois de février.
Ouvrir Finance -> Exports -> Fiduciaire puis lancer l'export.

Version 12.4
Société : Fiduciaire Rey & Cie

Cordialement
Denis Rey
Tél : 022 310 20 30
[cid:image001.png@01DB8F3A.1C2E0F40]
""",
        "attachments": [LOGO],
        "fields": {
            "version": "12.4",
            "company": "Fiduciaire Rey & Cie",
            "contact": "Denis Rey",
            "phone": "022 310 20 30",
            "steps": "yes",
        },
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "fr-forwarded-colleague",
        "subject": "TR: Décompte LPP erroné pour les apprentis",
        "text": """Bonjour,

Je vous transfère la demande de ma collègue. Nous sommes en Release 12.3.

Meilleures salutations
Paul Girard

-------- Message transféré --------
Sujet : Décompte LPP
De : Julie Morel <j.morel@example.ch>
Société : Autre Société SA
Tél. : 032 111 22 33
Version : 9.1
""",
        "fields": {"version": "12.3", "contact": "Paul Girard"},
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "fr-iban-date-not-phone",
        "subject": "Paiement fournisseur rejeté par la banque le 12.03.2025",
        "text": """Bonjour,

Le paiement du 12.03.2025 au fournisseur a été rejeté par la banque.
IBAN du fournisseur : CH93 0076 2011 6238 5295 7
Numéro de commande 0012345

Version : 12.4.1
Société : Menuiserie Python SA

Cordialement
""",
        "fields": {"version": "12.4.1", "company": "Menuiserie Python SA"},
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "fr-quoted-gt-lines",
        "subject": "Re: Clôture annuelle impossible sur l'exercice 2024",
        "text": """Bonjour,

Toujours le même problème, je vous joins une capture.

> Version : 11.0
> Société : ACME SA
> Pourriez-vous nous indiquer votre numéro de téléphone ?

Léa Besson
""",
        "attachments": [("Capture d'écran 2025-03-04.png", "image/png", 240_511)],
        "fields": {"screenshots": "yes"},
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "fr-le-a-ecrit",
        "subject": "Re: Rapprochement bancaire camt.054 en erreur",
        "text": """Bonjour,

Voici la version : 12.4.3. Téléphone : 079 555 44 33.

Le lun. 3 mars 2025 à 10:12, Customer Services <support@example.com> a
écrit :
> Société : ?
Société : Exemple SA
""",
        "fields": {"version": "12.4.3", "phone": "079 555 44 33"},
        "reasons": (),
        "language": "fr",
    },
    # --- German, good subjects -------------------------------------------------------------
    {
        "id": "de-lohnlauf-complete",
        "subject": "AW: WG: Fehler beim Lohnlauf Dezember für Temporärangestellte",
        "text": """Guten Tag

Beim Lohnlauf Dezember erscheint die Fehlermeldung:
"Kein gültiger Lohnausweis für Mitarbeiter 1043".

Schritte:
1. Lohn > Lohnlauf > Neu
2. Periode Dezember wählen

Version: 12.4.1
Firma: Muster Logistik AG
Ansprechpartner: Hans Muster
Priorität: hoch

Freundliche Grüsse
Hans Muster
Tel. +41 44 123 45 67
""",
        "fields": {
            "version": "12.4.1",
            "company": "Muster Logistik AG",
            "contact": "Hans Muster",
            "phone": "+41 44 123 45 67",
            "criticality": "high",
            "error_message": "yes",
            "steps": "yes",
        },
        "reasons": (),
        "language": "de",
    },
    {
        "id": "de-patch-einspielen",
        "subject": "Patch einspielen auf Produktivumgebung am Wochenende",
        "text": """Hallo zusammen

Bitte den Patch einspielen, sobald er verfügbar ist. Wir haben ProConcept 12.3.2.

Firma: Beispiel Treuhand GmbH
Dringlichkeit: kritisch

Mit freundlichen Grüssen
Petra Keller
Telefon 031 333 22 11
""",
        "fields": {
            "version": "12.3.2",
            "company": "Beispiel Treuhand GmbH",
            "contact": "Petra Keller",
            "phone": "031 333 22 11",
            "type": "patch",
            "criticality": "critical",
        },
        "reasons": (),
        "language": "de",
    },
    {
        "id": "de-flex-guthaben",
        "subject": "Neue Auswertung Ferienguthaben pro Abteilung",
        "text": """Guten Tag

Wir möchten eine neue Auswertung der Ferienguthaben pro Abteilung. Bitte über unser
Flex-Guthaben abrechnen.

Version: 12.4
Gesellschaft: Alpen Sport AG

Beste Grüsse
Marco Bernasconi
""",
        "fields": {
            "version": "12.4",
            "company": "Alpen Sport AG",
            "contact": "Marco Bernasconi",
            "type": "solva_flex",
        },
        "reasons": (),
        "language": "de",
    },
    {
        "id": "de-am-schrieb",
        "subject": "AW: Debitorenmahnung druckt falsches Datum",
        "text": """Guten Tag

Die Version ist 11.4.2, die Firma: Uhren Meier AG

Gruss
Thomas Meier
Mobile: 079 888 77 66

Am 04.03.2025 um 09:14 schrieb Customer Services <support@example.com>:
> Bitte Version angeben
Firma: Falsch AG
""",
        "fields": {
            "version": "11.4.2",
            "company": "Uhren Meier AG",
            "contact": "Thomas Meier",
            "phone": "079 888 77 66",
        },
        "reasons": (),
        "language": "de",
    },
    {
        "id": "de-von-gesendet",
        "subject": "Kreditorenzahlungen werden doppelt exportiert",
        "text": """Guten Tag

Seit dem Update werden Kreditorenzahlungen doppelt exportiert (siehe Screenshot).
Vorgehen: Zahlungslauf starten, Datei exportieren, zweimal derselbe Betrag.

Version 12.4.1

Freundliche Grüsse
Sandra Huber

Von: Sandra Huber <s.huber@beispiel.ch>
Gesendet: Montag, 3. März 2025 16:02
An: Support <support@example.com>
Betreff: Zahlungen
Firma: Beispiel AG
Tel. 061 222 33 44
""",
        "attachments": [("Screenshot 2025-03-03.jpg", "image/jpeg", 150_000)],
        "fields": {
            "version": "12.4.1",
            "contact": "Sandra Huber",
            "screenshots": "yes",
            "steps": "yes",
        },
        "reasons": (),
        "language": "de",
    },
    # --- English, good subjects ------------------------------------------------------------
    {
        "id": "en-payroll-export",
        "subject": "Fwd: Payroll journal export fails for the Geneva entity",
        "text": """Hello,

The payroll journal export fails with Error: Object reference not set to an instance.

Steps to reproduce:
1. Payroll > Journal > Export
2. Choose the Geneva entity

Version: 12.4.1
Company: Global Trading SA
Priority: critical

Best regards
John Smith
Phone: +44 20 7946 0958
""",
        "fields": {
            "version": "12.4.1",
            "company": "Global Trading SA",
            "contact": "John Smith",
            "phone": "+44 20 7946 0958",
            "criticality": "critical",
            "error_message": "yes",
            "steps": "yes",
        },
        "reasons": (),
        "language": "en",
    },
    {
        "id": "en-deploy-fix",
        "subject": "Please deploy the fix for VAT rounding on our production server",
        "text": """Hi,

Could you deploy the fix for the VAT rounding on our production server this week?
We run Release 12.4. Criticality: low

Contact: Emma Brown, +41 22 700 80 90

Thanks
""",
        "fields": {
            "version": "12.4",
            "contact": "Emma Brown",
            "phone": "+41 22 700 80 90",
            "type": "patch",
            "criticality": "low",
        },
        "reasons": (),
        "language": "en",
    },
    {
        "id": "en-on-wrote",
        "subject": "Re: Stock valuation report shows negative quantities",
        "text": """Hi,

Version is v12.3.1. The company: Nordic Parts Ltd

Kind regards
Olivia Jensen
Mobile +45 20 12 34 56

On Tue, 4 Mar 2025 at 09:14, Customer Services <support@example.com> wrote:
> Which version do you use?
Company: Wrong Ltd
""",
        "fields": {
            "version": "12.3.1",
            "company": "Nordic Parts Ltd",
            "contact": "Olivia Jensen",
            "phone": "+45 20 12 34 56",
        },
        "reasons": (),
        "language": "en",
    },
    {
        "id": "en-exception-flex",
        "subject": "New customs declaration field billed on the Flex balance",
        "text": """Hello,

We would like a new field on the customs declaration, billed on our Flex balance.
Today the screen throws a NullPointerException when the field is empty.

Version: 12.4.1
Company: Swiss Export AG

Regards
Daniel Keller
""",
        "fields": {
            "version": "12.4.1",
            "company": "Swiss Export AG",
            "contact": "Daniel Keller",
            "type": "solva_flex",
            "error_message": "yes",
        },
        "reasons": (),
        "language": "en",
    },
    # --- Bad subjects: empty and prefixes only ---------------------------------------------
    {
        "id": "bad-empty",
        "subject": "",
        "text": "Bonjour, le calcul des salaires ne fonctionne plus. Merci.",
        "fields": {},
        "reasons": ("empty",),
        "language": "fr",
    },
    {
        "id": "bad-blank-spaces",
        "subject": "   \t ",
        "text": "Guten Tag, der Lohnlauf funktioniert nicht. Danke für die Hilfe.",
        "fields": {},
        "reasons": ("empty",),
        "language": "de",
    },
    {
        "id": "bad-only-re",
        "subject": "RE:",
        "text": "Voici la version : 12.4.1\n\nCordialement\nNadia Perret\n",
        "fields": {"version": "12.4.1", "contact": "Nadia Perret"},
        "reasons": ("only-prefix",),
        "language": "fr",
    },
    {
        "id": "bad-only-tr-fwd",
        "subject": "TR: Fwd: RE:",
        "text": "Pour info.\n\nCordialement\n",
        "fields": {},
        "reasons": ("only-prefix",),
        "language": "fr",
    },
    {
        "id": "bad-only-aw-ext",
        "subject": "AW: [EXTERN] WG:",
        "text": "Siehe unten. Danke und freundliche Grüsse",
        "fields": {},
        "reasons": ("only-prefix",),
        "language": "de",
    },
    # --- Bad subjects: generic words -------------------------------------------------------
    {
        "id": "bad-probleme",
        "subject": "Problème",
        "text": """Bonjour,

Nous avons un problème avec ProConcept.

Merci
""",
        "fields": {},
        "reasons": ("generic-word", "too-short"),
        "language": "fr",
    },
    {
        "id": "bad-question-urgente",
        "subject": "Question urgente !!!",
        "text": "Bonjour, pouvez-vous me rappeler au 078 600 70 80 ? Merci",
        "fields": {"phone": "078 600 70 80"},
        "reasons": ("generic-word", "too-short"),
        "language": "fr",
    },
    {
        "id": "bad-demande-aide",
        "subject": "Demande d'aide",
        "text": "Bonjour, j'ai besoin d'aide pour la clôture. Cordialement",
        "fields": {},
        "reasons": ("generic-word", "too-short"),
        "language": "fr",
    },
    {
        "id": "bad-help",
        "subject": "Help",
        "text": "Hello, we need help with the system. Thanks",
        "fields": {},
        "reasons": ("generic-word", "too-short"),
        "language": "en",
    },
    {
        "id": "bad-urgent-issue",
        "subject": "Fwd: urgent issue - please help",
        "text": "Hello, please call me back, this is urgent. Regards",
        "fields": {},
        "reasons": ("generic-word",),
        "language": "en",
    },
    {
        "id": "bad-dringend-fehler",
        "subject": "Dringend: Fehler",
        "text": "Guten Tag, wir haben einen Fehler. Bitte um Rückruf. Danke",
        "fields": {},
        "reasons": ("generic-word", "too-short"),
        "language": "de",
    },
    {
        "id": "bad-frage",
        "subject": "WG: Frage",
        "text": "Hallo, ich habe eine Frage zu der Rechnung. Gruss",
        "fields": {},
        "reasons": ("generic-word", "too-short"),
        "language": "de",
    },
    # --- Bad subjects: module names --------------------------------------------------------
    {
        "id": "bad-rh",
        "subject": "RH",
        "text": "Bonjour, un souci dans le module RH. Version : 12.4. Merci",
        "fields": {"version": "12.4"},
        "reasons": ("module-name", "too-short"),
        "language": "fr",
    },
    {
        "id": "bad-salaire",
        "subject": "Salaire",
        "text": "Bonjour, le salaire de mars est faux.\nSociété : ACME SA\nMerci",
        "fields": {"company": "ACME SA"},
        "reasons": ("module-name", "too-short"),
        "language": "fr",
    },
    {
        "id": "bad-probleme-salaires",
        "subject": "Re: Problème de salaires",
        "text": "Bonjour,\nle calcul est faux.\nCordialement\n",
        "fields": {},
        "reasons": ("generic-word", "module-name"),
        "language": "fr",
    },
    {
        "id": "bad-lohn",
        "subject": "Lohn",
        "text": "Guten Tag, bitte um Rückruf wegen Lohn. Danke",
        "fields": {},
        "reasons": ("module-name", "too-short"),
        "language": "de",
    },
    {
        "id": "bad-payroll-question",
        "subject": "Question about payroll",
        "text": "Hello, we have a question about payroll. Thanks",
        "fields": {},
        "reasons": ("generic-word", "module-name"),
        "language": "en",
    },
    {
        "id": "bad-swissdec",
        "subject": "TR: SwissDec",
        "text": "Bonjour, voir ci-dessous. Cordialement",
        "fields": {},
        "reasons": ("module-name", "too-short"),
        "language": "fr",
    },
    # --- Bad subjects: bare ticket numbers -------------------------------------------------
    {
        "id": "bad-ticket-number",
        "subject": "Ticket 4521",
        "text": "Bonjour, des nouvelles ? Cordialement",
        "fields": {},
        "reasons": ("bare-ticket-number",),
        "language": "fr",
    },
    {
        "id": "bad-re-ticket-tag",
        "subject": "RE: [SUP-1234]",
        "text": "Bonjour, voici la capture.\n",
        "attachments": [SCREEN],
        "fields": {"screenshots": "yes"},
        "reasons": ("bare-ticket-number",),
        "language": "fr",
    },
    {
        "id": "bad-ticket-key",
        "subject": "AW: SUP-4521",
        "text": "Guten Tag, gibt es Neuigkeiten? Danke",
        "fields": {},
        "reasons": ("bare-ticket-number",),
        "language": "de",
    },
    {
        "id": "bad-hash-number",
        "subject": "Demande n° 12345",
        "text": "Bonjour, je relance ma demande. Merci",
        "fields": {},
        "reasons": ("bare-ticket-number",),
        "language": "fr",
    },
    # --- Bad subjects: shouting and too short ----------------------------------------------
    {
        "id": "bad-all-caps-fr",
        "subject": "ERREUR CALCUL DES SALAIRES DE DECEMBRE",
        "text": "Bonjour, le calcul plante. Version : 12.4.1\nCordialement",
        "fields": {"version": "12.4.1"},
        "reasons": ("all-capitals",),
        "language": "fr",
    },
    {
        "id": "bad-all-caps-de",
        "subject": "WG: LOHNAUSWEIS KANN NICHT GEDRUCKT WERDEN",
        "text": "Guten Tag, der Lohnausweis kann nicht gedruckt werden. Danke",
        "fields": {},
        "reasons": ("all-capitals",),
        "language": "de",
    },
    {
        "id": "bad-urgent-probleme-caps",
        "subject": "URGENT PROBLEME SALAIRES",
        "text": "Bonjour, rappelez-moi svp. Cordialement",
        "fields": {},
        "reasons": ("generic-word", "module-name", "all-capitals"),
        "language": "fr",
    },
    {
        "id": "bad-too-short-two-words",
        "subject": "Export KO",
        "text": "Bonjour, l'export ne fonctionne pas. Merci",
        "fields": {},
        "reasons": ("too-short",),
        "language": "fr",
    },
    {
        "id": "bad-too-short-chars",
        "subject": "Bug in VAT",
        "text": "Hello, there is a bug in the VAT report. Thanks",
        "fields": {},
        "reasons": ("too-short",),
        "language": "en",
    },
    # --- Field extraction variants ---------------------------------------------------------
    {
        "id": "phone-0041-compact",
        "subject": "Droits d'accès des nouveaux utilisateurs du service achats",
        "text": """Bonjour,

Les nouveaux utilisateurs du service achats n'ont pas accès aux commandes.

Cordialement
Yves Roux
Ligne directe : 0041215551234
""",
        "fields": {"contact": "Yves Roux", "phone": "0041215551234"},
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "phone-slashes",
        "subject": "Inventaire annuel: écarts de valorisation sur le dépôt de Sion",
        "text": """Bonjour,

Nous constatons des écarts de valorisation sur le dépôt de Sion.
Société : Vins du Valais SA
Tél. 027/322.45.67
Fax 027/322.45.68
""",
        "fields": {"company": "Vins du Valais SA", "phone": "027/322.45.67"},
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "phone-fax-only",
        "subject": "Numérotation des factures recommence à 1 en janvier",
        "text": """Bonjour,

La numérotation des factures recommence à 1. Version : 12.4.1

Cordialement
Fax : 021 555 12 35
""",
        "fields": {"version": "12.4.1"},
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "phone-international-de",
        "subject": "Intrastat Meldung für deutsche Tochtergesellschaft fehlt",
        "text": """Guten Tag

Die Intrastat Meldung für unsere deutsche Tochter fehlt.
Firma: Muster Deutschland GmbH
Telefon: +49 (0)89 1234567

Viele Grüsse
""",
        "fields": {"company": "Muster Deutschland GmbH", "phone": "+49 (0)89 1234567"},
        "reasons": (),
        "language": "de",
    },
    {
        "id": "phone-us-en",
        "subject": "Currency revaluation posts to the wrong account",
        "text": """Hello,

The USD revaluation posts to account 4000 instead of 6900. Version 12.4.1.

Regards
Michael Carter
Mobile: +1 415 555 0100
""",
        "fields": {"version": "12.4.1", "contact": "Michael Carter", "phone": "+1 415 555 0100"},
        "reasons": (),
        "language": "en",
    },
    {
        "id": "version-release-ticket-not-phone",
        "subject": "Référence SUP-0215551234 citée dans la facture de maintenance",
        "text": """Bonjour,

La facture de maintenance cite la référence SUP-0215551234 et la release 12.2.
Merci de corriger.

Cordialement
""",
        "fields": {"version": "12.2"},
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "version-colon-separate-line",
        "subject": "Paramétrage des allocations familiales du canton de Vaud",
        "text": """Bonjour,

Version :
12.3.4
Société :
Commune de Belmont

Merci d'avance
Claire Duc
""",
        "fields": {"version": "12.3.4", "company": "Commune de Belmont", "contact": "Claire Duc"},
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "type-label-patch",
        "subject": "Installation du patch de sécurité sur le serveur de production",
        "text": """Bonjour,

Type : Patch
Version : 12.4.1
Société : Hôpital Régional SA
Criticité : Moyenne

Cordialement
""",
        "fields": {"version": "12.4.1", "company": "Hôpital Régional SA", "type": "patch"},
        "reasons": (),
        "language": "fr",
        "criticality_defaulted": False,
    },
    {
        "id": "type-label-solva-flex",
        "subject": "Nouvel état des heures supplémentaires par service",
        "text": """Bonjour,

Type de demande : Solva Flex
Nous voulons un nouvel état des heures supplémentaires.

Cordialement
""",
        "fields": {"type": "solva_flex"},
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "criticality-priorite-critique",
        "subject": "Plus aucune facture ne peut être validée depuis ce matin",
        "text": """Bonjour,

Priorité : critique
Plus aucune facture ne peut être validée. Message d'erreur : Violation de contrainte FK_INV.

Cordialement
""",
        "fields": {"criticality": "critical", "error_message": "yes"},
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "criticality-urgent-in-sentence-is-not-a-choice",
        "subject": "Le bouclement mensuel est urgent pour la fiduciaire",
        "text": """Bonjour,

C'est urgent, la fiduciaire attend le bouclement mensuel pour vendredi.

Cordialement
""",
        "fields": {},
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "error-message-none",
        "subject": "Le bouton Valider reste grisé sur les notes de frais",
        "text": """Bonjour,

Message d'erreur : aucun
Le bouton Valider reste grisé.

Cordialement
""",
        "fields": {},
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "error-quoted-guillemets",
        "subject": "Import des temps de travail depuis la badgeuse refusé",
        "text": """Bonjour,

L'import affiche l'erreur « Format de date invalide à la ligne 12 ».
Merci de votre aide.
""",
        "fields": {"error_message": "yes"},
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "not-an-error-a-l-exception",
        "subject": "Droits de lecture sur les dossiers du personnel",
        "text": """Bonjour,

Tous les utilisateurs voient les dossiers, à l'exception de la direction.
Comment restreindre la lecture ?

Cordialement
""",
        "fields": {},
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "steps-inline-numbers",
        "subject": "Duplication d'une commande client perd les remises",
        "text": """Bonjour,

1. ouvrir une commande avec remise 2. dupliquer la commande : la remise disparaît.

Cordialement
""",
        "fields": {"steps": "yes"},
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "no-steps-version-only",
        "subject": "Question sur la licence des utilisateurs de la version 12.4",
        "text": """Bonjour,

Combien d'utilisateurs simultanés notre licence permet-elle en version 12.4.1 ?

Cordialement
""",
        "fields": {"version": "12.4.1"},
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "screenshot-octet-stream",
        "subject": "Mise en page du rapport de TVA tronquée à droite",
        "text": "Bonjour,\n\nVoir la capture jointe.\n\nCordialement\n",
        "attachments": [("tva.PNG", "application/octet-stream", 80_000)],
        "fields": {"screenshots": "yes"},
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "pdf-not-screenshot",
        "subject": "Relevé de compte fournisseur différent du grand livre",
        "text": "Bonjour,\n\nCi-joint le relevé en PDF.\n\nCordialement\n",
        "attachments": [("releve.pdf", "application/pdf", 300_000)],
        "fields": {},
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "control-characters-and-long-company",
        "subject": "Libellé de société tronqué dans l'en-tête des factures",
        "text": "Société : Très\x07 Longue\x1b Société "
        + "X" * 300
        + "\nVersion : 12.4.1\nMerci\n",
        "fields": {
            "version": "12.4.1",
            "company": ("Très Longue Société " + "X" * 300)[:200],
        },
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "html-entities-company",
        "subject": "Décompte TVA trimestriel: montant de l'impôt préalable faux",
        "text": "Bonjour,<br>\nSoci&eacute;t&eacute; : Dupont &amp; Fils S&agrave;rl\n"
        "Version : 12.4\nT&eacute;l. : 021 555 12 34\n",
        "fields": {"version": "12.4", "company": "Dupont & Fils Sàrl", "phone": "021 555 12 34"},
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "en-original-message",
        "subject": "RE: Credit note cannot be matched with the original invoice",
        "text": """Hi,

Version: 12.4.1 (SP3). Please call me on 0041 44 555 66 77 if needed.

Best regards
Laura Fischer

-----Original Message-----
From: Customer Services <support@example.com>
Sent: Monday, March 3, 2025 4:02 PM
Company: Somebody Else AG
Phone: +41 31 000 00 00
""",
        "fields": {"version": "12.4.1", "contact": "Laura Fischer", "phone": "0041 44 555 66 77"},
        "reasons": (),
        "language": "en",
    },
    {
        "id": "de-weitergeleitet",
        "subject": "WG: Kostenstellen werden beim Import der Spesen ignoriert",
        "text": """Guten Tag

Zur Info, die Kostenstellen werden beim Import ignoriert. Wir sind auf Version 12.3.

Gruss
Martin Frei

---------- Weitergeleitete Nachricht ----------
Von: Anna Graf
Firma: Graf Bau AG
Priorität: kritisch
""",
        "fields": {"version": "12.3", "contact": "Martin Frei"},
        "reasons": (),
        "language": "de",
    },
    {
        "id": "fr-ref-prefix-good",
        "subject": "Réf: [EXT] Écart de caisse dans la clôture journalière du point de vente",
        "text": """Bonjour,

Écart de caisse de 12.50 CHF dans la clôture journalière du 03.03.2025.
Version : 12.4.1 – Société : Boutique Léman Sàrl

Cordialement
Julien Perrin
+41 21 311 22 33
""",
        "fields": {
            "version": "12.4.1",
            "company": "Boutique Léman Sàrl",
            "contact": "Julien Perrin",
            "phone": "+41 21 311 22 33",
        },
        "reasons": (),
        "language": "fr",
    },
    {
        "id": "en-language-with-french-subject-word",
        "subject": "Erreur when posting supplier invoices in foreign currency",
        "text": """Hello,

When we post supplier invoices in EUR the exchange rate is not applied.
Could you please check? We are on v12.4.

Thanks and regards
Sarah Miller
""",
        "fields": {"version": "12.4", "contact": "Sarah Miller"},
        "reasons": (),
        "language": "en",
    },
]
