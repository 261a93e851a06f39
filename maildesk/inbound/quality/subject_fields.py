"""Read request fields from the subject line: "Export vide depuis la 12.4.1" gives version
12.4.1, "Firma: Acme AG – Lohnlauf bricht ab" a company, "Déployer le correctif 12.4.3" a
patch request.

Customers often put the one fact they think matters into the subject and nowhere else.
The body is read by `fields` and `signals`; this module reads the subject with the same
rules, plus one the subject alone allows: a bare three-part number ("la 12.4.1") is a
version, since a subject is too short to hold the amounts, article numbers and dates a
body does (a date such as 12.03.25 is still refused). `assess` merges both, the body
winning wherever it gives a value. Pure: text in, values out.
"""

from __future__ import annotations

import re

from maildesk.inbound.quality import fields as extract
from maildesk.inbound.quality import signals
from maildesk.inbound.quality.subject import strip_prefixes

# "12.4.1", "11.2.10": three parts, never inside a longer number, an IP address or a word.
_BARE_VERSION = re.compile(r"(?<![\w.])(\d{1,2})\.(\d{1,2})\.(\d{1,3})(?![\w.]*\d)(?!\.\w)")
# Labels written in a subject are followed by a dash or a slash before the rest of it.
_VALUE_END = re.compile(r"\s+[–—-]\s+|\s*/\s+|\s*\|\s*")


def subject_fields(subject: str) -> dict[str, str]:
    """What the subject states: version, company, contact, type, criticality, error text.

    Only values the subject gives explicitly: no defaults ("assistance", "medium") and no
    "no" for the yes/no fields, so merging never hides a value the body found."""
    text, _ = strip_prefixes(subject)
    if not text:
        return {}
    labelled = {
        name: _VALUE_END.split(value, maxsplit=1)[0].strip()
        for name, value in extract.labelled_values(text).items()
    }
    found = {
        "version": extract.find_version(labelled.get("version"), text) or _bare_version(text),
        "company": labelled.get("company"),
        "contact": labelled.get("contact"),
        "criticality": signals.find_criticality(labelled.get("criticality")),
        "error_message": "yes" if signals.has_error_message(text) else None,
    }
    kind = signals.find_type(labelled.get("type"), text)
    if kind != "assistance" or labelled.get("type"):
        found["type"] = kind
    return {name: value for name, value in found.items() if value}


def _bare_version(text: str) -> str | None:
    for match in _BARE_VERSION.finditer(text):
        day, month, year = match.groups()
        if len(day) == len(month) == len(year) == 2 and int(month) <= 12 and int(day) <= 31:
            continue  # 12.03.25: a date
        return match.group()
    return None
