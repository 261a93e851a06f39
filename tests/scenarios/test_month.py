"""A month of one request, through the real command line, on SQLite and PostgreSQL.

Every step runs `python -m maildesk ...` in a subprocess with `--now`, so the waiting
ladder (reminders on day 10 and 15, closure on day 20, domain §8) and replies to closed
requests (§9) are checked as an admin's cron and a consultant would drive them, with no
sleeping. Days count from the request, Monday 2 March 2026 09:00 in Zurich.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.integration.daemon import write_config
from tests.mail import message

ZURICH = ZoneInfo("Europe/Zurich")
START = datetime(2026, 3, 2, 9, 0, tzinfo=ZURICH)
ALICE = "alice@acme.ch"
CONSULTANT = "consultant@help.example"
SUBJECT = "Erreur lors de la transmission SwissDec pour M. Dupont"


def day(n: int, hour: int = 10, minute: int = 0) -> datetime:
    """Day `n` of the month at a local wall-clock time (all of it before the DST switch)."""
    return START.replace(hour=hour, minute=minute) + timedelta(days=n)


class Desk:
    """One maildesk installation (config + database) driven through its command line."""

    def __init__(self, tmp_path: Path, db_url: str, closed_reply: str | None = None) -> None:
        self.tmp = tmp_path
        self.config, _ = write_config(tmp_path, db_url)
        if closed_reply:
            text = self.config.read_text(encoding="utf-8")
            queue = 'addresses = ["support@help.example"]\n'
            assert queue in text
            text = text.replace(queue, f'{queue}closed_reply = "{closed_reply}"\n')
            self.config.write_text(text, encoding="utf-8")
        self.mails = 0

    def cli(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "maildesk", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == expect, f"{args}: exit {done.returncode}\n{done.stderr}"
        return done

    def ingest(self, raw: bytes, at: datetime) -> dict:
        self.mails += 1
        path = self.tmp / f"mail-{self.mails}.eml"
        path.write_bytes(raw)
        [line] = self.cli("ingest", "--now", at.isoformat(), str(path)).stdout.splitlines()
        return json.loads(line)

    def set(self, key: str, *args: str, at: datetime, expect: int = 0):
        return self.cli("tickets", "set", key, *args, "--now", at.isoformat(), expect=expect)

    def tick(self, at: datetime) -> dict:
        return json.loads(self.cli("tick", "--now", at.isoformat()).stdout)

    def show(self, key: str, at: datetime) -> dict:
        return json.loads(
            self.cli("tickets", "show", key, "--json", "--now", at.isoformat()).stdout
        )

    def outbox(self) -> list[dict]:
        return json.loads(self.cli("outbox", "list", "--json").stdout)["notifications"]

    def tickets(self) -> list[str]:
        listed = json.loads(self.cli("tickets", "list", "--json").stdout)["tickets"]
        return [t["key"] for t in listed]

    def sent(self, key: str) -> Counter[str]:
        return Counter(row["template"] for row in self.outbox() if row["ticket"] == key)

    def request(self, at: datetime = START, sender: str = f"Alice Martin <{ALICE}>") -> str:
        created = self.ingest(message(sender=sender, message_id="<req-1@acme.ch>"), at)
        assert created["outcome"] == "created", created
        return created["ticket"]

    def reply(self, key: str, n: int, at: datetime, headers: dict | None = None) -> dict:
        raw = message(
            subject=f"RE: [{key}] {SUBJECT}",
            message_id=f"<answer-{n}@acme.ch>",
            body=f"Bonjour,\n\nréponse numéro {n}.\n",
            headers=headers,
        )
        return self.ingest(raw, at)

    def wait_for_customer(self, key: str, at: datetime) -> None:
        done = self.set(key, "--status", "waiting_customer", "--as", CONSULTANT, at=at)
        assert json.loads(done.stdout)["changes"] == ["SetStatus", "MarkFirstResponse"]


NOTHING = {"reminders": [], "closed": []}


def ladder(result: dict) -> dict:
    """What a tick did about waiting tickets (SLA warnings are another matter)."""
    return {"reminders": result["reminders"], "closed": result["closed"]}


def reminder(key: str, template: str) -> dict:
    return {"reminders": [{"ticket": key, "template": template}], "closed": []}


def status_events(ticket: dict) -> list[tuple]:
    return [
        (e["from_value"], e["to_value"], e["actor"], e["reason"])
        for e in ticket["events"]
        if e["kind"] == "status"
    ]


def test_a_whole_month_without_an_answer_then_a_late_reply(db_url, tmp_path):
    desk = Desk(tmp_path, db_url)
    key = desk.request()
    assert key == "SUP-1"
    desk.wait_for_customer(key, day(0))

    assert ladder(desk.tick(day(5))) == NOTHING
    assert ladder(desk.tick(day(10, 9, 59))) == NOTHING  # ten days are not over yet
    assert ladder(desk.tick(day(10))) == reminder(key, "reminder_1")
    assert ladder(desk.tick(day(10))) == NOTHING
    assert ladder(desk.tick(day(12))) == NOTHING
    assert ladder(desk.tick(day(15))) == reminder(key, "reminder_2")
    assert ladder(desk.tick(day(17))) == NOTHING
    assert ladder(desk.tick(day(20))) == {"reminders": [], "closed": [key]}
    assert ladder(desk.tick(day(21))) == NOTHING

    closed = desk.show(key, day(21))
    assert (closed["status"], closed["resolution"]) == ("closed", "no_answer")
    assert status_events(closed)[-1] == (
        "waiting_customer",
        "closed",
        "maildesk",
        "no answer for 20 days",
    )

    late = desk.reply(key, 1, day(22))
    assert (late["outcome"], late["ticket"]) == ("appended", key)
    after = desk.show(key, day(22))
    assert (after["status"], after["resolution"]) == ("closed", "no_answer")
    assert after["messages"][-1]["message_id"] == "<answer-1@acme.ch>"
    assert "réponse numéro 1" in after["messages"][-1]["text"]
    assert [e["kind"] for e in after["events"]][-1] == "reply-to-closed"
    assert desk.tickets() == [key]

    rows = desk.outbox()
    [closed_reply] = [r for r in rows if r["template"] == "closed_reply"]
    assert (closed_reply["ticket"], closed_reply["recipient"]) == (key, ALICE)
    assert key in closed_reply["subject"]
    for template in ("reminder_1", "reminder_2", "auto_closed", "ack"):
        assert [r["recipient"] for r in rows if r["template"] == template] == [ALICE]
    assert desk.sent(key) == Counter(
        {
            "ack": 1,
            "staff_new_ticket": 1,
            "reminder_1": 1,
            "reminder_2": 1,
            "auto_closed": 1,
            "closed_reply": 1,
            # Waiting for the customer does not stop the resolution objective: one warning.
            "staff_sla_warning": 1,
        }
    )


def test_an_answer_on_day_12_stops_the_clock_and_a_new_wait_starts_a_new_one(db_url, tmp_path):
    desk = Desk(tmp_path, db_url)
    key = desk.request()
    desk.wait_for_customer(key, day(0))
    assert ladder(desk.tick(day(10))) == reminder(key, "reminder_1")

    answered = desk.reply(key, 1, day(12))
    assert (answered["outcome"], answered["ticket"]) == ("appended", key)
    shown = desk.show(key, day(12))
    assert shown["status"] == "in_progress"
    assert shown["waiting_since"] is None
    assert status_events(shown)[-1] == (
        "waiting_customer",
        "in_progress",
        ALICE,
        "customer answered",
    )
    for n in (15, 20, 25):
        assert ladder(desk.tick(day(n))) == NOTHING
    assert desk.show(key, day(25))["status"] == "in_progress"

    # A second waiting period has its own ladder, counted from its own start. It spans the
    # switch to summer time, so its days are counted as maildesk does: 24 hours each.
    again = day(26).astimezone(UTC)
    desk.wait_for_customer(key, again)
    assert ladder(desk.tick(again + timedelta(days=10, minutes=-1))) == NOTHING
    assert ladder(desk.tick(again + timedelta(days=10))) == reminder(key, "reminder_1")
    assert ladder(desk.tick(again + timedelta(days=15))) == reminder(key, "reminder_2")
    assert ladder(desk.tick(again + timedelta(days=20))) == {"reminders": [], "closed": [key]}

    sent = desk.sent(key)
    assert (sent["reminder_1"], sent["reminder_2"], sent["auto_closed"]) == (2, 1, 1)
    assert sent["staff_customer_reply"] == 1


def test_an_auto_reply_on_day_12_does_not_stop_the_clock(db_url, tmp_path):
    desk = Desk(tmp_path, db_url)
    key = desk.request()
    desk.wait_for_customer(key, day(0))
    assert ladder(desk.tick(day(10))) == reminder(key, "reminder_1")

    away = desk.reply(key, 1, day(12), headers={"Auto-Submitted": "auto-replied"})
    assert (away["outcome"], away["ticket"]) == ("ignored", key)
    shown = desk.show(key, day(12))
    assert shown["status"] == "waiting_customer"
    assert shown["messages"][-1]["automatic"] is True

    assert ladder(desk.tick(day(15))) == reminder(key, "reminder_2")
    assert ladder(desk.tick(day(20))) == {"reminders": [], "closed": [key]}
    sent = desk.sent(key)
    assert (sent["reminder_1"], sent["reminder_2"], sent["auto_closed"]) == (1, 1, 1)
    assert sent["staff_customer_reply"] == 0


@pytest.mark.parametrize(
    ("first_tick", "done"),
    [
        (16, reminder("SUP-1", "reminder_2")),
        (21, {"reminders": [], "closed": ["SUP-1"]}),
    ],
)
def test_a_late_scheduler_takes_only_the_latest_step(db_url, tmp_path, first_tick, done):
    desk = Desk(tmp_path, db_url)
    key = desk.request()
    desk.wait_for_customer(key, day(0))

    assert ladder(desk.tick(day(first_tick))) == done
    assert ladder(desk.tick(day(first_tick))) == NOTHING
    if first_tick < 20:
        assert ladder(desk.tick(day(20))) == {"reminders": [], "closed": [key]}

    sent = desk.sent(key)
    assert sent["reminder_1"] == 0
    assert sent["reminder_2"] == (1 if first_tick < 20 else 0)
    assert sent["auto_closed"] == 1
    assert desk.show(key, day(22))["resolution"] == "no_answer"


def test_a_queue_that_reopens_on_reply(db_url, tmp_path):
    desk = Desk(tmp_path, db_url, closed_reply="reopen")
    key = desk.request()
    desk.set(key, "--status", "closed", "--as", CONSULTANT, at=day(1))
    assert desk.show(key, day(1))["resolution"] == "solved"

    again = desk.reply(key, 1, day(3))
    assert (again["outcome"], again["ticket"]) == ("appended", key)
    shown = desk.show(key, day(3))
    assert (shown["status"], shown["resolution"], shown["closed_at"]) == ("in_progress", None, None)
    assert status_events(shown)[-1] == ("closed", "in_progress", ALICE, "reopened by reply")
    sent = desk.sent(key)
    assert sent["closed_reply"] == 0
    assert sent["staff_customer_reply"] == 1
    assert desk.tickets() == [key]


def test_a_queue_that_opens_a_new_linked_ticket_on_reply(db_url, tmp_path):
    desk = Desk(tmp_path, db_url, closed_reply="new_ticket")
    key = desk.request()
    desk.set(key, "--status", "closed", "--as", CONSULTANT, at=day(1))

    follow = desk.reply(key, 1, day(3))
    assert follow["outcome"] == "created"
    new = follow["ticket"]
    assert new == "SUP-2"
    shown = desk.show(new, day(3))
    assert (shown["status"], shown["linked_to"], shown["requester"]) == ("new", key, ALICE)
    assert [m["message_id"] for m in shown["messages"]] == ["<answer-1@acme.ch>"]
    old = desk.show(key, day(3))
    assert (old["status"], len(old["messages"])) == ("closed", 1)
    rows = desk.outbox()
    acks = [(r["ticket"], r["recipient"]) for r in rows if r["template"] == "ack"]
    assert sorted(acks) == [(key, ALICE), (new, ALICE)]
    assert [r for r in rows if r["template"] == "closed_reply"] == []


def test_tickets_set_refusals_exit_2_with_a_clear_message(db_url, tmp_path):
    desk = Desk(tmp_path, db_url)
    key = desk.request()
    desk.set(key, "--status", "closed", "--as", CONSULTANT, at=day(1))

    refused = desk.set(key, "--status", "qualified", "--as", CONSULTANT, at=day(2), expect=2)
    assert "closed cannot become qualified" in refused.stderr
    assert "from closed: in_progress" in refused.stderr
    unknown = desk.set(key, "--status", "resolved", at=day(2), expect=2)
    assert "unknown status 'resolved'" in unknown.stderr
    assert desk.set("SUP-99", "--status", "in_progress", at=day(2), expect=2).stderr.strip() == (
        "maildesk: no ticket SUP-99"
    )
    nothing = desk.set(key, at=day(2), expect=2)
    assert "nothing to change" in nothing.stderr
    shown = desk.show(key, day(2))
    assert shown["status"] == "closed"
    assert len(status_events(shown)) == 1


def test_lowering_the_criticality_tells_the_customer_why(db_url, tmp_path):
    desk = Desk(tmp_path, db_url)
    key = desk.request()
    desk.set(key, "--criticality", "critical", "--as", CONSULTANT, at=day(0, 10))
    assert desk.sent(key)["criticality_lowered"] == 0

    refused = desk.set(key, "--criticality", "low", "--as", CONSULTANT, at=day(0, 11), expect=2)
    assert "needs a reason" in refused.stderr
    reason = "un contournement existe : export manuel"
    desk.set(key, "--criticality", "low", "--reason", reason, "--as", CONSULTANT, at=day(0, 12))

    shown = desk.show(key, day(0, 12))
    assert shown["criticality"] == "low"
    changes = [
        (e["from_value"], e["to_value"]) for e in shown["events"] if e["kind"] == "criticality"
    ]
    assert changes == [("medium", "critical"), ("critical", "low")]
    assert desk.sent(key)["criticality_lowered"] == 1

    desk.cli("outbox", "flush", "--now", day(0, 12).isoformat())
    [mail] = (tmp_path / "outbox").glob("*-criticality_lowered.eml")
    parsed = message_from_bytes(mail.read_bytes(), policy=policy.default)
    assert parsed["To"].addresses[0].addr_spec == ALICE
    body = parsed.get_body(preferencelist=("plain",)).get_content()
    assert reason in body
    assert "Critique → Basse" in body
