"""`maildesk spool …` and `maildesk outbox show|retry`: inspect and repair the queues.

In the manner of Postfix's `postqueue -p` / `postsuper -r`: list what waits, show one
message (read leniently, even when it cannot be parsed), put quarantined mail back to
the worker, resend dead notifications. Safe beside running daemons (see store/queue.py).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime

from maildesk import config as config_module
from maildesk import logs


def add_spool_commands(sub, instant) -> None:
    spool = sub.add_parser("spool", help="inbound mail: list, show, retry, release, export")
    ssub = spool.add_subparsers(dest="spool_command", required=True, metavar="ACTION")
    slist = ssub.add_parser("list", help="spooled mail, oldest first")
    slist.add_argument("--state", choices=["pending", "quarantined", "done"])
    slist.add_argument("--limit", type=int, default=200, help="at most this many (200)")
    slist.add_argument("--json", action="store_true", help="print JSON")
    slist.set_defaults(handler=_spool_list)
    sshow = ssub.add_parser("show", help="one message: headers, state, reason, trace")
    sshow.add_argument("id", type=int, metavar="ID")
    sshow.add_argument("--json", action="store_true", help="print JSON")
    sshow.set_defaults(handler=_spool_show)
    sretry = ssub.add_parser("retry", help="quarantined mail back to the worker (attempts reset)")
    sretry.add_argument("ids", type=int, nargs="*", metavar="ID")
    sretry.add_argument("--quarantined", action="store_true", help="every quarantined message")
    sretry.add_argument("--as", dest="actor", metavar="WHO", help="who (default: your login)")
    sretry.add_argument("--now", type=instant, metavar="ISO8601", help=argparse.SUPPRESS)
    sretry.set_defaults(handler=_spool_retry)
    srelease = ssub.add_parser(
        "release", help="mail kept as spam (from a trusted relay) to the worker as a person's"
    )
    srelease.add_argument("ids", type=int, nargs="+", metavar="ID")
    srelease.add_argument("--as", dest="actor", metavar="WHO", help="who (default: your login)")
    srelease.add_argument("--now", type=instant, metavar="ISO8601", help=argparse.SUPPRESS)
    srelease.set_defaults(handler=_spool_release)
    sexport = ssub.add_parser("export", help="the raw bytes, as received, to stdout")
    sexport.add_argument("id", type=int, metavar="ID")
    sexport.set_defaults(handler=_spool_export)


def add_outbox_actions(osub, instant) -> None:
    oshow = osub.add_parser("show", help="one notification: headers, state, last error")
    oshow.add_argument("id", type=int, metavar="ID")
    oshow.add_argument("--json", action="store_true", help="print JSON")
    oshow.set_defaults(handler=_outbox_show)
    oretry = osub.add_parser("retry", help="send dead notifications again (attempts reset)")
    oretry.add_argument("ids", type=int, nargs="*", metavar="ID")
    oretry.add_argument("--dead", action="store_true", help="every dead notification")
    oretry.add_argument(
        "--since", type=instant, metavar="ISO8601", help="with --dead: only those queued since"
    )
    oretry.add_argument("--as", dest="actor", metavar="WHO", help="who (default: your login)")
    oretry.add_argument("--now", type=instant, metavar="ISO8601", help=argparse.SUPPRESS)
    oretry.set_defaults(handler=_outbox_retry)


def _engine(config: config_module.Config):
    from maildesk.daemon.app import build

    return build(config).engine


def _actor(args: argparse.Namespace) -> str:
    if args.actor:
        return args.actor
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "admin"


def _print_json(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _spool_list(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.store import queue

    rows = queue.list_spool(_engine(config), args.state, args.limit)
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("(spool empty)" if not args.state else f"(no {args.state} mail)")
        return 0
    print(f"{'ID':>6} {'STATE':<11} {'TRIES':>5} {'SIZE':>8}  {'FROM':<30} SUBJECT / REASON")
    for r in rows:
        sender = r["from"] or r["envelope_from"] or "-"
        print(
            f"{r['id']:>6} {r['state']:<11} {r['attempts']:>5} {r['size']:>8}  "
            f"{_cut(sender, 30):<30} {_cut(r['subject'], 60)}"
        )
        if r["reason"]:
            print(f"{'':>35}{_cut(r['reason'], 90)}")
    return 0


def _cut(text: str, width: int) -> str:
    text = logs.escape(text).strip('"') if text else ""
    return text if len(text) <= width else text[: width - 1] + "…"


def _spool_show(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.store import queue

    found = queue.show_spool(_engine(config), args.id)
    if found is None:
        print(f"maildesk: no spooled message {args.id}", file=sys.stderr)
        return 1
    if args.json:
        _print_json(found)
        return 0
    trace = found.pop("trace")
    for key, value in found.items():
        if value not in (None, "", []):
            print(f"{key:>16}: {logs.escape(value) if isinstance(value, str) else value}")
    print("           trace:")
    for step in trace:
        fields = {k: v for k, v in step.items() if k != "at"}
        print(f"  {step['at']} {logs.line(**fields)}")
    return 0


def _spool_retry(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.store import queue

    if bool(args.ids) == args.quarantined:
        print("maildesk: give message ids, or --quarantined (not both)", file=sys.stderr)
        return 2
    done, notes = queue.retry_spool(
        _engine(config),
        None if args.quarantined else args.ids,
        _actor(args),
        args.now or datetime.now(UTC),
    )
    for note in notes:
        print(f"maildesk: {note}", file=sys.stderr)
    print(json.dumps({"requeued": done}))
    return 0 if done or not notes else 1


def _spool_release(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.store import queue

    done, notes = queue.release_spam(
        _engine(config), args.ids, _actor(args), args.now or datetime.now(UTC)
    )
    for note in notes:
        print(f"maildesk: {note}", file=sys.stderr)
    print(json.dumps({"released": done}))
    return 0 if done or not notes else 1


def _spool_export(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.store import queue

    raw = queue.raw_message(_engine(config), args.id)
    if raw is None:
        print(f"maildesk: no spooled message {args.id}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(raw)
    sys.stdout.buffer.flush()
    return 0


def _outbox_show(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.store import queue

    found = queue.show_outbox(_engine(config), args.id)
    if found is None:
        print(f"maildesk: no notification {args.id}", file=sys.stderr)
        return 1
    if args.json:
        _print_json(found)
        return 0
    for key, value in found.items():
        if value not in (None, ""):
            print(f"{key:>16}: {logs.escape(value) if isinstance(value, str) else value}")
    return 0


def _outbox_retry(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.store import queue

    if bool(args.ids) == args.dead or (args.since and not args.dead):
        print("maildesk: give notification ids, or --dead [--since T]", file=sys.stderr)
        return 2
    done, notes = queue.retry_outbox(
        _engine(config),
        None if args.dead else args.ids,
        _actor(args),
        args.now or datetime.now(UTC),
        args.since,
    )
    for note in notes:
        print(f"maildesk: {note}", file=sys.stderr)
    print(json.dumps({"requeued": done}))
    return 0 if done or not notes else 1
