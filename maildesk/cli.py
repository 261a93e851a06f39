"""The `maildesk` command line: a contract that admins and their scripts depend on.

Exit codes (EXIT_CODES below, printed by `maildesk --help`): 0 success, 1 a command that
found nothing (unknown ticket, no database), 2 usage or configuration error. `ingest`
never exits 2: an MTA's pipe turns codes outside sysexits into bounces, so any
temporary failure (configuration and usage errors included) is 75 (EX_TEMPFAIL), and 65
(EX_DATAERR) is kept for input no retry can fix. `status` follows the Nagios plugins.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from maildesk import __version__, cli_queue, cli_report, cli_templates, contract, logs
from maildesk import config as config_module
from maildesk.cli_import import add_parser as add_import_command

EX_DATAERR = 65
EX_NOINPUT = 66
EX_TEMPFAIL = 75
EXIT_CODES = """exit codes:
  0   success
  1   nothing found (unknown ticket or message, no database where configured)
  2   usage or configuration error (not for ingest)
  ingest:  0 every message stored; 75 (EX_TEMPFAIL) any temporary failure, a
           configuration or usage error included: the MTA keeps the mail and retries;
           65 (EX_DATAERR) input that no retry can fix (empty, or larger than
           smtp.max_message_bytes); 66 (EX_NOINPUT) a FILE that cannot be read
  status:  0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (Nagios plugins; thresholds in [status])
  run:     0 stopped by SIGTERM or SIGINT; 2 configuration or template error;
           69 (EX_UNAVAILABLE) the listener address or the database cannot be opened"""


RUN_EPILOG = """signals:
  SIGTERM, SIGINT  stop gracefully, once (to the main process or the whole group):
                   no new connection, the workers finish what they hold, exit 0
  SIGHUP           reopen the log file ([logging] file), load the listener's TLS
                   certificate again and reload the templates (a bad pair or a
                   broken set is refused with an error; the one in use stays)

files:
  --config FILE    or $MAILDESK_CONFIG; relative paths in it are relative to its folder
  [database] url   the SQLite file (or PostgreSQL), created and migrated at start
  [outbound] pickup_dir, [templates] directory, [logging] file

environment:
  NOTIFY_SOCKET    systemd Type=notify: READY=1 once listening, STOPPING=1, WATCHDOG=1
  WATCHDOG_USEC    send WATCHDOG=1 every half of this interval
  JOURNAL_STREAM   stderr is the journal: lines carry syslog priorities (<3> errors)

exit codes:
  0   stopped by SIGTERM or SIGINT
  2   configuration or template error
  69  the listener address cannot be bound or the database cannot be opened"""


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """Usage errors raise instead of exiting 2, so `ingest` can answer 75 to its MTA."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{self.prog}: error: {message}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    command = _command_of(argv)
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        parser.print_usage(sys.stderr)
        print(exc, file=sys.stderr)
        if command == "ingest":
            return EX_TEMPFAIL
        raise SystemExit(2) from None
    logs.setup(args.log_level)
    try:
        config = config_module.load(args.config)
        logs.setup(args.log_level, config.logging.format, config.logging.file)
    except (config_module.ConfigError, OSError) as exc:
        print(f"maildesk: configuration error: {exc}", file=sys.stderr)
        return _failure(command, 2)
    try:
        return args.handler(args, config)
    except Exception as exc:
        from maildesk.store.db import NoDatabase

        if isinstance(exc, NoDatabase):
            print(f"maildesk: {exc}", file=sys.stderr)
            return _failure(command, 1)
        if command == "ingest":
            print(f"maildesk: ingest failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return EX_TEMPFAIL
        raise


def _failure(command: str | None, code: int) -> int:
    """The exit code of a failure that stops `command` before it starts."""
    if command == "ingest":
        return EX_TEMPFAIL
    if command == "status":
        return 2 if code == 1 else 3  # no database: CRITICAL; cannot check: UNKNOWN
    return code


def _command_of(argv: list[str]) -> str | None:
    """The sub-command named in `argv`, found without argparse (which may refuse it)."""
    words = iter(argv)
    for word in words:
        if word in ("--config", "--log-level"):
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="maildesk",
        description="Customer Services desk over plain email: mail in, tickets out.",
        epilog="Configuration: --config FILE or $MAILDESK_CONFIG (TOML; see config.example.toml; "
        "relative paths in it are relative to its folder). Without either, embedded defaults "
        "are used (SQLite maildesk.db, SMTP 127.0.0.1:2525).\n\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"maildesk {__version__}")
    parser.add_argument("--config", metavar="FILE", help="TOML configuration file")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run the daemon: SMTP listener, processing, schedulers",
        description="Run the daemon in the foreground: the SMTP listener, the workers, "
        "the sender, the time rules and the IMAP watchers.",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.set_defaults(handler=_run)

    ingest = sub.add_parser(
        "ingest",
        help="feed mail files (or - for stdin) through intake and processing",
        description="Store and process each message; print one JSON object per message. "
        "Exits 75 (temporary failure: the MTA retries) when a message could not be stored, "
        "on a configuration or usage error too; 65 when no retry can help (empty input, "
        "or larger than smtp.max_message_bytes).",
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
    ingest.add_argument(
        "--trusted-relay",
        action="store_true",
        help="the mail comes from your MTA (a pipe): its spam verdict is believed "
        "([processing] spam_headers), as from an [smtp] trusted_relays client",
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
    cli_queue.add_spool_commands(sub, _instant)
    cli_templates.add_template_commands(sub)
    cli_report.add_report_commands(sub, _instant)
    _log_level_everywhere(parser)
    return parser


def _log_level_everywhere(parser: argparse.ArgumentParser) -> None:
    """`--log-level` after the subcommand too (`maildesk run --log-level DEBUG`)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                child.add_argument(
                    "--log-level",
                    default=argparse.SUPPRESS,
                    choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                    help=argparse.SUPPRESS,
                )
                _log_level_everywhere(child)


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
    trace.add_argument("--json", action="store_true", help="print JSON (docs/json.md)")
    trace.set_defaults(handler=_trace)


def _add_outbox_commands(sub) -> None:
    outbox = sub.add_parser("outbox", help="notifications: list, show, send, retry")
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
    cli_queue.add_outbox_actions(osub, _instant)


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
    from maildesk.inbound.relays import Origin
    from maildesk.store.spool import store

    try:
        services = build(config)
    except Exception as exc:  # noqa: BLE001 - the MTA must keep the mail and retry (exit 75)
        from maildesk.outbound.render import TemplateError
        from maildesk.store.db import where

        what = (
            "template error"
            if isinstance(exc, TemplateError)
            else f"cannot open the database {where(config.database.url)}"
        )
        print(f"maildesk: {what}: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    now = args.now or datetime.now(UTC)
    status = 0
    for name in args.files:
        try:
            raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as exc:
            print(f"maildesk: {name}: {exc.strerror}", file=sys.stderr)
            status = status or EX_NOINPUT
            continue
        refused = _never_acceptable(raw, config)
        if refused:
            print(f"maildesk: {name}: {refused}", file=sys.stderr)
            status = status or EX_DATAERR
            continue
        try:
            inbound_id = store(
                services.spool,
                raw,
                source="ingest",
                now=now,
                rcpt_tos=tuple(args.rcpt),
                origin=Origin(relay_trusted=args.trusted_relay),
            )
        except Exception as exc:  # noqa: BLE001 - not stored: temporary failure (exit 75)
            print(f"maildesk: {name}: could not store the message: {exc}", file=sys.stderr)
            return EX_TEMPFAIL
        result = services.worker.process(inbound_id, now)
        for _ in range(config.processing.max_attempts):
            if result.outcome != "retry":
                break
            result = services.worker.process(inbound_id, now, force=True)
        print(json.dumps(contract.ingest(result.as_json()), ensure_ascii=False), flush=True)
    return status


def _never_acceptable(raw: bytes, config: config_module.Config) -> str:
    """Why no retry could ever store this input (the MTA should bounce it), or ''."""
    if not raw.strip():
        return "empty input: not a mail message"
    if len(raw) > config.smtp.max_message_bytes:
        return f"{len(raw)} bytes: larger than smtp.max_message_bytes"
    return ""


def _tickets_list(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.store import reports as report

    rows = report.list_tickets(_existing(config), status=args.status, queue=args.queue)
    if args.json:
        print(json.dumps(contract.ticket_list(rows), ensure_ascii=False, indent=2))
    else:
        print(report.format_ticket_list(rows))
    return 0


def _tickets_show(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.desk.business_hours import BusinessCalendar
    from maildesk.store import reports as report

    calendar = BusinessCalendar(config.business_hours)
    sla = report.SlaView(config, calendar, args.now or datetime.now(UTC))
    ticket = report.show_ticket(_existing(config), args.key.upper(), sla)
    if ticket is None:
        print(f"maildesk: no ticket {args.key}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(contract.ticket(ticket), ensure_ascii=False, indent=2))
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
    from maildesk.store import reports as report

    mid = args.message_id.strip()
    mid = mid if mid.startswith("<") else f"<{mid}>"
    steps = report.trace(_existing(config), mid)
    if not steps:
        print(f"maildesk: no decision recorded for {mid}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(contract.trace(mid, steps), ensure_ascii=False, indent=2))
        return 0
    for step in steps:
        print(logs.line(**step))
    return 0


def _tick(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.daemon.app import build
    from maildesk.daemon.tick import tick

    print(json.dumps(tick(build(config), args.now or datetime.now(UTC)), ensure_ascii=False))
    return 0


def _outbox_list(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.store import reports as report

    rows = report.list_outbox(_existing(config), status=args.status)
    if args.json:
        print(json.dumps(contract.outbox_list(rows), ensure_ascii=False, indent=2))
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
    from maildesk.daemon.cluster import lost_after
    from maildesk.store import reports as report
    from maildesk.store.db import NoDatabase
    from maildesk.store.health import health

    now = args.now or datetime.now(UTC)
    try:
        engine = _existing(config)
    except NoDatabase as exc:
        print(f"MAILDESK CRITICAL - {exc}")
        return 2
    found = report.status(
        engine,
        now,
        alive_within=lost_after(config.cluster.lease_seconds),
        forget_after=config.cluster.forget_after,
    )
    code, summary = health(found, config, now)
    if args.json:
        print(json.dumps(found | {"state": code, "summary": summary}, indent=2, default=str))
    else:
        print(summary)
        print(report.format_status(found))
    return code


def _existing(config: config_module.Config):
    """The engine of a read-only command: the database must exist (NoDatabase, exit 1)."""
    from maildesk.store.db import open_existing

    return open_existing(config.database.url)


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
    from maildesk.outbound.render import TEMPLATE_NAMES

    rendered = sum(len(templates.languages(name)) for name in TEMPLATE_NAMES)
    print(
        f"  templates: {templates.directory} ({len(TEMPLATE_NAMES)} templates, "
        f"{rendered} rendered with sample data: see `maildesk templates render NAME`)"
    )
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
