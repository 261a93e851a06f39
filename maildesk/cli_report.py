"""`maildesk report sla`: how the desk met its service levels over a period."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from maildesk import config as config_module

COLUMNS = (
    ("queue", "QUEUE"),
    ("criticality", "CRITICALITY"),
    ("opened", "OPENED"),
    ("first_response_met", "FR MET"),
    ("first_response_breached", "FR BREACHED"),
    ("first_response_open", "FR OPEN"),
    ("resolution_met", "RES MET"),
    ("resolution_breached", "RES BREACHED"),
    ("resolution_open", "RES OPEN"),
    ("first_response_median_hours", "FR MEDIAN H"),
    ("first_response_p90_hours", "FR P90 H"),
)


def add_report_commands(sub, instant) -> None:
    report = sub.add_parser("report", help="reports: service levels")
    rsub = report.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    sla = rsub.add_parser(
        "sla",
        help="service levels met, per criticality and queue, and per consultant",
        description="Tickets opened from --from to --to (whole days, in the business-hours "
        "time zone), their first responses and resolutions met / breached / still open, "
        "and the business time to the first response; tickets handled per consultant.",
    )
    sla.add_argument("--from", dest="start", type=_date, required=True, metavar="DATE")
    sla.add_argument("--to", dest="end", type=_date, required=True, metavar="DATE")
    sla.add_argument("--queue", help="only this queue")
    form = sla.add_mutually_exclusive_group()
    form.add_argument("--csv", action="store_true", help="print CSV")
    form.add_argument("--json", action="store_true", help="print JSON")
    sla.add_argument("--now", type=instant, metavar="ISO8601", help="evaluate as of this instant")
    sla.set_defaults(handler=_sla)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _sla(args: argparse.Namespace, config: config_module.Config) -> int:
    from maildesk.daemon.app import build
    from maildesk.store.sla_report import sla_report

    if args.end < args.start:
        print("maildesk: --to is before --from", file=sys.stderr)
        return 2
    zone = ZoneInfo(config.business_hours.timezone)
    start = datetime.combine(args.start, time(), zone).astimezone(UTC)
    end = datetime.combine(args.end + timedelta(days=1), time(), zone).astimezone(UTC)
    found = sla_report(
        build(config).engine, config, start, end, args.now or datetime.now(UTC), args.queue
    )
    if args.json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
    elif args.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow([name for name, _ in COLUMNS])
        for row in found["rows"]:
            writer.writerow(["" if row[name] is None else row[name] for name, _ in COLUMNS])
    else:
        print(_table(found))
    return 0


def _table(found: dict) -> str:
    lines = [f"service levels of tickets opened {found['from']} to {found['to']}"]
    lines.append(f"(as of {found['as_of']}; times in business hours)")
    table = [[title for _, title in COLUMNS]]
    table += [
        ["-" if row[name] is None else str(row[name]) for name, _ in COLUMNS]
        for row in found["rows"]
    ]
    widths = [max(len(cells[i]) for cells in table) for i in range(len(COLUMNS))]
    for cells in table:
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    if not found["rows"]:
        lines.append("(no tickets opened in this period)")
    lines.append("")
    lines.append("CONSULTANT                      TICKETS HANDLED")
    lines.extend(f"{c['consultant']:<32}{c['tickets_handled']}" for c in found["consultants"])
    return "\n".join(lines)
