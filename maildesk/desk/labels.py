"""Customer-facing wording of the desk's codes (statuses, criticalities, types...) in fr, de, it,
en.

It only translates codes into words; it never decides anything, and an unknown code is shown as-is
rather than raising, so a notification is never lost because of a missing translation.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_LANGUAGE = "fr"

# kind -> code -> language -> text. French wording follows the customer portal page (domain.md).
LABELS: Mapping[str, Mapping[str, Mapping[str, str]]] = {
    "status": {
        "new": {
            "fr": "En attente de qualification",
            "de": "Wartet auf Qualifizierung",
            "en": "Awaiting qualification",
            "it": "In attesa di qualifica",
        },
        "qualified": {
            "fr": "Qualifiée / en attente de prise en charge",
            "de": "Qualifiziert / wartet auf Bearbeitung",
            "en": "Qualified / awaiting a consultant",
            "it": "Qualificata / in attesa di presa in carico",
        },
        "in_progress": {
            "fr": "En cours",
            "de": "In Bearbeitung",
            "en": "In progress",
            "it": "In corso",
        },
        "waiting_customer": {
            "fr": "Attente client",
            "de": "Wartet auf Kundenantwort",
            "en": "Waiting for your answer",
            "it": "In attesa della Sua risposta",
        },
        "closed": {
            "fr": "Résolue / Clôturée",
            "de": "Gelöst / Geschlossen",
            "en": "Resolved / Closed",
            "it": "Risolta / Chiusa",
        },
        "escalated_spc": {
            "fr": "Escaladée aux responsables produits (SPC)",
            "de": "An das Produktmanagement eskaliert (SPC)",
            "en": "Escalated to product management (SPC)",
            "it": "Inoltrata ai responsabili di prodotto (SPC)",
        },
        "escalated_rpc": {
            "fr": "Tâche de développement ouverte (RPC)",
            "de": "Entwicklungsauftrag eröffnet (RPC)",
            "en": "Development task opened (RPC)",
            "it": "Attività di sviluppo aperta (RPC)",
        },
        "escalated_l2": {
            "fr": "Escaladée au niveau 2",
            "de": "An den 2nd-Level-Support eskaliert",
            "en": "Escalated to level 2",
            "it": "Inoltrata al secondo livello",
        },
        "consulting": {
            "fr": "Transférée au Consulting",
            "de": "An das Consulting übergeben",
            "en": "Transferred to Consulting",
            "it": "Trasferita al Consulting",
        },
        "waiting_patch": {
            "fr": "En attente de patchs",
            "de": "Wartet auf Patches",
            "en": "Waiting for patches",
            "it": "In attesa di patch",
        },
    },
    "criticality": {
        "low": {"fr": "Basse", "de": "Niedrig", "en": "Low", "it": "Bassa"},
        "medium": {"fr": "Moyenne", "de": "Mittel", "en": "Medium", "it": "Media"},
        "high": {"fr": "Haute", "de": "Hoch", "en": "High", "it": "Alta"},
        "critical": {"fr": "Critique", "de": "Kritisch", "en": "Critical", "it": "Critica"},
    },
    "type": {
        "assistance": {
            "fr": "Assistance",
            "de": "Assistance",
            "en": "Assistance",
            "it": "Assistenza",
        },
        "patch": {"fr": "Patch", "de": "Patch", "en": "Patch", "it": "Patch"},
        "solva_flex": {
            "fr": "Solva Flex",
            "de": "Solva Flex",
            "en": "Solva Flex",
            "it": "Solva Flex",
        },
    },
    "field": {
        "version": {
            "fr": "Version du produit",
            "de": "Produktversion",
            "en": "Product version",
            "it": "Versione del prodotto",
        },
        "company": {"fr": "Société", "de": "Firma", "en": "Company", "it": "Società"},
        "contact": {
            "fr": "Personne de contact",
            "de": "Kontaktperson",
            "en": "Contact person",
            "it": "Persona di contatto",
        },
        "phone": {"fr": "Téléphone", "de": "Telefon", "en": "Phone", "it": "Telefono"},
        "error_message": {
            "fr": "Message d'erreur complet",
            "de": "Vollständige Fehlermeldung",
            "en": "Full error message",
            "it": "Messaggio di errore completo",
        },
        "screenshots": {
            "fr": "Captures d'écran",
            "de": "Bildschirmfotos",
            "en": "Screenshots",
            "it": "Schermate",
        },
        "steps": {
            "fr": "Étapes menant à l'erreur",
            "de": "Schritte bis zum Fehler",
            "en": "Steps leading to the error",
            "it": "Passaggi che portano all'errore",
        },
        "type": {"fr": "Type de demande", "de": "Art der Anfrage", "en": "Request type"},
        "criticality": {"fr": "Criticité", "de": "Kritikalität", "en": "Criticality"},
    },
    # What a change in a ticket's history changed (the #history mail).
    "change": {
        "status": {"fr": "Statut", "de": "Status", "en": "Status"},
        "criticality": {"fr": "Criticité", "de": "Kritikalität", "en": "Criticality"},
        "request_type": {"fr": "Type de demande", "de": "Art der Anfrage", "en": "Request type"},
        "assignee": {"fr": "Attribuée à", "de": "Zugewiesen an", "en": "Assigned to"},
    },
    "file": {"unnamed": {"fr": "(sans nom)", "de": "(ohne Namen)", "en": "(unnamed)"}},
    # The next step of the waiting ladder, in the morning digest.
    "next_step": {
        "reminder_1": {"fr": "1er rappel", "de": "1. Erinnerung", "en": "first reminder"},
        "reminder_2": {"fr": "2e rappel", "de": "2. Erinnerung", "en": "second reminder"},
        "auto_closed": {"fr": "clôture", "de": "Schliessung", "en": "closure"},
    },
    "yes_no": {
        "yes": {"fr": "oui", "de": "ja", "en": "yes"},
        "no": {"fr": "non", "de": "nein", "en": "no"},
    },
    # Why a subject was found too general (maildesk.inbound.quality.subject.REASONS).
    "subject_reason": {
        "empty": {"fr": "vide", "de": "leer", "en": "empty"},
        "only-prefix": {
            "fr": "seulement « RE: » ou « TR: »",
            "de": "nur «AW:» oder «WG:»",
            "en": "only a reply or forward prefix",
        },
        "bare-ticket-number": {
            "fr": "un numéro de demande seul",
            "de": "nur eine Anfragenummer",
            "en": "a ticket number alone",
        },
        "generic-word": {
            "fr": "mot trop général",
            "de": "zu allgemeines Wort",
            "en": "a generic word",
        },
        "module-name": {
            "fr": "nom de module seul",
            "de": "nur ein Modulname",
            "en": "a module name alone",
        },
        "all-capitals": {
            "fr": "tout en majuscules",
            "de": "nur Grossbuchstaben",
            "en": "all capitals",
        },
        "too-short": {"fr": "trop court", "de": "zu kurz", "en": "too short"},
    },
    "resolution": {
        "solved": {
            "fr": "Solution fournie",
            "de": "Lösung geliefert",
            "en": "Solution provided",
            "it": "Soluzione fornita",
        },
        "no_answer": {
            "fr": "Sans réponse du client",
            "de": "Keine Antwort des Kunden",
            "en": "No answer from the customer",
            "it": "Nessuna risposta del cliente",
        },
    },
    # Service-level objectives and their state, shown to consultants in SLA warnings.
    "objective": {
        "first_response": {
            "fr": "Délai de réponse",
            "de": "Reaktionszeit",
            "en": "Response time",
            "it": "Tempo di risposta",
        },
        "resolution": {
            "fr": "Délai de résolution",
            "de": "Lösungszeit",
            "en": "Resolution time",
            "it": "Tempo di risoluzione",
        },
    },
    "sla_state": {
        "at_risk": {
            "fr": "bientôt dépassé",
            "de": "bald überschritten",
            "en": "at risk",
            "it": "a rischio",
        },
        "breached": {"fr": "dépassé", "de": "überschritten", "en": "breached", "it": "superato"},
    },
}


# Fields whose stored value is a code: the kind of label that words it.
_VALUE_KINDS = {
    "type": "type",
    "criticality": "criticality",
    "error_message": "yes_no",
    "screenshots": "yes_no",
    "steps": "yes_no",
}


def value_label(field: str, value: object, lang: str) -> str:
    """A field's value as words: codes (type, criticality, yes/no) translated, free text
    (a version, a company, a phone number) as the customer wrote it."""
    kind = _VALUE_KINDS.get(field)
    if kind is None or not isinstance(value, str):
        return str(value)
    return label(kind, value, lang)


def label(kind: str, value: str, lang: str) -> str:
    """The wording of `value` in `lang`, else in French, else the raw value itself."""
    texts = LABELS.get(kind, {}).get(value)
    if texts is None:
        return value
    return texts.get(lang) or texts.get(DEFAULT_LANGUAGE) or value


_SIZE_UNITS = {"fr": ("o", "Ko", "Mo"), "de": ("B", "KB", "MB"), "en": ("B", "KB", "MB")}


def size_label(size: int, lang: str) -> str:
    """A file size as a person reads it: `40 KB`, `2,5 Mo` (French decimal comma)."""
    units = _SIZE_UNITS.get(lang, _SIZE_UNITS["en"])
    if size < 1024:
        return f"{size} {units[0]}"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} {units[1]}"
    text = f"{size / (1024 * 1024):.1f}"
    return f"{text.replace('.', ',') if lang in ('fr', 'de') else text} {units[2]}"
