"""The `maildesk` command line: a contract that admins and their scripts depend on.

Exit codes: 0 success, 1 a command that found nothing (unknown ticket), 2 usage or
configuration error, 75 (EX_TEMPFAIL) when `ingest` could not store a message, so an
MTA piping mail into it keeps the mail and retries.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from maildesk import config as config_module
from maildesk import logs
from maildesk.cli_import import add_parser as add_import_command

EX_TEMPFAIL = 75


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.setup(args.log_level)
    try:
        config = config_module.load(args.config)
    except config_module.ConfigError as exc:
        print(f"maildesk: configuration error: {exc}", file=sys.stderr)
        return 2
    return args.handler(args, config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maildesk",
        description="Customer Services desk over plain email: mail in, tickets out.",
        epilog="Configuration: --config FILE or $MAILDESK_CONFIG (TOML; see config.example.toml). "
        "Without either, embedded defaults are used (SQLite maildesk.db, SMTP 127.0.0.1:2525).",
    )
    parser.add_argument("--config", metavar="FILE", help="TOML configuration file")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon: SMTP listener, processing, schedulers")
    run.set_defaults(handler=_run)

    ingest = sub.add_parser(
        "ingest",
        help="feed mail files (or - for stdin) through intake and processing",
        description="Store and process each message; print one JSON object per message. "
        "Exits 75 (temporary failure) when a message could not be stored.",
    )
    ingest.add_argument("files", nargs="+", metavar="FILE", help="a .eml file, or - for stdin")
    ingest.add_argument(
        "--now", type=_instant, metavar="ISO8601", help="process as of this instant"
    )
    ingest.add_argument(
        "--rcpt",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="envelope recipient (repeatable); default: read To/Cc/Delivered-To",
    )
    ingest.set_defaults(handler=_ingest)
    add_import_command(sub, _instant)

    _add_ticket_commands(sub)

    tick = sub.add_parser(
        "tick",
        help="run the time rules once (reminders, closure, SLA)",
        description="Run reminders, automatic closure and SLA warnings once, "
        "as of --now, and print what was done as JSON. For cron and tests.",
    )
    tick.add_argument("--now", type=_instant, metavar="ISO8601", help="as of this instant")
    tick.set_defaults(handler=_tick)

    _add_outbox_commands(sub)

    imap = sub.add_parser("imap", help="IMAP mailboxes: check one")
    isub = imap.add_subparsers(dest="imap_command", required=True, metavar="ACTION")
    icheck = isub.add_parser("check", help="log in, list the folders, say what is wrong")
    icheck.add_argument("name", metavar="NAME", help="the [[imap]] name")
    icheck.set_defaults(handler=_imap_check)

    status = sub.add_parser("status", help="the cluster: instances, mailboxes, backlogs")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.add_argument("--now", type=_instant, metavar="ISO8601", help="as of this instant")
    status.set_defaults(handler=_status)

    check = sub.add_parser(
        "check-config", help="validate the configuration and templates, then exit"
    )
    check.set_defaults(handler=_check_config)
    return parser


def _add_ticket_commands(sub) -> None:
    tickets = sub.add_parser("tickets", help="list and show tickets")
    tsub = tickets.add_subparsers(dest="tickets_command", required=True, metavar="ACTION")
    tlist = tsub.add_parser("list", help="list tickets, newest first")
    tlist.add_argument("--json", action="store_true", help="print JSON")
    tlist.add_argument("--status", help="only tickets in this status")
    tlist.add_argument("--queue", help="only tickets of this queue")
    tlist.set_defaults(handler=_tickets_list)
    tshow = tsub.add_parser("show", help="one ticket: fields, participants, messages, events")
    tshow.add_argument("key", metavar="KEY", help="ticket key, e.g. SUP-12")
    tshow.add_argument("--json", action="store_true", help="print JSON")
    tshow.add_argument(
        "--now", type=_instant, metavar="ISO8601", help="report service levels as of this instant"
    )
    tshow.set_defaults(handler=_tickets_show)

    tset = tsub.add_parser("set", help="change a ticket by hand (recorded as an event)")
    tset.add_argument("key", metavar="KEY", help="ticket key, e.g. SUP-12")
    tset.add_argument("--status", metavar="S", help="new status (e.g. in_progress, closed)")
    tset.add_argument(
        "--resolution",
        choices=["solved", "no_answer"],
        help="with --status closed (default solved)",
    )
    tset.add_argument("--criticality", choices=["low", "medium", "high", "critical"])
    tset.add_argument("--type", dest="request_type", choices=["assistance", "patch", "solva_flex"])
    tset.add_argument("--assign", metavar="EMAIL", help="assign to this consultant")
    tset.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a request field (version, company, contact, phone, ...); repeatable",
    )
    tset.add_argument("--reason", default="", metavar="TEXT", help="why (kept in the history)")
    tset.add_argument("--as", dest="actor", metavar="EMAIL", help="who makes the change")
    tset.add_argument("--now", type=_instant, metavar="ISO8601", help="as of this instant")
    tset.set_defaults(handler=_tickets_set)

    trace = sub.add_parser("trace", help="every decision taken about a message, in order")
    trace.add_argument("message_id", metavar="MESSAGE-ID", help="with or without <angle brackets>")
    trace.set_defaults(handler=_trace)


def _add_outbox_commands(sub) -> None:
    outbox = sub.add_parser("outbox", help="notifications: list them, send what is due")
    osub = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    olist = osub.add_parser("list", help="list notifications, newest first")
    olist.add_argument("--json", action="store_true", help="print JSON")
    olist.add_argument(
        "--status", choices=["pending", "sending", "sent", "failed", "dead", "withheld"]
    )
    olist.set_defaults(handler=_outbox_list)
    oflush = osub.add_parser("flush", help="send every notification that is due now")
    oflush.add_argument("--now", type=_instant, metavar="ISO8601", help="as of this instant")
    oflush.set_defaults(handler=_outbox_flush)


def _instant(text: str) -> datetime:
    """An ISO 8601 instant; without an offset it is UTC. Always returned in UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 instant") from None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def _run(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.daemon.app import run

    return run(config)


def _ingest(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.daemon.app import build
    from maildesk.store.spool import store

    try:
        services = build(config)
    except Exception as exc:  # noqa: BLE001 - the MTA must keep the mail and retry (exit 75)
        print(f"maildesk: cannot open the database: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    now = args.now or datetime.now(UTC)
    status = 0
    for name in args.files:
        try:
            raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as exc:
            print(f"maildesk: {name}: {exc.strerror}", file=sys.stderr)
            status = status or 66  # EX_NOINPUT
            continue
        try:
            inbound_id = store(
                services.spool, raw, source="ingest", now=now, rcpt_tos=tuple(args.rcpt)
            )
        except Exception as exc:  # noqa: BLE001 - not stored: temporary failure (exit 75)
            print(f"maildesk: {name}: could not store the message: {exc}", file=sys.stderr)
            return EX_TEMPFAIL
        result = services.worker.process(inbound_id, now)
        for _ in range(config.processing.max_attempts):
            if result.outcome != "retry":
                break
            result = services.worker.process(inbound_id, now, force=True)
        print(json.dumps(result.as_json(), ensure_ascii=False), flush=True)
    return status


def _tickets_list(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.daemon.app import build
    from maildesk.store import reports as report

    rows = report.list_tickets(build(config).engine, status=args.status, queue=args.queue)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
    else:
        print(report.format_ticket_list(rows))
    return 0


def _tickets_show(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.daemon.app import build
    from maildesk.store import reports as report

    services = build(config)
    sla = report.SlaView(config, services.calendar, args.now or datetime.now(UTC))
    ticket = report.show_ticket(services.engine, args.key.upper(), sla)
    if ticket is None:
        print(f"maildesk: no ticket {args.key}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(ticket, ensure_ascii=False, indent=2, default=str))
    else:
        print(report.format_ticket(ticket))
    return 0


def _tickets_set(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.daemon.app import build
    from maildesk.desk.lifecycle import Change
    from maildesk.store import edits as manage

    key, now = args.key.upper(), args.now or datetime.now(UTC)
    wanted = Change(
        status=args.status,
        resolution=args.resolution,
        criticality=args.criticality,
        request_type=args.request_type,
        assignee=args.assign,
        reason=args.reason,
    )
    try:
        values = dict(manage.parse_field(text) for text in args.field)
        if not values and wanted == Change(reason=args.reason):
            raise manage.ChangeRefused(
                "nothing to change: give --status, --criticality, --type, "
                "--assign or --field NAME=VALUE"
            )
        services = build(config)
        done = manage.change(services, key, wanted, args.actor, now)
        still = (
            manage.set_fields(services.engine, config, key, values, args.actor, args.reason, now)
            if values
            else ()
        )
    except manage.ChangeRefused as exc:
        print(f"maildesk: {exc}", file=sys.stderr)
        return 2
    out: dict = {"ticket": key, "changes": list(done)}
    if values:
        out |= {"set": values, "missing_fields": list(still)}
    print(json.dumps(out))
    return 0


def _trace(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.daemon.app import build
    from maildesk.store import reports as report

    mid = args.message_id.strip()
    mid = mid if mid.startswith("<") else f"<{mid}>"
    steps = report.trace(build(config).engine, mid)
    if not steps:
        print(f"maildesk: no decision recorded for {mid}", file=sys.stderr)
        return 1
    for step in steps:
        print(logs.line(**step))
    return 0


def _tick(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.daemon.app import build
    from maildesk.daemon.tick import tick

    print(json.dumps(tick(build(config), args.now or datetime.now(UTC)), ensure_ascii=False))
    return 0


def _outbox_list(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.daemon.app import build
    from maildesk.store import reports as report

    rows = report.list_outbox(build(config).engine, status=args.status)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
    else:
        print(report.format_outbox(rows))
    return 0


def _outbox_flush(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.daemon.app import build

    results = build(config).sender.flush(args.now or datetime.now(UTC))
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    print(json.dumps(counts))
    return 0


def _imap_check(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.daemon.imap import check

    accounts = {a.name: a for a in config.imap}
    if args.name not in accounts:
        known = ", ".join(accounts) or "none configured"
        print(
            f"maildesk: no [[imap]] mailbox named {args.name!r} (mailboxes: {known})",
            file=sys.stderr,
        )
        return 2
    ok, lines = check(accounts[args.name])
    for line in lines:
        print(line)
    return 0 if ok else 1


def _status(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.daemon.app import build
    from maildesk.store import reports as report

    found = report.status(
        build(config).engine,
        args.now or datetime.now(UTC),
        alive_within=config.cluster.lease_seconds,
    )
    if args.json:
        print(json.dumps(found, ensure_ascii=False, indent=2, default=str))
    else:
        print(report.format_status(found))
    return 0


def _check_config(args: argparse.Namespace, config: config_module.Config) -> int:
    queues = ", ".join(
        f"{q.name} ({q.key_prefix}: {', '.join(q.addresses)})" for q in config.queues
    )
    try:
        from maildesk.daemon.app import load_templates

        templates = load_templates(config)
    except Exception as exc:  # noqa: BLE001 - report any template problem plainly
        print(f"maildesk: template error: {exc}", file=sys.stderr)
        return 2
    print(f"configuration OK: {config.source}")
    print(f"  templates: {templates.directory}")
    print(f"  database: {config_module.redact_url(config.database.url)}")
    print(f"  smtp listener: {config.smtp.host}:{config.smtp.port}")
    print(f"  queues: {queues}")
    print(f"  staff: {', '.join(config.staff.addresses) or '(none)'}")
    for account in config.imap:
        print(
            f"  imap {account.name}: {account.username}@{account.host}:{account.port} "
            f"({account.tls}) {account.folder} -> {account.processed_folder}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
