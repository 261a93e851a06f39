"""Every notice speaks one language: no stored code, English key or raw yes/no in a French
or German render (the staff notices once read "type : assistance", "Captures d'écran : yes").

Each template is rendered in fr, de and en with a context whose fields hold every code a
ticket can hold (request type, criticality, the yes/no signals, every reason a subject is
found too general), and both parts are scanned for what a person should never read.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from maildesk.desk import problems
from maildesk.desk import status as st
from maildesk.desk.labels import LABELS, label
from maildesk.inbound.quality.subject import REASONS
from maildesk.outbound.render import TEMPLATE_NAMES, TemplateSet, sample_context

TEMPLATES = Path(__file__).resolve().parents[3] / "templates" / "emails"
LANGUAGES = ("fr", "de", "en")
FIELDS = {
    "version": "12.4.1",
    "company": "Muster SA",
    "type": "solva_flex",
    "criticality": "high",
    "error_message": "yes",
    "screenshots": "no",
    "steps": "yes",
}
# Codes that are words of no language: statuses, field names, reasons, objectives.
CODES = sorted(
    {
        *st.STATUSES,
        *LABELS["field"],
        *REASONS,
        *LABELS["objective"],
        *LABELS["sla_state"],
        "criticality_defaulted",
        "solva_flex",
        "waiting_customer",
    }
    - {"type", "version", "contact", "steps", "phone", "company", "consulting", "closed", "new"}
)
REFUSALS = (
    "#frobnicate: unknown command",
    "#status: needs a value",
    "#status: unknown status 'fermé'",
    "#assign: 'luc' is not an address",
    "waiting_customer cannot become new; from waiting_customer: qualified, in_progress, closed",
    "the ticket is already closed",
    "lowering the criticality needs a reason: the customer is told it",
    "the reply has no text for the customer; write one, or start the mail with #note for an "
    "internal note",
)
ENGLISH = ("criticality", "request type", "screenshots", "phone", "company", "unknown")


@pytest.fixture(scope="module")
def templates() -> TemplateSet:
    return TemplateSet.load(TEMPLATES)


def context(name: str, lang: str) -> dict:
    ctx = sample_context(name, lang)
    ctx["ticket"]["fields"] = dict(FIELDS)
    ctx["ticket"]["field_labels"] = {k: label("field", k, lang) for k in FIELDS}
    ctx["ticket"]["subject_quality"] = {"ok": False, "reasons": list(REASONS)}
    # A refused command's reasons, as the pipeline gives them, worded as the notifier does.
    ctx["errors"] = [problems.word(reason, lang) for reason in REFUSALS]
    return ctx


def readable(rendered) -> str:
    """What a person reads: the text part and the HTML's text, command syntax left out
    (`#criticality low` is a command in every language; the valid commands' values too)."""
    text = rendered.text + "\n" + html.unescape(re.sub(r"<[^>]+>", " ", rendered.html))
    text = re.sub(r"(?m)^\s*#[^\n]*", " ", text)  # the list of valid commands: syntax
    text = re.sub(r"#\w+", " ", text)  # a command named in a sentence
    return text.replace(rendered.subject, " ") + "\n" + rendered.subject


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_no_code_or_raw_yes_no_in_any_render(templates, name: str, lang: str):
    rendered = templates.render(name, lang, context(name, lang))
    text = readable(rendered)

    # In English a plain code ("breached", "screenshots") is also the word itself.
    codes = CODES if lang != "en" else [c for c in CODES if "_" in c or "-" in c]
    for code in codes:
        assert not re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text), (code, text)
    if lang != "en":
        assert not re.search(r"\b(yes|no)\b", text, re.IGNORECASE), text
        for word in ENGLISH:
            assert word not in text.lower(), (word, text)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_field_and_value_is_worded_in_the_notice(templates, lang: str):
    rendered = templates.render("staff_new_ticket", lang, context("staff_new_ticket", lang))

    yes, no = label("yes_no", "yes", lang), label("yes_no", "no", lang)
    assert f"{label('field', 'screenshots', lang)}{' : ' if lang == 'fr' else ': '}{no}" in (
        rendered.text
    )
    assert f"{label('field', 'error_message', lang)}" in rendered.text
    assert yes in rendered.text
    assert label("type", "solva_flex", lang) in rendered.text
    assert label("criticality", "high", lang) in rendered.text
    for reason in REASONS:
        assert label("subject_reason", reason, lang) in rendered.text
