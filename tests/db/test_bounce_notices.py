"""Delivery-failure notices without a delivery-status report, on SQLite and PostgreSQL.

Each notice below was written for this test in the style of a real sender: old
Sendmail/qmail/Postfix texts, Exchange, Notes/Domino and GroupWise plain-text reports,
Swiss, German and Italian providers, antivirus and content-filter gateways. They come
from ordinary-looking addresses with a non-null envelope sender, through the SMTP spool
and the worker: none may open a ticket or make us send anything. Thirty mails written by
people about delivery problems (in the same words, some forwarding a notice they got)
must each open a ticket.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from maildesk.daemon.app import Services
from maildesk.store import reports as report
from maildesk.store.models import outbox, tickets
from tests.hostile.support import count, ingest
from tests.mail import message

ACK = "{ACK}"  # replaced by the Message-ID of the acknowledgement sent to alice@acme.ch
ORIGINAL = "Erreur lors de la transmission SwissDec pour M. Dupont"

# (sender, subject, body, extra headers)
NOTICES: dict[str, tuple[str, str, str, dict[str, str]]] = {
    "returned-mail-error-during-delivery": (
        "Mail Gateway <mailgw@acme.ch>",
        "Returned Mail - Error During Delivery",
        "------ Failed Recipients ------\n<alice@acme.ch>: 550 5.1.1 User unknown\n\n"
        f"-------- Returned Mail --------\nMessage-ID: {ACK}\nSubject: [SUP-1] {ORIGINAL}\n",
        {},
    ),
    "mail-could-not-be-delivered-mdaemon": (
        "MDaemon at mail.acme.ch <mdaemon@mail.acme.ch>",
        "Mail could not be delivered",
        "The message you sent to alice@acme.ch could not be delivered.\n"
        "Session transcript:\n  RCPT TO:<alice@acme.ch>\n  550 5.1.1 mailbox unavailable\n",
        {},
    ),
    "delivery-failure-notification": (
        "Mail Services <mailservices@acme.ch>",
        "Delivery failure notification",
        "Your message could not be delivered to the following recipient:\n"
        "alice@acme.ch (550 Requested action not taken: mailbox unavailable)\n"
        "This is an automatically generated message.\n",
        {},
    ),
    "votre-message-non-remis": (
        "Service de messagerie <messagerie@fiduciaire.ch>",
        "Votre message n'a pas pu être délivré",
        "Votre message n'a pas pu être délivré au(x) destinataire(s) suivant(s) :\n"
        "  alice@acme.ch : 550 5.1.1 destinataire inconnu\n\nMessage non remis.\n"
        "Ceci est un message automatique, merci de ne pas répondre.\n",
        {},
    ),
    "non-remis-exchange-fr": (
        "Microsoft Outlook <outlook@fiduciaire.ch>",
        f"Non remis : [SUP-1] {ORIGINAL}",
        "Votre message n'a pas pu être remis à alice@acme.ch car l'adresse est introuvable.\n"
        "Serveur distant : 550 5.1.10 RESOLVER.ADR.RecipientNotFound\n",
        {},
    ),
    "echec-de-la-remise": (
        "Système de messagerie <systeme@commune-exemple.ch>",
        "Échec de la remise du message",
        "Le message suivant n'a pas été remis :\nDestinataire : alice@acme.ch\n"
        "Motif : 552 5.2.2 boîte aux lettres pleine\n",
        {},
    ),
    "unzustellbar-exchange-de": (
        "Microsoft Outlook <postfach@treuhand-muster.ch>",
        f"Unzustellbar: [SUP-1] {ORIGINAL}",
        "Ihre Nachricht hat einige oder alle Empfänger nicht erreicht.\n"
        "Die Nachricht konnte nicht zugestellt werden an: alice@acme.ch\n"
        "Remote-Server hat '550 5.1.1 User unknown' zurückgegeben\n",
        {},
    ),
    "unzustellbar-domino": (
        "Domino Server <notes@holz-bau.ch>",
        "Unzustellbar: Zustellungsbericht",
        "Dies ist eine automatisch erstellte Benachrichtigung.\n"
        "Die Nachricht konnte nicht zugestellt werden: Empfänger unbekannt.\n",
        {},
    ),
    "nicht-zustellbar": (
        "Mailserver <server@gemeinde-beispiel.ch>",
        "Nachricht nicht zustellbar",
        "Die folgende Nachricht konnte nicht zugestellt werden:\n"
        "  An: alice@acme.ch\n  Grund: 550 5.7.1 Empfänger abgelehnt\n",
        {},
    ),
    "zustellung-fehlgeschlagen": (
        "Systemverwalter <sysadmin@spital-beispiel.ch>",
        "Zustellung fehlgeschlagen",
        "Zustellung fehlgeschlagen an folgende Empfänger:\nalice@acme.ch\n"
        "554 5.7.1 Relay access denied\nBitte nicht auf diese Nachricht antworten.\n",
        {},
    ),
    "ruecklaeufer": (
        "Mail Delivery <delivery@kanton-beispiel.ch>",
        "Rückläufer: Ihre Nachricht",
        "Ihre Nachricht konnte nicht übermittelt werden.\n550 5.1.1 <alice@acme.ch>\n",
        {},
    ),
    "messaggio-non-recapitato": (
        "Servizio di posta <posta@studio-ticino.ch>",
        "Messaggio non recapitato",
        "Non è stato possibile recapitare il messaggio ai seguenti destinatari:\n"
        "alice@acme.ch - 550 5.1.1 destinatario sconosciuto\n"
        "Questo è un messaggio generato automaticamente.\n",
        {},
    ),
    "mancato-recapito-pec-style": (
        "Posta Certificata <avvisi@posta-esempio.it>",
        f"AVVISO DI MANCATO RECAPITO: [SUP-1] {ORIGINAL}",
        "Il messaggio non è stato recapitato al destinatario alice@acme.ch.\n"
        "Errore: 550 5.1.1 utente inesistente\n",
        {},
    ),
    "impossibile-recapitare": (
        "Amministratore di sistema <sistema@comune-esempio.ch>",
        "Impossibile recapitare il messaggio",
        "Il messaggio non può essere recapitato a uno o più destinatari.\n"
        "Destinatario: alice@acme.ch\nCodice: 552 5.2.2 casella piena\n",
        {},
    ),
    "notifica-mancato-recapito": (
        "Microsoft Outlook <outlook@fiduciaria-lugano.ch>",
        "Notifica di mancato recapito: richiesta",
        "Recapito non riuscito a questi destinatari o gruppi:\nalice@acme.ch\n"
        "Messaggio generato automaticamente, non rispondere.\n",
        {},
    ),
    "undeliverable-exchange-plain": (
        "Microsoft Outlook <exchange@bigcorp.example>",
        f"Undeliverable: [SUP-1] {ORIGINAL}",
        "Delivery has failed to these recipients or groups:\n\nalice@acme.ch\n"
        "The email address you entered couldn't be found.\n"
        "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound'\n",
        {},
    ),
    "undelivered-mail-returned-to-sender": (
        "Mail Delivery System <maildelivery@mx.partner.example>",
        "Undelivered Mail Returned to Sender",
        "This is the mail system at host mx.partner.example.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients.\n\n"
        "<alice@acme.ch>: host mx.acme.ch said: 550 5.1.1 <alice@acme.ch>: "
        "Recipient address rejected: User unknown\n",
        {},
    ),
    "qmail-failure-notice": (
        "relay <relay@isp.example>",
        "failure notice",
        "Hi. This is the qmail-send program at isp.example.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        "<alice@acme.ch>:\n550 5.1.1 no such user\n",
        {},
    ),
    "sendmail-returned-mail-user-unknown": (
        "Sendmail <sendmail@old-unix.example>",
        "Returned mail: User unknown",
        "The original message was received at Mon, 2 Mar 2026 10:00:00 +0100\n"
        "   ----- The following addresses had permanent fatal errors -----\n"
        "<alice@acme.ch>\n   ----- Transcript of session follows -----\n"
        "... while talking to mx.acme.ch.:\n>>> RCPT To:<alice@acme.ch>\n<<< 550 User unknown\n",
        {},
    ),
    "mail-delivery-failed-exim": (
        "Mail Delivery <exim@hosting.example>",
        "Mail delivery failed: returning message to sender",
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        "  alice@acme.ch\n    SMTP error from remote mail server after RCPT TO:<alice@acme.ch>:\n"
        "    550 5.1.1 mailbox unavailable\n",
        {},
    ),
    "delivery-status-notification-failure": (
        "Mail Delivery Subsystem <mail-noreply@webmail.example>",
        "Delivery Status Notification (Failure)",
        "Delivery to the following recipient failed permanently:\n\n     alice@acme.ch\n\n"
        "Technical details of permanent failure:\n550 5.1.1 The email account does not exist.\n",
        {},
    ),
    "lotus-notes-delivery-failure": (
        "Lotus Notes <notes@manufacture.example>",
        "DELIVERY FAILURE: User alice (alice@acme.ch) not listed in Domino Directory",
        "Your message\n\n  Subject: Re: [SUP-1] question\n\n"
        "was not delivered to:\n\n  alice@acme.ch\n\n"
        "because:\n\n  User alice (alice@acme.ch) not listed in Domino Directory\n",
        {},
    ),
    "groupwise-message-status": (
        "GroupWise <groupwise@verwaltung.example>",
        "Delivery failure report",
        "Message status - undeliverable\n\nThe message could not be delivered to:\n"
        "  alice@acme.ch\n  550 5.1.1 User unknown\n",
        {},
    ),
    "antivirus-virus-found": (
        "AntiVirus Gateway <antivirus@secure-mail.example>",
        "VIRUS ALERT: message not delivered",
        "Your message to alice@acme.ch contained a virus and was not delivered.\n"
        "Virus: Eicar-Test-Signature\nAction: message blocked\n"
        "This is an automatic notification.\n",
        {},
    ),
    "antivirus-message-bloque": (
        "Passerelle antivirus <antivirus@commune-exemple.ch>",
        "Message bloqué : virus détecté",
        "Votre message n'a pas été remis à alice@acme.ch : il contenait un virus.\n"
        "Ceci est un message automatique. Ne répondez pas.\n",
        {},
    ),
    "content-filter-nachricht-blockiert": (
        "Mailscanner <mailscanner@firma-beispiel.ch>",
        "Nachricht blockiert: unerlaubter Anhang",
        "Ihre Nachricht an alice@acme.ch wurde blockiert und nicht zugestellt.\n"
        "554 5.7.1 Message rejected\nAutomatisch erstellte Nachricht.\n",
        {},
    ),
    "spam-filter-messaggio-bloccato": (
        "Filtro antispam <filter@scuola-esempio.ch>",
        "Messaggio bloccato: non recapitato",
        "Il messaggio per alice@acme.ch è stato bloccato e non è stato recapitato.\n"
        "554 5.7.1 Service unavailable\nMessaggio automatico: non rispondere.\n",
        {},
    ),
    "inlined-copy-of-our-ack": (
        "Mail Relay <relay@mx.partner.example>",
        "Mail could not be delivered",
        "Mailbox full: alice@acme.ch\n\n--- Original message follows ---\n"
        "> From: Support <support@help.example>\n"
        f"> Message-ID: {ACK}\n> Subject: [SUP-1] {ORIGINAL}\n",
        {},
    ),
    "mailer-daemon-return-path-only": (
        "System Administrator <admin@old-mail.example>",
        "Undeliverable mail",
        "Your message could not be delivered.\n",
        {"Return-Path": "<MAILER-DAEMON@old-mail.example>"},
    ),
    "postmaster-return-path-only": (
        "Mail Administrator <admin@provider.example>",
        "Message not delivered",
        "The following recipient could not be reached: alice@acme.ch\n",
        {"Return-Path": "<postmaster@provider.example>"},
    ),
    "bounce-mixed-languages": (
        "Messagerie / Mailserver <mail@bilingue.example>",
        "Non remis / Unzustellbar",
        "Le message n'a pas pu être remis. Die Nachricht konnte nicht zugestellt werden.\n"
        "alice@acme.ch : 550 5.1.1\n",
        {},
    ),
    "no-notice-subject-automatic-body": (
        "Mail System <mailsystem@acme-partner.example>",
        "Your message to alice@acme.ch",
        "This is an automatically generated message.\n"
        "Your message could not be delivered to alice@acme.ch.\n550 5.1.1 User unknown\n",
        {},
    ),
}


# (sender, subject, body): people who write about delivery problems.
HUMANS: dict[str, tuple[str, str, str]] = {
    "en-payslips-undeliverable": (
        "Tom Baker <tom@baker-ag.ch>",
        "Payslips undeliverable since update 12.4",
        "Hello,\n\nsince the update to 12.4 all payslips sent by e-mail come back as "
        "undeliverable.\nCould you have a look?\n\nBest regards\nTom Baker\nBaker AG",
    ),
    "en-mail-could-not-be-delivered-subject": (
        "Sue Miller <sue@miller-gmbh.ch>",
        "Mail could not be delivered",
        "Hello,\nwhen we send the salary statements we get 'Mail could not be delivered: "
        "550 5.1.1 <hr@client.example> user unknown'.\nThe address is correct. What can we do?"
        "\n\nThanks,\nSue",
    ),
    "en-undeliverable-subject-with-colon": (
        "Ken Adams <ken@adams-consulting.ch>",
        "Undeliverable: payroll export to the bank",
        "Dear support,\n\nthe bank export reports 'undeliverable' for every file since "
        "Monday.\nVersion 12.4.1, company Adams Consulting.\n\nKind regards\nKen",
    ),
    "en-forwarded-notice": (
        "Lisa Ray <lisa@ray-holding.ch>",
        "Fwd: Undeliverable: Payslip March",
        "Hi, we received this when sending payslips. Is it on your side?\n\n"
        "---------- Forwarded message ---------\nFrom: Microsoft Outlook <postmaster@x.example>\n"
        "Subject: Undeliverable: Payslip March\n\nDelivery has failed to these recipients:\n"
        "emp@x.example\n550 5.1.1 RESOLVER.ADR.RecipientNotFound\n",
    ),
    "en-delivery-failure-notifications": (
        "Mark Stone <mark@stone-bau.ch>",
        "Delivery failure notifications for every reminder",
        "Good morning,\nevery reminder the system sends to our employees ends with a delivery "
        "failure notification. Please advise.\nRegards, Mark",
    ),
    "en-reminders-not-delivered": (
        "Anna Lee <anna@lee-treuhand.ch>",
        "Reminders not delivered to employees",
        "Hello,\nthe reminders were not delivered to three employees yesterday.\n"
        "Can you check the mail log?\nThanks\nAnna",
    ),
    "en-returned-mail": (
        "Paul Grant <paul@grant-ag.ch>",
        "Returned mail when sending invoices from the module",
        "Hi,\nsince this morning invoices sent from the module come back as returned mail. "
        "The error says mailbox full.\nThanks for your help,\nPaul",
    ),
    "en-no-greeting-question": (
        "Nina Ross <nina@ross-ag.ch>",
        "Mail delivery failed for the SwissDec receipt?",
        "The SwissDec receipt mail says delivery failed (550 5.7.1). Is the relay "
        "configuration wrong?",
    ),
    "fr-non-remis": (
        "Claire Favre <claire@favre-sa.ch>",
        "Non remis : fiches de salaire de mars",
        "Bonjour,\n\nnos fiches de salaire reviennent toutes avec le message « non remis ».\n"
        "Pouvez-vous vérifier ?\n\nMeilleures salutations\nClaire Favre",
    ),
    "fr-message-na-pas-pu-etre-delivre": (
        "Luc Perrin <luc@perrin-fiduciaire.ch>",
        "Votre message n'a pas pu être délivré - erreur à l'envoi des décomptes",
        "Bonjour,\nlors de l'envoi des décomptes par e-mail nous recevons « Votre message "
        "n'a pas pu être délivré, 550 5.1.1 destinataire inconnu ».\nMerci de votre aide.\n"
        "Cordialement\nLuc Perrin",
    ),
    "fr-forward-notice": (
        "Marie Rochat <marie@rochat-sa.ch>",
        "TR: Non remis : Certificat de salaire",
        "Bonjour, j'ai reçu ce message en retour, que dois-je faire ?\n\n"
        "-----Message d'origine-----\nDe : Microsoft Outlook\nObjet : Non remis : Certificat\n\n"
        "Votre message n'a pas pu être remis à rh@client.example.\n550 5.1.1\n",
    ),
    "fr-echec-remise": (
        "Julien Morel <julien@morel-ing.ch>",
        "Échec de la remise des avis de paiement",
        "Bonjour,\ndepuis la mise à jour les avis de paiement ne sont plus envoyés : échec de "
        "la remise pour chaque destinataire.\nVersion : 12.4.1\nSociété : Morel Ingénierie\n"
        "Cordialement",
    ),
    "fr-mails-pas-remis": (
        "Sophie Blanc <sophie@blanc-immo.ch>",
        "Les e-mails de rappel ne sont pas remis",
        "Madame, Monsieur,\nles e-mails de rappel ne sont pas remis aux locataires depuis "
        "lundi.\nBien à vous\nSophie Blanc",
    ),
    "fr-destinataire-inconnu": (
        "Henri Dubois <henri@dubois-transport.ch>",
        "Destinataire inconnu lors de l'envoi des bulletins",
        "Bonjour,\nle logiciel indique destinataire inconnu pour tous les bulletins.\nMerci\nHenri",
    ),
    "fr-no-greeting-short": (
        "Eva Giroud <eva@giroud-sa.ch>",
        "Envoi des fiches : message non délivré",
        "Depuis hier, chaque envoi de fiche donne un message non délivré. Une idée ?",
    ),
    "de-unzustellbar": (
        "Hans Meier <hans@meier-ag.ch>",
        "Unzustellbar: Lohnabrechnungen März",
        "Grüezi\n\nalle Lohnabrechnungen kommen als unzustellbar zurück.\n"
        "Können Sie das prüfen?\n\nFreundliche Grüsse\nHans Meier",
    ),
    "de-unzustellbare-lohnausweise": (
        "Petra Huber <petra@huber-treuhand.ch>",
        "Unzustellbare Lohnausweise seit dem Update",
        "Guten Tag\nseit dem Update 12.4 sind die Lohnausweise per E-Mail unzustellbar "
        "(550 5.1.1 <info@kunde.example>).\nFirma: Huber Treuhand\nMit freundlichen Grüssen\n"
        "Petra Huber",
    ),
    "de-weitergeleitet": (
        "Urs Keller <urs@keller-holz.ch>",
        "WG: Unzustellbar: Spesenabrechnung",
        "Hallo\nwas bedeutet diese Meldung?\n\n-----Ursprüngliche Nachricht-----\n"
        "Von: Microsoft Outlook\nBetreff: Unzustellbar: Spesenabrechnung\n\n"
        "Die Nachricht konnte nicht zugestellt werden.\n550 5.1.1 User unknown\n",
    ),
    "de-zustellung-fehlgeschlagen": (
        "Monika Frei <monika@frei-gmbh.ch>",
        "Zustellung fehlgeschlagen bei Mahnungen",
        "Sehr geehrte Damen und Herren\nbei den Mahnungen erhalten wir 'Zustellung "
        "fehlgeschlagen'.\nBesten Dank für Ihre Hilfe\nMonika Frei",
    ),
    "de-nicht-zugestellt": (
        "Beat Roth <beat@roth-ag.ch>",
        "E-Mails werden nicht zugestellt",
        "Hoi zäme\nunsere E-Mails aus dem Modul werden nicht zugestellt. Was ist los?\nBeat",
    ),
    "de-no-greeting": (
        "Karin Vogel <karin@vogel-ag.ch>",
        "Versand der Lohnausweise nicht zugestellt",
        "Seit heute werden die Lohnausweise nicht zugestellt. Empfänger unbekannt laut "
        "Protokoll.\nTel. 044 123 45 67",
    ),
    "de-rueckfrage": (
        "Stefan Graf <stefan@graf-bau.ch>",
        "Mail delivery failed bei den Offerten",
        "Liebe Support-Mitarbeitende\nbei jeder Offerte kommt 'Mail delivery failed'.\n"
        "Danke und Gruss\nStefan",
    ),
    "it-messaggio-non-recapitato": (
        "Marco Bernasconi <marco@bernasconi-sa.ch>",
        "Messaggio non recapitato: buste paga",
        "Buongiorno,\ntutte le buste paga tornano indietro con 'Messaggio non recapitato'.\n"
        "Potete verificare?\nCordiali saluti\nMarco Bernasconi",
    ),
    "it-mancato-recapito": (
        "Giulia Rossi <giulia@rossi-fiduciaria.ch>",
        "Mancato recapito dei certificati di salario",
        "Gentili signori,\nriceviamo un avviso di mancato recapito (550 5.1.1) per ogni "
        "certificato.\nSocietà: Rossi Fiduciaria\nDistinti saluti\nGiulia Rossi",
    ),
    "it-inoltro": (
        "Luca Bianchi <luca@bianchi-edilizia.ch>",
        "I: Impossibile recapitare il messaggio",
        "Buongiorno, cosa significa questo messaggio?\n\n"
        "---------- Messaggio inoltrato ----------\nDa: postmaster\n"
        "Oggetto: Impossibile recapitare il messaggio\n\n"
        "Non è stato possibile recapitare il messaggio.\n550 5.1.1\n",
    ),
    "it-non-recapitati": (
        "Sara Conti <sara@conti-sa.ch>",
        "I promemoria non vengono recapitati",
        "Buonasera,\ni promemoria ai dipendenti non vengono recapitati da ieri.\nGrazie\nSara",
    ),
    "it-no-greeting": (
        "Paolo Galli <paolo@galli-sagl.ch>",
        "Invio fatture: recapito non riuscito",
        "Da stamattina l'invio delle fatture dà recapito non riuscito. Versione 12.4.1.\n"
        "Telefono 091 123 45 67",
    ),
    "en-reply-mentions-undeliverable": (
        "Olivia Hart <olivia@hart-ag.ch>",
        "RE: Undeliverable payslips",
        "Hi,\nfollowing up: still undeliverable today. Thanks\nOlivia",
    ),
    "en-virus-question": (
        "Ben Fox <ben@fox-ag.ch>",
        "Message blocked by the antivirus gateway",
        "Hello,\nour antivirus gateway blocks the PDF payslips generated by the module.\n"
        "Which signature should we whitelist?\nRegards\nBen",
    ),
    "en-system-sender-person": (
        "IT Admin <sysadmin@ross-logistik.ch>",
        "Undeliverable: scheduled reports",
        "Hello,\n\nsince Friday every scheduled report ends with 'undeliverable'.\n"
        "Could you look at the SMTP settings of our installation?\n\nThanks\nIT team",
    ),
}


def acknowledgement(services: Services) -> str:
    [ack] = [r for r in report.list_outbox(services.engine) if r["template"] == "ack"]
    return ack["message_id"]


def raw_notice(sender: str, subject: str, body: str, headers: dict[str, str], n: int, ack: str):
    return message(
        sender=sender,
        subject=subject,
        body=body.replace(ACK, ack),
        message_id=f"<notice-{n}@gateway.example>",
        headers=headers,
    )


def test_the_tables_are_big_enough():
    assert len(NOTICES) >= 30
    assert len(HUMANS) >= 30


def test_delivery_failure_notices_open_no_ticket_and_send_nothing(services):
    opened = ingest(services, message(sender="Alice <alice@acme.ch>"), mail_from="alice@acme.ch")
    assert (opened.outcome, opened.ticket) == ("created", "SUP-1")
    ack = acknowledgement(services)
    sent = count(services, outbox)

    wrong = {}
    for n, (name, (sender, subject, body, headers)) in enumerate(sorted(NOTICES.items())):
        address = sender.rpartition("<")[2].rstrip(">")
        raw = raw_notice(sender, subject, body, headers, n, ack)
        result = ingest(services, raw, mail_from=address)
        screen = [
            s for s in report.trace(services.engine, result.message_id) if s["step"] == "screen"
        ]
        if result.outcome != "ignored" or screen[0]["action"] != "bounce":
            wrong[name] = (result.outcome, result.ticket, screen[0]["reason"])

    assert wrong == {}
    assert count(services, tickets) == 1
    assert count(services, outbox) == sent
    # The two notices quoting the acknowledgement, and those naming alice with a 5xx
    # code, are recorded on it.
    [row] = [r for r in report.list_outbox(services.engine) if r["message_id"] == ack]
    assert row["bounced_at"] is not None
    kinds = [e["kind"] for e in report.show_ticket(services.engine, "SUP-1")["events"]]
    assert "notification-bounced" in kinds


def test_people_writing_about_delivery_problems_each_open_a_ticket(services):
    wrong = {}
    for n, (name, (sender, subject, body)) in enumerate(sorted(HUMANS.items())):
        address = sender.rpartition("<")[2].rstrip(">")
        raw = message(sender=sender, subject=subject, body=body, message_id=f"<human-{n}@x.ch>")
        result = ingest(services, raw, mail_from=address)
        if result.outcome != "created":
            wrong[name] = (result.outcome, result.reason)
    assert wrong == {}
    with services.engine.connect() as conn:
        assert conn.execute(select(tickets.c.key)).scalars().all().__len__() == len(HUMANS)
    acks = [r for r in report.list_outbox(services.engine) if r["template"] == "ack"]
    assert len(acks) == len(HUMANS)


@pytest.mark.parametrize("how", ["inlined-copy", "quoted-5xx-recipient"])
def test_a_notice_is_linked_to_the_notification_it_answers(services, how):
    ingest(services, message(sender="Alice <alice@acme.ch>"), mail_from="alice@acme.ch")
    ack = acknowledgement(services)
    if how == "inlined-copy":
        body = f"Mailbox full.\n\n> Message-ID: {ack}\n> Subject: [SUP-1] {ORIGINAL}\n"
    else:
        body = "This is an automatically generated message.\n<alice@acme.ch>: 550 5.1.1\n"
    notice = message(
        sender="Mail Relay <relay@mx.partner.example>",
        subject="Mail could not be delivered",
        body=body,
        message_id="<notice-link@mx.partner.example>",
    )
    result = ingest(services, notice, mail_from="relay@mx.partner.example")

    assert (result.outcome, result.ticket) == ("ignored", "SUP-1")
    assert result.reason == f"bounce of our notification {ack}"
    [row] = [r for r in report.list_outbox(services.engine) if r["message_id"] == ack]
    assert row["bounced_at"] is not None
    assert row["bounce_reason"].startswith("delivery-failure-notice:")
    [event] = [
        e
        for e in report.show_ticket(services.engine, "SUP-1")["events"]
        if e["kind"] == "notification-bounced"
    ]
    assert event["to_value"] == "alice@acme.ch"


def test_a_reply_that_mentions_undeliverable_stays_a_reply(services):
    ingest(services, message(sender="Alice <alice@acme.ch>"), mail_from="alice@acme.ch")
    reply = message(
        sender="Alice <alice@acme.ch>",
        subject=f"RE: [SUP-1] {ORIGINAL}",
        body="Hello,\nthe mails to our bank are still undeliverable: 550 5.1.1 user unknown.\n"
        "Delivery failed again this morning.\nAlice",
        message_id="<reply-undeliverable@acme.ch>",
    )
    result = ingest(services, reply, mail_from="alice@acme.ch")
    assert (result.outcome, result.ticket) == ("appended", "SUP-1")
    templates = [r["template"] for r in report.list_outbox(services.engine)]
    assert "staff_customer_reply" in templates
