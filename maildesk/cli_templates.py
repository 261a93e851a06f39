"""`maildesk templates list|render`: see a notification before a customer does.

`render` prints the mail as it would be sent: its headers, its text part, and its HTML
part (written to a file whose path is printed, or printed with `--html`), filled from a
real ticket (`--ticket KEY`) or from realistic sample data (the default, `--sample`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

from maildesk import config as config_module

SHOWN_HEADERS = (
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
)


def add_template_commands(sub) -> None:
    templates = sub.add_parser("templates", help="notification templates: list, render")
    tsub = templates.add_subparsers(dest="templates_command", required=True, metavar="ACTION")
    tlist = tsub.add_parser("list", help="every template and the files each language uses")
    tlist.set_defaults(handler=_list)
    render = tsub.add_parser("render", help="print a notification as it would be sent")
    render.add_argument("name", metavar="NAME", help="a template name (see templates list)")
    render.add_argument("--lang", help="language (default: the ticket's, or the default)")
    source = render.add_mutually_exclusive_group()
    source.add_argument("--ticket", metavar="KEY", help="fill it from this ticket")
    source.add_argument("--sample", action="store_true", help="realistic sample data (default)")
    render.add_argument("--html", action="store_true", help="print the HTML part too")
    render.set_defaults(handler=_render)


def _templates(config: config_module.Config):
    from maildesk.daemon.app import load_templates

    return load_templates(config)


def _list(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.outbound.render import TEMPLATE_NAMES

    try:
        templates = _templates(config)
    except Exception as exc:  # noqa: BLE001 - report any template problem plainly
        print(f"maildesk: template error: {exc}", file=sys.stderr)
        return 2
    print(f"templates: {templates.directory} (default language {templates.default})")
    for name in TEMPLATE_NAMES:
        used = templates.languages(name)
        langs = " ".join(
            lang if files == lang else f"{lang}(->{files})" for lang, files in sorted(used.items())
        )
        print(f"  {name:<22} {langs}")
    return 0


def _render(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.outbound.render import TEMPLATE_NAMES, TemplateError

    if args.name not in TEMPLATE_NAMES:
        print(
            f"maildesk: no template {args.name!r} (templates: {', '.join(TEMPLATE_NAMES)})",
            file=sys.stderr,
        )
        return 2
    now = datetime.now(UTC)
    try:
        raw = _from_ticket(args, config, now) if args.ticket else _from_sample(args, config, now)
    except TemplateError as exc:
        print(f"maildesk: template error: {exc}", file=sys.stderr)
        return 2
    if raw is None:
        print(f"maildesk: no ticket {args.ticket}", file=sys.stderr)
        return 1
    _print_mail(raw, args)
    return 0


def _from_sample(args: argparse.Namespace, config: config_module.Config, now: datetime) -> bytes:
    from maildesk.outbound.compose import Headers, compose
    from maildesk.outbound.render import sample_context

    templates = _templates(config)
    lang = args.lang or config.templates.default_language
    context = sample_context(args.name, lang)
    rendered = templates.render(args.name, lang, context)
    queue = config.default_queue
    sender = queue.addresses[0]
    staff = args.name.startswith("staff_")
    to = (
        (context["consultant"]["name"], context["consultant"]["address"])
        if staff
        else (context["customer"]["name"], context["customer"]["address"])
    )
    headers = Headers(
        ticket_key=f"{queue.key_prefix}-12",
        from_name=config.outbound.from_name,
        from_address=sender,
        to_name=to[0],
        to_address=to[1],
        reply_to=sender,
        message_id=f"<preview.{args.name}.{lang}@{sender.rpartition('@')[2]}>",
        auto_submitted=None if args.name == "reply" else "auto-replied",
    )
    return compose(rendered, headers, now)


def _from_ticket(
    args: argparse.Namespace, config: config_module.Config, now: datetime
) -> bytes | None:
    from maildesk.daemon.app import build
    from maildesk.desk.effects import Notify
    from maildesk.outbound.render import sample_context
    from maildesk.store.db import reading

    services = build(config)
    key = args.ticket.upper()
    with reading(services.engine) as conn:
        from maildesk.store.models import tickets

        requester = conn.execute(
            tickets.select().with_only_columns(tickets.c.requester).where(tickets.c.key == key)
        ).scalar()
        if requester is None:
            return None
        staff = args.name.startswith("staff_") and config.staff.addresses
        recipient = config.staff.addresses[0] if staff else requester
        # What only the event that sends it knows (days waited, the consultant's answer,
        # a reason) comes from the sample; everything about the ticket is its own.
        sample = sample_context(args.name, args.lang or config.templates.default_language)
        extra = tuple((k, v) for k, v in sample.items() if k not in ("ticket", "customer", "lang"))
        note = Notify(args.name, recipient, language=args.lang, extra=extra)
        done = services.notifier.preview(conn, key, note, now)
    return None if done is None else done[1]


def _print_mail(raw: bytes, args: argparse.Namespace) -> None:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    for name in SHOWN_HEADERS:
        if msg[name] is not None:
            print(f"{name}: {msg[name]}")
    print()
    text = msg.get_body(("plain",))
    print(text.get_content().rstrip() if text is not None else "(no text part)")
    html = msg.get_body(("html",))
    if html is None:
        return
    content = html.get_content()
    if args.html:
        print("\n--- HTML part ---")
        print(content.rstrip())
        return
    lang = args.lang or "default"
    path = Path(tempfile.gettempdir()) / f"maildesk-preview-{args.name}-{lang}.html"
    path.write_text(content, encoding="utf-8")
    print(f"\n--- HTML part: {path}")
