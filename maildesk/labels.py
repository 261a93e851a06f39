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


def label(kind: str, value: str, lang: str) -> str:
    """The wording of `value` in `lang`, else in French, else the raw value itself."""
    texts = LABELS.get(kind, {}).get(value)
    if texts is None:
        return value
    return texts.get(lang) or texts.get(DEFAULT_LANGUAGE) or value
