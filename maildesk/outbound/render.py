"""Renders notification emails (subject, text part, HTML part) from admin-editable jinja2 templates.

Every template is compiled and trial-rendered when the set is loaded, so a missing or broken
template stops the daemon at start-up rather than at send time. Templates run sandboxed, and mail
text only ever reaches them as a variable: nothing derived from a message is compiled as a template.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from maildesk.desk.labels import label, size_label, value_label

TEMPLATE_NAMES: tuple[str, ...] = (
    "ack",
    "info_received",
    "reply",
    "reminder_1",
    "reminder_2",
    "auto_closed",
    "closed_reply",
    "criticality_lowered",
    "status_changed",
    "staff_new_ticket",
    "staff_customer_reply",
    "staff_sla_warning",
    "command_error",
    "staff_history",
    "staff_files",
    "staff_digest",
)

# The top-level names every template receives (the same for all, so any template may use any).
CONTEXT_NAMES: tuple[str, ...] = (
    "ticket",
    "customer",
    "consultant",
    "body",
    "reason",
    "old_label",
    "new_label",
    "days",
    "close_after_days",
    "old_ticket_key",
    "supplied",
    "objective",
    "deadline",
    "state",
    "errors",
    "valid_commands",
    "files",
    "files_withheld",
    "files_cap",
    "history",
    "part",
    "parts",
    "digest",
    "lang",
)

_TEXT, _HTML = "txt.j2", "html.j2"


class TemplateError(Exception):
    """A template that is missing, does not compile or does not render; `path` names the file."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    language: str


@dataclass(frozen=True)
class _Pair:
    """The two parts of one notification in one language (`language` is the files' language)."""

    language: str
    text: jinja2.Template
    html: jinja2.Template


class TemplateSet:
    """Every notification in every language, checked once; `render` picks the language's pair."""

    def __init__(
        self, pairs: Mapping[tuple[str, str], _Pair], default: str, directory: Path | None = None
    ) -> None:
        self._pairs = dict(pairs)
        self._default = default
        self.directory = directory

    @classmethod
    def load(
        cls,
        directory: Path,
        languages: Sequence[str] = ("fr", "de", "it", "en"),
        default: str = "fr",
    ) -> TemplateSet:
        if default not in languages:
            raise ValueError(f"default language {default!r} is not among {tuple(languages)!r}")
        if not directory.is_dir():
            raise TemplateError(directory, "template directory not found")
        env = _environment(directory)
        pairs: dict[tuple[str, str], _Pair] = {}
        for name in TEMPLATE_NAMES:
            for lang, pair in _load_name(env, directory, name, languages, default).items():
                pairs[name, lang] = pair
        return cls(pairs, default, directory)

    def languages(self, name: str) -> dict[str, str]:
        """For each language, the language whose files `name` is rendered from (a language
        without its own files falls back to the default)."""
        return {lang: pair.language for (n, lang), pair in self._pairs.items() if n == name}

    @property
    def default(self) -> str:
        return self._default

    def render(self, name: str, lang: str, context: Mapping[str, Any]) -> Rendered:
        """Render `name` in `lang` (or the default language); raises TemplateError on failure."""
        if name not in TEMPLATE_NAMES:
            raise ValueError(f"unknown notification template {name!r}")
        pair = self._pairs.get((name, lang)) or self._pairs[name, self._default]
        return _render_pair(pair, context)


def _environment(directory: Path) -> ImmutableSandboxedEnvironment:
    # Sandboxed because admins edit the templates; immutable so that a template cannot alter the
    # caller's context; strict so that a misspelt variable fails the start-up trial render.
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=(_HTML,), disabled_extensions=(_TEXT,), default=False
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.globals["label"] = label
    env.globals["value_label"] = value_label
    return env


def _load_name(
    env: jinja2.Environment, directory: Path, name: str, languages: Sequence[str], default: str
) -> dict[str, _Pair]:
    """The pair to use for `name` in each language, each pair compiled and trial-rendered once."""
    fallback = _load_pair(env, directory, default, name)
    if fallback is None:
        missing = directory / default / f"{name}.{_TEXT}"
        raise TemplateError(missing, "missing; the default language must have every template")
    _trial_render(name, fallback)
    chosen = {default: fallback}
    for lang in languages:
        own = None if lang == default else _load_pair(env, directory, lang, name)
        if own is not None:
            _trial_render(name, own)
        chosen[lang] = own or fallback
    return chosen


def _load_pair(env: jinja2.Environment, directory: Path, lang: str, name: str) -> _Pair | None:
    """Both parts of `name` in `lang`, or None when the language has neither."""
    paths = {part: directory / lang / f"{name}.{part}" for part in (_TEXT, _HTML)}
    absent = [path for path in paths.values() if not path.is_file()]
    if len(absent) == 2:
        return None
    if absent:
        # Half a pair is an editing mistake; silently mixing languages would hide it.
        raise TemplateError(absent[0], "missing while the other part exists; add both or neither")
    return _Pair(lang, _compile(env, paths[_TEXT], lang), _compile(env, paths[_HTML], lang))


def _compile(env: jinja2.Environment, path: Path, lang: str) -> jinja2.Template:
    try:
        return env.get_template(f"{lang}/{path.name}")
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(path, f"line {exc.lineno}: {exc.message}") from exc
    except (jinja2.TemplateError, UnicodeDecodeError, OSError) as exc:
        raise TemplateError(path, f"cannot load: {exc}") from exc


def _trial_render(name: str, pair: _Pair) -> None:
    for minimal in (False, True):
        rendered = _render_pair(pair, sample_context(name, pair.language, minimal=minimal))
        if not rendered.subject:
            raise TemplateError(_filename(pair.text), "the subject renders empty")


def _render_pair(pair: _Pair, context: Mapping[str, Any]) -> Rendered:
    # `lang` is the language of the files actually used, so labels match the surrounding text.
    values = {**context, "lang": pair.language}
    try:
        module = pair.text.make_module(values)
    except Exception as exc:  # any failure inside an admin's template is that template's error
        raise TemplateError(_filename(pair.text), f"cannot render: {exc}") from exc
    subject = getattr(module, "subject", None)
    if subject is None:
        raise TemplateError(_filename(pair.text), "defines no {% set subject %}…{% endset %}")
    try:
        html = pair.html.render(values)
    except Exception as exc:
        raise TemplateError(_filename(pair.html), f"cannot render: {exc}") from exc
    return Rendered(one_line(str(subject)), str(module), html, pair.language)


def _filename(template: jinja2.Template) -> str:
    return template.filename or template.name or "<template>"


def one_line(text: str) -> str:
    """`text` as one header-safe line: controls and line breaks become spaces, runs collapse."""
    spaced = "".join(
        " " if unicodedata.category(char) in {"Cc", "Zl", "Zp"} else char for char in text
    )
    return " ".join(spaced.split())


def sample_context(name: str, lang: str = "fr", *, minimal: bool = False) -> dict[str, Any]:
    """A complete context for `name` with every top-level name filled.

    The default is the fullest case (vague subject, missing fields, a reason...); `minimal=True`
    is the plainest (complete request, no optional text), so both branches of templates are tried.
    """
    if name not in TEMPLATE_NAMES:
        raise ValueError(f"unknown notification template {name!r}")
    if name == "criticality_lowered":
        kind, old_code, new_code = "criticality", "high", "medium"
    else:
        kind, old_code, new_code = "status", "in_progress", "waiting_customer"
    return {
        "ticket": _sample_ticket(lang, minimal=minimal),
        "customer": {"name": "Anne Muster", "address": "anne.muster@customer.example"},
        "consultant": {"name": "Luc Bernard", "address": "luc.bernard@help.example"},
        "body": "Bonjour,\nLa transmission échoue depuis ce matin.\nMerci d'avance.",
        "reason": "" if minimal else "Un contournement existe (saisie manuelle).",
        "old_label": label(kind, old_code, lang),
        "new_label": label(kind, new_code, lang),
        "days": {"reminder_2": 15, "auto_closed": 20}.get(name, 10),
        "close_after_days": 20,
        "old_ticket_key": "SUP-7",
        "supplied": {} if minimal else {label("field", "version", lang): "15.2.3"},
        "objective": "first_response",
        "deadline": "2025-03-14 10:30",
        "state": "at_risk" if minimal else "breached",
        "errors": [] if minimal else ["#statut: unknown command"],
        "valid_commands": ["#status in_progress", "#criticality low", "#close solved"],
        "files": [] if minimal else _sample_files(lang),
        "files_withheld": 0 if minimal else 1,
        "files_cap": size_label(10 * 1024 * 1024, lang),
        "history": [] if minimal else _sample_history(lang),
        "part": 1,
        "parts": 1 if minimal else 2,
        "digest": _sample_digest(minimal),
        "lang": lang,
    }


def _sample_digest(minimal: bool) -> dict[str, Any]:
    ticket = {"key": "SUP-12", "subject": "Erreur SwissDec", "status": "new", "queue": "support"}
    if minimal:
        return {"date": "06.03.2026", "mine": [], "unassigned": [ticket], "sla": [], "waiting": []}
    waiting = ticket | {"status": "waiting_customer"}
    return {
        "date": "06.03.2026",
        "mine": [{"status": "waiting_customer", "tickets": [waiting]}],
        "unassigned": [ticket],
        "sla": [
            ticket
            | {"objective": "first_response", "state": "breached", "deadline": "2026-03-06 09:00"}
        ],
        "waiting": [waiting | {"next": "reminder_1", "on": "16.03.2026"}],
    }


def _sample_history(lang: str) -> list[dict[str, Any]]:
    message = {
        "kind": "message",
        "at": "02.03.2026 09:00",
        "direction": "in",
        "internal": False,
        "automatic": False,
        "who": "Anne Muster <anne.muster@customer.example>",
        "subject": "Erreur SwissDec",
        "text": "La transmission échoue.",
        "files": ["fehler.png"],
    }
    return [
        message,
        {
            "kind": "notice",
            "at": "02.03.2026 09:00",
            "who": "anne.muster@customer.example",
            "subject": "Demande reçue",
        },
        {
            "kind": "change",
            "at": "02.03.2026 09:30",
            "what": label("change", "status", lang),
            "old": label("status", "new", lang),
            "new": label("status", "in_progress", lang),
            "who": "luc.bernard@help.example",
            "reason": "",
        },
        message
        | {"direction": "out", "who": "Luc Bernard <luc.bernard@help.example>", "files": []},
        message | {"internal": True, "files": []},
    ]


def _sample_files(lang: str) -> list[dict[str, Any]]:
    files = [
        ("fehler.png", "image/png", 40_960, True, "fehler@acme"),
        ("journal.pdf", "application/pdf", 180_000, True, ""),
        ("export.zip", "application/zip", 24_000_000, False, ""),
    ]
    return [
        {
            "name": name,
            "type": ctype,
            "size": size,
            "size_label": size_label(size, lang),
            "attached": attached,
            "inline": bool(cid),
            "cid": cid,
        }
        for name, ctype, size, attached, cid in files
    ]


def _sample_ticket(lang: str, *, minimal: bool) -> dict[str, Any]:
    fields = {
        "version": "15.2.3",
        "company": "Muster SA",
        "contact": "Anne Muster",
        "phone": "+41 31 555 01 23",
    }
    missing = [] if minimal else ["error_message", "screenshots"]
    return {
        "key": "SUP-12",
        "subject": "Erreur lors de la transmission SwissDec pour M. Dupont"
        if minimal
        else "Salaire",
        "queue": "support",
        "status": "waiting_customer",
        "status_label": label("status", "waiting_customer", lang),
        "criticality": "medium",
        "criticality_label": label("criticality", "medium", lang),
        "criticality_defaulted": not minimal,
        "type": "assistance",
        "type_label": label("type", "assistance", lang),
        "fields": fields,
        "field_labels": {field: label("field", field, lang) for field in fields},
        "missing_fields": missing,
        "missing_labels": [label("field", field, lang) for field in missing],
        "subject_quality": {"ok": minimal, "reasons": [] if minimal else ["generic"]},
    }
