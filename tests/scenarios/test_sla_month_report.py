"""`maildesk report sla` over a scripted March 2026, against a table worked out by hand.

Business hours (the defaults, Europe/Zurich): Monday-Thursday 08:00-12:00 and 13:30-18:00
(8.5 h), Friday to 17:00 (7.5 h); no holiday falls in March 2026. Objectives: critical 1 h /
8 h, high 4 h / 16 h, medium 8 h / 40 h, low 16 h / 80 h. The report runs as of Tuesday
31 March, 12:00. Each ticket below says where its numbers come from.

Tickets (opened; first response; closure), business time from the opening:

- T0 support medium, Fri 27 Feb 10:00: opened before March, not counted.
- T1 support medium, Mon 2 Mar 09:00; answered Mon 11:00 (2 h, met); closed Tue 3 Mar
  10:00 (3 + 4.5 + 2 = 9.5 h of 40, met).
- T2 support high, Mon 2 Mar 16:00; answered Tue 11:00 (2 + 3 = 5 h of 4, breached); not
  closed, due Wed 4 Mar 15:00 (breached).
- T3 support critical, Wed 4 Mar 10:00; answered 10:30 (0.5 h, met); closed 17:00
  (2 + 3.5 = 5.5 h of 8, met).
- T4 support medium, Fri 6 Mar 16:30; answered Mon 9 Mar 09:00 (0.5 + 1 = 1.5 h, met); not
  closed, due Fri 13 Mar 15:00 (breached).
- T5 support low, Tue 10 Mar 14:00; never answered, due Thu 12 Mar 11:30 (breached); not
  closed, due Tue 24 Mar 09:30 (breached).
- T6 support high, Tue 31 Mar 09:00; not answered, 3 h of 4 used (open); not closed (open).
- T7 consulting critical, Thu 12 Mar 08:30; answered 09:45 (1.25 h of 1, breached); closed
  15:00 (3.5 + 1.5 = 5 h of 8, met).

Per row: support/medium T1, T4: responses 2 h and 1.5 h, median 1.75 h, p90 (nearest rank
2 of 2) 2 h. Consultants: consultant@ acted on T1, T2, T3, T4 (4 tickets); boss@ closed T3
and answered and closed T7 (2 tickets); T0's event in February is outside the period.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from maildesk.cli import main
from maildesk.daemon.app import Services
from maildesk.desk.lifecycle import Change
from maildesk.store import edits as manage
from maildesk.store.sla_report import sla_report
from maildesk.store.spool import store
from tests.mail import message

ZURICH = ZoneInfo("Europe/Zurich")
CONSULTANT, BOSS = "consultant@help.example", "boss@help.example"
CRITICALITY = {"critical": "Critique", "high": "Haute", "medium": None, "low": "Basse"}


def local(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ZURICH).astimezone(UTC)


def open_ticket(services: Services, n: int, at: datetime, criticality: str, to: str) -> str:
    line = f"Criticité : {CRITICALITY[criticality]}\n" if CRITICALITY[criticality] else ""
    raw = message(
        subject=f"Erreur de calcul des salaires du mois, cas numéro {n}",
        body=f"Bonjour,\n\nle calcul échoue.\n\n{line}Version : 12.4\n",
        sender=f"Client {n} <client{n}@firm{n}.ch>",
        to=to,
        message_id=f"<t{n}@firm{n}.ch>",
    )
    inbound_id = store(services.engine, raw, source="ingest", now=at, rcpt_tos=(to,))
    result = services.worker.process(inbound_id, at)
    assert result.outcome == "created", result
    return result.ticket


def respond(services: Services, key: str, who: str, at: datetime) -> None:
    manage.change(services, key, Change(status="waiting_customer"), who, at)


def close(services: Services, key: str, who: str, at: datetime) -> None:
    manage.change(services, key, Change(status="closed", resolution="solved"), who, at)


def script_march(services: Services) -> dict[str, str]:
    support, consulting = "support@help.example", "consulting@help.example"
    t = {
        "T0": open_ticket(services, 0, local(2, 27, 10), "medium", support),
        "T1": open_ticket(services, 1, local(3, 2, 9), "medium", support),
        "T2": open_ticket(services, 2, local(3, 2, 16), "high", support),
        "T3": open_ticket(services, 3, local(3, 4, 10), "critical", support),
        "T4": open_ticket(services, 4, local(3, 6, 16, 30), "medium", support),
        "T5": open_ticket(services, 5, local(3, 10, 14), "low", support),
        "T7": open_ticket(services, 7, local(3, 12, 8, 30), "critical", consulting),
        "T6": open_ticket(services, 6, local(3, 31, 9), "high", support),
    }
    manage.change(services, t["T0"], Change(status="in_progress"), CONSULTANT, local(2, 27, 11))
    respond(services, t["T1"], CONSULTANT, local(3, 2, 11))
    respond(services, t["T2"], CONSULTANT, local(3, 3, 11))
    close(services, t["T1"], CONSULTANT, local(3, 3, 10))
    respond(services, t["T3"], CONSULTANT, local(3, 4, 10, 30))
    close(services, t["T3"], BOSS, local(3, 4, 17))
    respond(services, t["T4"], CONSULTANT, local(3, 9, 9))
    respond(services, t["T7"], BOSS, local(3, 12, 9, 45))
    close(services, t["T7"], BOSS, local(3, 12, 15))
    return t


def row(queue, crit, opened, fr, res, median, p90) -> dict:
    return {
        "queue": queue,
        "criticality": crit,
        "opened": opened,
        "first_response_met": fr[0],
        "first_response_breached": fr[1],
        "first_response_open": fr[2],
        "resolution_met": res[0],
        "resolution_breached": res[1],
        "resolution_open": res[2],
        "first_response_median_hours": median,
        "first_response_p90_hours": p90,
    }


EXPECTED = [
    row("consulting", "critical", 1, (0, 1, 0), (1, 0, 0), 1.25, 1.25),
    row("support", "critical", 1, (1, 0, 0), (1, 0, 0), 0.5, 0.5),
    row("support", "high", 2, (0, 1, 1), (0, 1, 1), 5.0, 5.0),
    row("support", "medium", 2, (2, 0, 0), (1, 1, 0), 1.75, 2.0),
    row("support", "low", 1, (0, 1, 0), (0, 1, 0), None, None),
]
AS_OF = local(3, 31, 12)


def test_a_scripted_month_gives_the_table_worked_out_by_hand(services):
    script_march(services)
    found = sla_report(services.engine, services.config, local(3, 1, 0), local(4, 1, 0), AS_OF)
    assert found["rows"] == EXPECTED
    assert found["consultants"] == [
        {"consultant": BOSS, "tickets_handled": 2},
        {"consultant": CONSULTANT, "tickets_handled": 4},
    ]
    only = sla_report(
        services.engine, services.config, local(3, 1, 0), local(4, 1, 0), AS_OF, "consulting"
    )
    assert only["rows"] == EXPECTED[:1]
    assert only["consultants"] == [{"consultant": BOSS, "tickets_handled": 1}]


def test_the_command_prints_the_same_table_as_json_csv_and_text(services, capsys, tmp_path):
    script_march(services)
    cfg = tmp_path / "report.toml"
    cfg.write_text(
        f'[database]\nurl = "{services.config.database.url}"\n\n'
        '[[queues]]\nname = "support"\nkey_prefix = "SUP"\naddresses = ["support@help.example"]\n\n'
        '[[queues]]\nname = "consulting"\nkey_prefix = "CON"\n'
        'addresses = ["consulting@help.example"]\n\n'
        f'[staff]\naddresses = ["{CONSULTANT}", "{BOSS}"]\n',
        encoding="utf-8",
    )
    base = ["--config", str(cfg), "report", "sla", "--from", "2026-03-01", "--to", "2026-03-31"]
    base += ["--now", AS_OF.isoformat()]
    assert main([*base, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == EXPECTED
    assert main([*base, "--csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["queue"], r["criticality"], r["opened"]) for r in table] == [
        (r["queue"], r["criticality"], str(r["opened"])) for r in EXPECTED
    ]
    assert table[-1]["first_response_median_hours"] == ""
    assert main(base) == 0
    text = capsys.readouterr().out
    [medium] = [x.split() for x in text.splitlines() if x.split()[:2] == ["support", "medium"]]
    assert medium == ["support", "medium", "2", "2", "0", "0", "1", "1", "0", "1.75", "2.0"]
    assert any(line.split() == [CONSULTANT, "4"] for line in text.splitlines())
