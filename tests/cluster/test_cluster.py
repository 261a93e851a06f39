"""Several maildesk instances on one PostgreSQL: load with a crash, IMAP failover, lost database.

Every instance is its own `maildesk run` process with its own SMTP port; all share the
database and one outbound relay (the sink). The assertions read the database, the sink
and `maildesk status --json`, never the instances' memory.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes

import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.engine import make_url

from maildesk.daemon.sender import LEASE as OUTBOX_LEASE
from maildesk.store.models import inbound, leases, messages, outbox, tickets
from tests.cluster.fleet import Fleet, Setup, instance_id, relay, reset_schema, submit
from tests.cluster.proxy import Proxy
from tests.conftest import need
from tests.integration import dovecot
from tests.integration.daemon import wait_for
from tests.integration.sink import Sink
from tests.mail import message

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]

TOTAL = 1000
REPLIES = 300  # 30 % answer an earlier request through In-Reply-To
TWICE = 100  # 10 % reach two instances at nearly the same time
CLIENTS = 6
FAST_LEASE = 6.0  # [cluster] lease_seconds: heartbeats every second, silence seen in 6 s


@pytest.fixture
def sink() -> Iterator[Sink]:
    with Sink() as running:
        yield running


@pytest.fixture
def db(pg_database: str) -> Iterator[Engine]:
    reset_schema(pg_database)
    engine = create_engine(pg_database)
    yield engine
    engine.dispose()


@pytest.fixture
def cluster(pg_database: str, db: Engine, sink: Sink, tmp_path) -> Iterator[Callable[..., Fleet]]:
    fleets: list[Fleet] = []

    def make(**setup: object) -> Fleet:
        fleet = Fleet(tmp_path, Setup(pg_database, sink.port, **setup))  # type: ignore[arg-type]
        fleets.append(fleet)
        return fleet

    yield make
    for fleet in fleets:
        fleet.close()


# --- what the customers send ------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    message_id: str
    sender: str
    raw: bytes
    parent: str | None = None  # the request this reply answers
    twice: bool = False


def plan(total: int, replies: int, twice: int, seed: int = 9) -> list[Mail]:
    """Requests from distinct senders, replies to earlier requests, some sent twice."""
    rng = random.Random(seed)
    reply_at = set(rng.sample(range(50, total), replies))  # the first 50 are requests
    twice_at = set(rng.sample(range(total), twice))
    requests: list[Mail] = []
    mails: list[Mail] = []
    for i in range(total):
        if i in reply_at:
            parent = rng.choice(requests[:-10])
            mail = Mail(
                f"<re-{i}@{parent.sender.split('@')[1]}>",
                parent.sender,
                message(
                    subject=f"RE: Erreur SwissDec lors de la transmission du lot {parent.sender}",
                    body=f"Bonjour,\n\nvoici la version 12.{i} et le message d'erreur complet.\n",
                    sender=parent.sender,
                    message_id=f"<re-{i}@{parent.sender.split('@')[1]}>",
                    in_reply_to=parent.message_id,
                ),
                parent.message_id,
                i in twice_at,
            )
        else:
            n = len(requests) + 1
            sender = f"client{n}@firm{n}.example"
            raw = message(
                subject=f"Erreur SwissDec lors de la transmission du lot {sender}",
                sender=f"Client {n} <{sender}>",
                message_id=f"<req-{n}@firm{n}.example>",
            )
            mail = Mail(f"<req-{n}@firm{n}.example>", sender, raw, None, i in twice_at)
            requests.append(mail)
        mails.append(mail)
    return mails


@dataclass
class Ledger:
    """Every SMTP answer the clients got, by Message-ID."""

    answers: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    accepted: set[str] = field(default_factory=set)  # answered 250 at least once
    skipped: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, mail: Mail, tried: list[tuple[int, int]]) -> None:
        with self.lock:
            self.answers.setdefault(mail.message_id, []).extend(tried)
            if any(code == 250 for _, code in tried):
                self.accepted.add(mail.message_id)

    def codes(self) -> Counter[int]:
        with self.lock:
            return Counter(c for tried in self.answers.values() for _, c in tried)


class Threaded:
    """The Message-IDs already on a ticket, refreshed from the database in the background."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ids: frozenset[str] = frozenset()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._refresh, daemon=True)
        self.thread.start()

    def _refresh(self) -> None:
        while not self.stop.wait(0.5):
            with self.engine.connect() as conn:
                self.ids = frozenset(conn.execute(select(messages.c.message_id)).scalars())


def deliver(n: int, mail: Mail, ports: list[int], ledger: Ledger) -> None:
    """Send once, or twice at nearly the same time through two different instances."""
    if not mail.twice:
        ledger.record(mail, relay(ports, n, mail.raw, mail.sender))
        return
    both = threading.Barrier(2)

    def once(first: int) -> None:
        both.wait(10)
        ledger.record(mail, relay(ports, first, mail.raw, mail.sender))

    other = threading.Thread(target=once, args=(n + 1,))
    other.start()
    once(n)
    other.join()


def client(work: queue.Queue, ports: list[int], ledger: Ledger, threaded: Threaded) -> None:
    """Send until the work runs out; a reply waits until its request is on a ticket."""
    give_up = time.monotonic() + 150
    while True:
        try:
            n, mail = work.get_nowait()
        except queue.Empty:
            return
        if mail.parent and mail.parent not in threaded.ids:
            # A customer answers what support acknowledged: until then, do something else.
            if time.monotonic() < give_up:
                work.put((n, mail))
                time.sleep(0.1)
            else:
                ledger.skipped.append(mail.message_id)
            continue
        deliver(n, mail, ports, ledger)


# --- reading the results ---------------------------------------------------------------


def count(engine: Engine, query) -> int:
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def waiting(engine: Engine, killed_at: datetime) -> int:
    """Spool rows not done, plus outbox rows a live instance still has to send."""
    stuck_lease = killed_at + OUTBOX_LEASE
    spool = count(
        engine, select(func.count()).select_from(inbound).where(inbound.c.status == "received")
    )
    unsent = count(
        engine,
        select(func.count())
        .select_from(outbox)
        .where(
            (outbox.c.status.in_(("pending", "failed")))
            | ((outbox.c.status == "sending") & (outbox.c.next_attempt_at > stuck_lease))
        ),
    )
    return spool + unsent


def orphaned(engine: Engine, killed_at: datetime) -> list:
    """Outbox rows the killed instance had claimed: `sending` until their lease runs out."""
    with engine.connect() as conn:
        return conn.execute(
            select(outbox).where(
                outbox.c.status == "sending", outbox.c.next_attempt_at <= killed_at + OUTBOX_LEASE
            )
        ).all()


def ticket_of(engine: Engine) -> dict[str, list[int]]:
    """Every inbound Message-ID on a ticket, with the ticket of each copy stored."""
    found: dict[str, list[int]] = {}
    with engine.connect() as conn:
        rows = conn.execute(
            select(messages.c.message_id, messages.c.ticket_id).where(messages.c.direction == "in")
        )
        for mid, tid in rows:
            found.setdefault(mid, []).append(tid)
    return found


def ticket_numbers(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(tickets.c.key, tickets.c.number))]


def acks_by_request(engine: Engine, sink: Sink) -> dict[str, Counter[str]]:
    """For each request answered by an `ack`: its ack Message-IDs and how often each arrived."""
    with engine.connect() as conn:
        ack_ids = set(
            conn.execute(select(outbox.c.message_id).where(outbox.c.template == "ack")).scalars()
        )
    found: dict[str, Counter[str]] = {}
    for mail in sink.received:
        parsed = mail.message
        if str(parsed["Message-ID"]) in ack_ids:
            found.setdefault(str(parsed["In-Reply-To"]), Counter())[str(parsed["Message-ID"])] += 1
    return found


# --- 1. three instances, a thousand messages, one crash --------------------------------


def test_three_instances_share_the_load_and_survive_a_crash(cluster, db, sink):
    fleet: Fleet = cluster(lease_seconds=FAST_LEASE)
    fleet.launch()  # the first one creates the schema; the others join it together
    with ThreadPoolExecutor(2) as pool:
        joined = [pool.submit(fleet.launch) for _ in range(2)]
        victim = [f.result() for f in joined][-1]
    mails = plan(TOTAL, REPLIES, TWICE)
    ledger = Ledger()
    killed_at = send_all(fleet, victim, db, mails, ledger)
    try:
        wait_for(lambda: waiting(db, killed_at) == 0, timeout=120, interval=0.5)
    except TimeoutError:
        pytest.fail(f"not drained 120 s after the last message: {backlog(db)}")
    # The killed instance counts as silent once its heartbeat is older than lease_seconds.
    time.sleep(max(0.0, FAST_LEASE + 1 - (datetime.now(UTC) - killed_at).total_seconds()))
    check_load(fleet, victim, db, sink, mails, ledger, killed_at)


def send_all(fleet: Fleet, victim, db: Engine, mails: list[Mail], ledger: Ledger) -> datetime:
    """Send everything over CLIENTS threads; SIGKILL `victim` half-way. Returns when."""
    work: queue.Queue = queue.Queue()
    for n, mail in enumerate(mails):
        work.put((n, mail))
    threaded = Threaded(db)
    clients = [
        threading.Thread(target=client, args=(work, fleet.ports, ledger, threaded))
        for _ in range(CLIENTS)
    ]
    for thread in clients:
        thread.start()
    wait_for(lambda: len(ledger.accepted) >= len(mails) // 2, timeout=120, interval=0.01)
    fleet.kill(victim)
    killed_at = datetime.now(UTC)
    for thread in clients:
        thread.join(180)
    threaded.stop.set()
    assert not any(t.is_alive() for t in clients), "clients still sending after 3 minutes"
    return killed_at


def backlog(db: Engine) -> dict[str, object]:
    """What is left, to explain a drain that never ends."""
    with db.connect() as conn:
        spool = conn.execute(
            select(
                inbound.c.id, inbound.c.attempts, inbound.c.next_attempt_at, inbound.c.last_error
            )
            .where(inbound.c.status != "done")
            .limit(5)
        ).all()
        out = conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status)).all()
    return {"spool": [tuple(r) for r in spool], "outbox": dict(tuple(r) for r in out)}


def check_load(fleet, victim, db, sink, mails, ledger, killed_at) -> None:
    accepted = ledger.accepted
    codes = ledger.codes()
    requests = [m for m in mails if m.parent is None]
    stuck = orphaned(db, killed_at)
    print(
        f"SMTP answers {dict(codes)}; replies skipped {len(ledger.skipped)}; "
        f"outbox rows orphaned by the crash {len(stuck)}"
    )
    assert not [c for c in codes if 500 <= c < 600], f"a 5xx answer: {codes}"
    assert ledger.skipped == [], "a reply could not be sent: its request never got a ticket"
    assert accepted == {m.message_id for m in mails}, "a message never got a 250"
    assert codes[0] > 0, "the crash interrupted no SMTP conversation: the kill was not midway"

    # Every message answered 250 is on exactly one ticket, exactly once.
    on_ticket = ticket_of(db)
    assert set(on_ticket) == accepted
    twice_stored = {mid: tids for mid, tids in on_ticket.items() if len(tids) != 1}
    assert twice_stored == {}, "a message is stored more than once"
    # Each request has its own ticket; each reply is on its request's ticket.
    request_tickets = [on_ticket[m.message_id][0] for m in requests]
    assert len(set(request_tickets)) == len(requests)
    strays = [
        m.message_id for m in mails if m.parent and on_ticket[m.message_id] != on_ticket[m.parent]
    ]
    assert strays == [], "a reply landed on another ticket than its request"
    keys = ticket_numbers(db)
    assert sorted(n for _, n in keys) == list(range(1, len(requests) + 1)), "gaps or doubles"
    assert all(key == f"SUP-{n}" for key, n in keys)
    check_spool(db, ledger, mails)
    check_acks(db, sink, requests, stuck)
    check_status(fleet, victim, stuck)


def check_spool(db, ledger, mails) -> None:
    """One spool row per 250; outcomes add up to one `created` per request."""
    with db.connect() as conn:
        rows = conn.execute(select(inbound.c.status, inbound.c.outcome)).all()
    answered_250 = sum(c == 250 for tried in ledger.answers.values() for _, c in tried)
    broken = ledger.codes()[0]  # conversations cut by the crash: may be stored, unanswered
    assert answered_250 <= len(rows) <= answered_250 + broken
    assert {status for status, _ in rows} == {"done"}
    outcomes = Counter(outcome for _, outcome in rows)
    assert outcomes["created"] == sum(m.parent is None for m in mails)
    assert outcomes["appended"] == sum(m.parent is not None for m in mails)
    assert outcomes["duplicate"] == len(rows) - len(mails)
    print(f"spool rows {len(rows)} for {len(mails)} messages: {dict(outcomes)}")


def check_acks(db, sink, requests, stuck) -> None:
    """Exactly one ack per request at the relay, but for those the crash left in flight."""
    acks = acks_by_request(db, sink)
    assert len(stuck) <= 20, "more outbox rows orphaned than one claimed batch"
    in_flight = {
        str(message_from_bytes(row.raw)["In-Reply-To"]) for row in stuck if row.template == "ack"
    }
    several = [r.message_id for r in requests if len(acks.get(r.message_id, ())) > 1]
    missing = {r.message_id for r in requests if r.message_id not in acks}
    resent = sum(n - 1 for seen in acks.values() for n in seen.values())
    print(
        f"acks: {len(acks)} requests answered, {resent} delivered twice, "
        f"{len(in_flight)} in flight at the crash, {len(missing)} not delivered yet"
    )
    assert several == [], "a request got two different acks"
    assert missing <= in_flight, f"requests without an ack: {sorted(missing - in_flight)[:5]}"
    # Only an orphaned row is ever sent again, and not before its lease runs out.
    assert resent == 0, "an ack was delivered twice"


def check_status(fleet, victim, stuck) -> None:
    status = fleet.status(fleet.daemons[0])
    alive = {m["pid"]: m["alive"] for m in status["instances"]}
    pids = {d.proc.pid: d is not victim for d in fleet.daemons}
    assert alive == pids, "expected two instances alive and the killed one silent"
    assert status["spool"]["pending"] == 0
    assert status["spool"]["quarantined"] == 0
    assert status["outbox"]["dead"] == 0
    # Rows the dead instance had claimed wait for their lease (OUTBOX_LEASE), nothing else.
    assert status["outbox"]["pending"] == len(stuck)


# --- 2. one IMAP mailbox, two instances, the holder dies ------------------------------


def live_holder(engine: Engine, name: str) -> str | None:
    with engine.connect() as conn:
        row = conn.execute(select(leases).where(leases.c.name == name)).first()
    return row.holder if row and row.expires_at > datetime.now(UTC) else None


def copies(engine: Engine, message_id: str) -> int:
    return count(
        engine,
        select(func.count()).select_from(messages).where(messages.c.message_id == message_id),
    )


def dovecot_answers() -> bool:
    """A loaded machine can be slow to greet: a few tries before calling Dovecot absent."""
    for _ in range(5):
        if dovecot.dovecot_available():
            return True
        time.sleep(1)
    return False


def imap_mail(message_id: str) -> bytes:
    return message(
        subject="Erreur lors de la connexion initiale à ProConcept en client lourd",
        sender="Bob Keller <bob@keller.example>",
        message_id=message_id,
    )


def test_imap_mailbox_moves_to_the_other_instance_when_its_holder_dies(cluster, db):
    need("Dovecot at 127.0.0.1:10143", dovecot_answers())
    dovecot.reset("desk1")
    fleet: Fleet = cluster(lease_seconds=FAST_LEASE, mailbox="desk1")
    fleet.launch()
    fleet.launch()
    # three daemons start at once: the first lease may take a few seconds on a busy machine
    wait_for(lambda: live_holder(db, "imap:desk1"), timeout=FAST_LEASE + 15)
    status = fleet.status(fleet.daemons[1])
    ids = {instance_id(status, d): d for d in fleet.daemons}
    [box] = status["mailboxes"]
    assert (box["mailbox"], box["live"]) == ("desk1", True)
    holder = ids[box["holder"]]
    (other_id,) = set(ids) - {box["holder"]}

    dovecot.append("desk1", imap_mail("<before-kill@keller.example>"))
    wait_for(lambda: copies(db, "<before-kill@keller.example>"), timeout=10)
    fleet.kill(holder)
    killed = time.monotonic()
    dovecot.append("desk1", imap_mail("<after-kill@keller.example>"))
    wait_for(lambda: live_holder(db, "imap:desk1") == other_id, timeout=FAST_LEASE + 3)
    took_over = time.monotonic() - killed
    wait_for(lambda: copies(db, "<after-kill@keller.example>"), timeout=FAST_LEASE + 5)
    ticketed = time.monotonic() - killed
    print(
        f"IMAP: lease taken over {took_over:.1f} s after the kill, mail ticketed {ticketed:.1f} s"
    )
    assert took_over <= FAST_LEASE + 1
    assert ticketed <= FAST_LEASE + 3

    wait_for(lambda: len(dovecot.messages("desk1", "Processed")) == 2, timeout=10)
    time.sleep(2)  # time for a second intake to show up, if there were one
    assert copies(db, "<before-kill@keller.example>") == 1
    assert copies(db, "<after-kill@keller.example>") == 1
    assert count(db, select(func.count()).select_from(tickets)) == 2
    assert count(db, select(func.count()).select_from(inbound)) == 2  # one spool row each
    assert dovecot.messages("desk1", "INBOX") == []
    [box] = fleet.status(ids[other_id])["mailboxes"]
    assert (box["holder"], box["live"]) == (other_id, True)
    # Only the holder ever watched the mailbox; the other stood by until it took over.
    first_log = holder.log_path.read_text(errors="replace")
    assert "imap=desk1" in first_log
    assert "action=standby" not in first_log
    assert "action=standby" in ids[other_id].log_path.read_text(errors="replace")


# --- 3. the database goes away and comes back ----------------------------------------


def test_lost_database_answers_451_and_the_instance_resumes(cluster, db, pg_database):
    target = make_url(pg_database)
    with Proxy((target.host or "127.0.0.1", target.port or 5432)) as proxy:
        fleet: Fleet = cluster()
        proxied = target.set(host="127.0.0.1", port=proxy.port)
        daemon = fleet.launch(proxied.render_as_string(hide_password=False))
        sent: dict[str, bytes] = {}
        answers: dict[str, int] = {}

        def send(tag: str) -> int:
            mid = f"<{tag}@dupont.example>"
            sent[mid] = message(
                subject=f"Erreur de calcul du salaire de M. Dupont ({tag})",
                sender="Jean Dupont <jean@dupont.example>",
                message_id=mid,
            )
            answers[mid] = submit(daemon.port, sent[mid], "jean@dupont.example")
            return answers[mid]

        assert [send(f"before-{i}") for i in range(3)] == [250] * 3
        # Processed before the cut: a row claimed when the database went away would only be
        # retried once its claim expires (the worker's LEASE), which is not what this tests.
        wait_for(lambda: all(copies(db, m) for m in sent), timeout=15)
        proxy.cut()
        cut_codes = [send(f"cut-{i}") for i in range(5)]
        assert cut_codes == [451] * 5, "while the database is away, DATA must answer 451"
        time.sleep(2)  # the worker, sender and heartbeat all meet the fault meanwhile
        proxy.restore()
        restored = time.monotonic()
        attempt = iter(range(1000))
        wait_for(lambda: send(f"after-{next(attempt)}") == 250, timeout=10, interval=0.5)
        resumed = time.monotonic() - restored
        assert [send(f"later-{i}") for i in range(3)] == [250] * 3
        # The worker resumed too: what was accepted after the cut becomes tickets promptly.
        wait_for(lambda: all(copies(db, m) for m, c in answers.items() if c == 250), timeout=15)
        # The sending MTA kept what got 451 and tries again: now it is accepted.
        held_back = [m for m, code in answers.items() if code != 250]
        retried = [submit(daemon.port, sent[m], "jean@dupont.example") for m in held_back]
        assert retried == [250] * len(held_back)
        wait_for(lambda: all(copies(db, m) for m in sent), timeout=15)
        assert daemon.proc is not None
        assert daemon.proc.poll() is None, daemon.log()
    print(f"database restored: 250 again after {resumed:.1f} s")
    assert [copies(db, m) for m in sent] == [1] * len(sent)
