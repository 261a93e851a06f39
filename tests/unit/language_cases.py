# ruff: noqa: E501 - a table of mails: one request per line reads best
"""Short support mails in French, German (Swiss spellings), Italian and English, as
customers write them: one to five lines of their own, a greeting or none, a closing, and
often something in another language - a signature or disclaimer, a quoted answer, a
field label. 60 per language; each entry is (expected language, subject, body).

Each language has 30 requests, written out below; every request is used twice: once
plainly (greeting, request, closing) and once with a hard part: no greeting, a signature
or a quoted history in another language, or a one-line mail.
"""

from __future__ import annotations

REQUESTS = {
    "fr": [
        ("Export vide depuis la 12.4.1", "L'export des salaires est vide depuis la mise à jour."),
        ("Impression bloquée", "Impossible d'imprimer les fiches de salaire ce matin."),
        (
            "Transmission SwissDec refusée",
            "La transmission SwissDec est refusée pour deux collaborateurs.",
        ),
        ("Mot de passe", "Je n'arrive plus à me connecter, mon mot de passe est refusé."),
        ("Décompte AVS faux", "Le décompte AVS de mars ne correspond pas aux salaires versés."),
        ("Nouvel utilisateur", "Pouvez-vous créer un accès pour notre nouvelle comptable ?"),
        ("Lenteur", "Le programme est très lent depuis hier, chaque écran met une minute."),
        ("Facture en double", "Nous avons reçu deux fois la même facture pour le contrat Flex."),
        ("Certificat de salaire", "Le certificat de salaire n'affiche pas les frais forfaitaires."),
        (
            "Erreur à l'ouverture",
            "Un message d'erreur s'affiche quand j'ouvre le module Débiteurs.",
        ),
        ("Question TVA", "Comment saisir une facture avec deux taux de TVA différents ?"),
        ("Patch 12.4.3", "Merci de déployer le correctif 12.4.3 sur notre serveur de test."),
        ("Clôture annuelle", "La clôture de l'exercice s'arrête à l'étape des amortissements."),
        ("Paiements ISO 20022", "Le fichier de paiement est rejeté par la banque."),
        ("Licence expirée", "Le logiciel indique que notre licence a expiré, est-ce normal ?"),
        ("Rappel", "Avez-vous pu avancer sur notre demande de la semaine passée ?"),
        ("Double saisie", "Les heures supplémentaires sont comptées deux fois sur la fiche."),
        ("Export Excel", "Le bouton d'export vers Excel ne fait plus rien."),
        ("Collaborateur sorti", "Un collaborateur parti en janvier apparaît encore dans la liste."),
        (
            "Taux d'impôt à la source",
            "Le barème de l'impôt à la source n'est pas à jour pour Genève.",
        ),
        ("Formation", "Nous aimerions organiser une formation pour deux personnes."),
        ("Écran blanc", "Après la connexion, l'écran reste blanc."),
        ("Allocations familiales", "Les allocations ne sont plus calculées depuis février."),
        ("Arrondi", "Les montants sont arrondis au franc au lieu des cinq centimes."),
        ("Accès au portail", "Notre directeur ne voit pas les documents sur le portail."),
        ("Stock négatif", "Le stock d'un article devient négatif après une vente."),
        ("Relevé bancaire", "L'import du relevé bancaire ne reconnaît aucune écriture."),
        ("Merci", "Merci pour votre aide rapide, tout fonctionne à nouveau."),
        ("Urgent : paie bloquée", "Nous ne pouvons pas lancer la paie de ce mois, c'est urgent."),
        (
            "Changement d'adresse",
            "Notre société a déménagé, merci de corriger l'adresse de facturation.",
        ),
    ],
    "de": [
        ("Export leer seit 12.4.1", "Der Lohnexport ist seit dem Update leer."),
        ("Drucken geht nicht", "Wir können die Lohnabrechnungen heute nicht drucken."),
        ("SwissDec abgelehnt", "Die SwissDec-Übermittlung wird für zwei Mitarbeitende abgelehnt."),
        ("Passwort", "Ich kann mich nicht mehr anmelden, das Passwort wird nicht akzeptiert."),
        (
            "AHV-Abrechnung falsch",
            "Die AHV-Abrechnung vom März stimmt nicht mit den Löhnen überein.",
        ),
        ("Neuer Benutzer", "Könnt ihr bitte einen Zugang für unsere neue Buchhalterin einrichten?"),
        (
            "Sehr langsam",
            "Das Programm ist seit gestern sehr langsam, jede Maske braucht eine Minute.",
        ),
        (
            "Doppelte Rechnung",
            "Wir haben die gleiche Rechnung für den Flex-Vertrag zweimal erhalten.",
        ),
        ("Lohnausweis", "Auf dem Lohnausweis fehlen die Pauschalspesen."),
        ("Fehlermeldung", "Beim Öffnen des Moduls Debitoren erscheint eine Fehlermeldung."),
        ("Frage MWST", "Wie erfasse ich eine Rechnung mit zwei verschiedenen MWST-Sätzen?"),
        ("Patch einspielen", "Bitte den Patch 12.4.3 auf unserem Testserver einspielen."),
        ("Jahresabschluss", "Der Jahresabschluss bleibt beim Schritt Abschreibungen stehen."),
        ("Zahlungsdatei", "Die Zahlungsdatei wird von der Bank zurückgewiesen."),
        (
            "Lizenz abgelaufen",
            "Die Software meldet, dass unsere Lizenz abgelaufen ist. Ist das normal?",
        ),
        ("Nachfrage", "Gibt es schon Neuigkeiten zu unserer Anfrage von letzter Woche?"),
        ("Überstunden doppelt", "Die Überstunden werden auf der Abrechnung doppelt gezählt."),
        ("Excel-Export", "Der Knopf für den Export nach Excel macht nichts mehr."),
        (
            "Ausgetretener Mitarbeiter",
            "Ein Mitarbeiter, der im Januar ausgetreten ist, erscheint noch in der Liste.",
        ),
        ("Quellensteuer", "Der Quellensteuertarif für den Kanton Zürich ist nicht aktuell."),
        ("Schulung", "Wir möchten eine Schulung für zwei Personen organisieren."),
        ("Weisser Bildschirm", "Nach der Anmeldung bleibt der Bildschirm weiss."),
        ("Familienzulagen", "Die Familienzulagen werden seit Februar nicht mehr berechnet."),
        ("Rundung", "Die Beträge werden auf ganze Franken statt auf fünf Rappen gerundet."),
        ("Portalzugang", "Unser Geschäftsführer sieht die Dokumente im Portal nicht."),
        (
            "Negativer Lagerbestand",
            "Der Lagerbestand eines Artikels wird nach einem Verkauf negativ.",
        ),
        ("Kontoauszug", "Der Import des Kontoauszugs erkennt keine einzige Buchung."),
        ("Merci", "Merci vielmal für die schnelle Hilfe, jetzt läuft wieder alles."),
        (
            "Dringend: Lohnlauf blockiert",
            "Wir können den Lohnlauf diesen Monat nicht starten, es ist dringend.",
        ),
        ("Adressänderung", "Wir sind umgezogen, bitte die Rechnungsadresse anpassen."),
    ],
    "it": [
        (
            "Esportazione vuota dalla 12.4.1",
            "L'esportazione degli stipendi è vuota dopo l'aggiornamento.",
        ),
        ("Stampa bloccata", "Stamattina non riusciamo a stampare i conteggi salariali."),
        ("SwissDec rifiutato", "La trasmissione SwissDec viene rifiutata per due collaboratori."),
        ("Password", "Non riesco più ad accedere, la password non viene accettata."),
        (
            "Conteggio AVS errato",
            "Il conteggio AVS di marzo non corrisponde agli stipendi versati.",
        ),
        ("Nuovo utente", "Potreste creare un accesso per la nostra nuova contabile?"),
        ("Lentezza", "Il programma è molto lento da ieri, ogni schermata impiega un minuto."),
        ("Fattura doppia", "Abbiamo ricevuto due volte la stessa fattura per il contratto Flex."),
        ("Certificato di salario", "Il certificato di salario non mostra le spese forfettarie."),
        ("Errore all'apertura", "Quando apro il modulo Debitori compare un messaggio di errore."),
        ("Domanda IVA", "Come registro una fattura con due aliquote IVA diverse?"),
        ("Patch 12.4.3", "Vi chiediamo di installare la patch 12.4.3 sul server di test."),
        ("Chiusura annuale", "La chiusura dell'esercizio si ferma al passo degli ammortamenti."),
        ("File di pagamento", "Il file di pagamento viene respinto dalla banca."),
        ("Licenza scaduta", "Il programma dice che la nostra licenza è scaduta, è normale?"),
        ("Sollecito", "Ci sono novità sulla nostra richiesta della settimana scorsa?"),
        ("Ore doppie", "Le ore straordinarie vengono contate due volte sul conteggio."),
        ("Esportazione Excel", "Il pulsante per esportare in Excel non fa più niente."),
        ("Collaboratore uscito", "Un collaboratore uscito a gennaio compare ancora nella lista."),
        (
            "Imposta alla fonte",
            "La tariffa dell'imposta alla fonte per il Ticino non è aggiornata.",
        ),
        ("Formazione", "Vorremmo organizzare una formazione per due persone."),
        ("Schermo bianco", "Dopo l'accesso lo schermo resta bianco."),
        ("Assegni familiari", "Gli assegni familiari non vengono più calcolati da febbraio."),
        (
            "Arrotondamento",
            "Gli importi vengono arrotondati al franco invece che ai cinque centesimi.",
        ),
        ("Accesso al portale", "Il nostro direttore non vede i documenti sul portale."),
        ("Giacenza negativa", "La giacenza di un articolo diventa negativa dopo una vendita."),
        (
            "Estratto conto",
            "L'importazione dell'estratto conto non riconosce nessuna registrazione.",
        ),
        ("Grazie", "Grazie per l'aiuto veloce, adesso funziona tutto di nuovo."),
        ("Urgente: paghe bloccate", "Non possiamo lanciare le paghe di questo mese, è urgente."),
        (
            "Cambio di indirizzo",
            "Ci siamo trasferiti, per favore correggete l'indirizzo di fatturazione.",
        ),
    ],
    "en": [
        ("Export empty since 12.4.1", "The payroll export has been empty since the update."),
        ("Printing blocked", "We cannot print the payslips this morning."),
        ("SwissDec rejected", "The SwissDec transmission is rejected for two employees."),
        ("Password", "I can no longer log in, my password is refused."),
        ("AHV statement wrong", "The AHV statement for March does not match the salaries paid."),
        ("New user", "Could you create an account for our new accountant?"),
        ("Slow", "The program has been very slow since yesterday, every screen takes a minute."),
        ("Duplicate invoice", "We received the same invoice twice for the Flex contract."),
        ("Salary certificate", "The salary certificate does not show the flat-rate expenses."),
        ("Error on opening", "An error message appears when I open the Debtors module."),
        ("VAT question", "How do I enter an invoice with two different VAT rates?"),
        ("Patch 12.4.3", "Please deploy the patch 12.4.3 on our test server."),
        ("Year-end closing", "The year-end closing stops at the depreciation step."),
        ("Payment file", "The payment file is rejected by the bank."),
        ("Licence expired", "The software says our licence has expired, is that normal?"),
        ("Follow-up", "Is there any news on our request from last week?"),
        ("Overtime counted twice", "Overtime hours are counted twice on the payslip."),
        ("Excel export", "The export to Excel button does nothing any more."),
        ("Employee who left", "An employee who left in January still appears in the list."),
        ("Withholding tax", "The withholding tax rate for Geneva is not up to date."),
        ("Training", "We would like to organise a training session for two people."),
        ("White screen", "After logging in, the screen stays white."),
        ("Family allowances", "Family allowances have not been calculated since February."),
        ("Rounding", "Amounts are rounded to the franc instead of five centimes."),
        ("Portal access", "Our managing director cannot see the documents on the portal."),
        ("Negative stock", "The stock of an item becomes negative after a sale."),
        ("Bank statement", "The bank statement import does not recognise any entry."),
        ("Thanks", "Thanks for the quick help, everything works again."),
        ("Urgent: payroll blocked", "We cannot run this month's payroll, it is urgent."),
        ("Change of address", "We have moved, please correct the billing address."),
    ],
}

GREETINGS = {
    "fr": [
        "Bonjour,",
        "Bonjour Madame,",
        "Bonjour à tous,",
        "Madame, Monsieur,",
        "Bonjour Monsieur Rochat,",
    ],
    "de": [
        "Grüezi,",
        "Guten Tag,",
        "Hallo zusammen,",
        "Sehr geehrte Damen und Herren,",
        "Grüezi Frau Meier,",
    ],
    "it": [
        "Buongiorno,",
        "Buongiorno signora,",
        "Gentili signori,",
        "Buonasera,",
        "Egregio signor Rossi,",
    ],
    "en": ["Hello,", "Hi,", "Dear Sir or Madam,", "Good morning,", "Dear support team,"],
}
CLOSINGS = {
    "fr": [
        "Meilleures salutations\nAnne Rochat",
        "Cordialement\nJ. Favre",
        "Merci d'avance et bonne journée\nLuc",
    ],
    "de": [
        "Freundliche Grüsse\nUrs Meier",
        "Beste Grüsse\nSandra Keller",
        "Merci und Gruess\nReto",
    ],
    "it": [
        "Cordiali saluti\nMarco Bernasconi",
        "Distinti saluti\nLaura Pedrazzini",
        "Grazie mille e buona giornata\nGiulia",
    ],
    "en": ["Best regards\nJohn Miller", "Kind regards\nSarah Brown", "Thanks in advance\nTom"],
}
# Hard parts in another language than the mail: signatures and disclaimers of bilingual
# companies, a quoted answer from a consultant, field labels of a company template.
FOREIGN_SIGNATURES = [
    "--\nMuster AG | Bahnhofstrasse 1 | 8001 Zürich\nDiese E-Mail ist vertraulich und nur für den Empfänger bestimmt.",
    "--\nACME SA - Avenue de la Gare 12 - 1003 Lausanne\nCe message est confidentiel. S'il ne vous est pas destiné, merci de le détruire.",
    "--\nRossi SA, Via Nassa 5, 6900 Lugano\nQuesto messaggio è confidenziale e destinato unicamente al destinatario.",
    "--\nThis e-mail and any attachments are confidential and intended solely for the addressee.",
]
QUOTED = {
    "fr": "Le lun. 2 mars 2026 à 09:12, Support a écrit :\n> Bonjour, nous avons bien reçu votre demande et revenons vers vous.",
    "de": "Am 02.03.2026 um 09:12 schrieb Support:\n> Guten Tag, wir haben Ihre Anfrage erhalten und melden uns.",
    "it": "-----Original Message-----\nFrom: Support\nSent: Monday, March 2, 2026\n> Buongiorno, abbiamo ricevuto la Sua richiesta.",
    "en": "On Mon, 2 Mar 2026 at 09:12, Support wrote:\n> Hello, we have received your request and will get back to you.",
}
FOREIGN_OF = {
    "fr": ["de", "en", "it"],
    "de": ["fr", "en", "it"],
    "it": ["de", "fr", "en"],
    "en": ["fr", "de", "it"],
}
SIGNATURE_OF = {"de": 0, "fr": 1, "it": 2, "en": 3}
LABELS = {
    "fr": "Société : Muster SA\nVersion : 12.4",
    "de": "Firma: Muster AG\nVersion: 12.4",
    "it": "Società: Rossi SA\nVersione: 12.4",
    "en": "Company: Muster Ltd\nVersion: 12.4",
}


def _hard(lang: str, i: int, request: str) -> str:
    """The second use of a request: something in another language, or almost nothing."""
    other = FOREIGN_OF[lang][i % 3]
    closing = CLOSINGS[lang][i % 3]
    greeting = GREETINGS[lang][i % 5]
    kind = i % 5
    if kind == 0:  # a signature or disclaimer in another language
        return f"{greeting}\n{request}\n{closing}\n{FOREIGN_SIGNATURES[SIGNATURE_OF[other]]}"
    if kind == 1:  # quoted history in another language
        return f"{request}\n{closing}\n\n{QUOTED[other]}"
    if kind == 2:  # one line, nothing else
        return request
    if kind == 3:  # the company's form labels, no greeting
        return f"{request}\n{LABELS[lang]}\n{closing}"
    return f"{greeting}\n{request}\n{closing}\n\n{QUOTED[other]}\n{FOREIGN_SIGNATURES[SIGNATURE_OF[other]]}"


def cases() -> list[tuple[str, str, str]]:
    found = []
    for lang, requests in REQUESTS.items():
        for i, (subject, request) in enumerate(requests):
            plain = f"{GREETINGS[lang][i % 5]}\n{request}\n{CLOSINGS[lang][(i + 1) % 3]}"
            found.append((lang, subject, plain))
            found.append((lang, subject, _hard(lang, i, request)))
    return found


CASES = cases()
