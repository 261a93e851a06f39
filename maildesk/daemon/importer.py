"""`maildesk import`: mail stored in files through the same intake and pipeline as live mail.

Each message is stored in the spool (many per commit) under a `source_key` made of its
location and a hash of its bytes, then processed from there by the worker in batches, as
of its own `Date` (spool source `import`: its notifications are recorded as withheld; with
`notify`, source `import-notify`: sent as live mail would be). The unique `source_key` is
what makes an interrupted import safe to run again: a message already in the spool is
never stored twice, one stored but not yet processed is processed, and one processed is
reported as `already` and left alone.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from maildesk.clock import utc
from maildesk.daemon.batch import LEASE, Prepared, process_rows
from maildesk.daemon.mailfiles import Found
from maildesk.daemon.readahead import Read
from maildesk.store import spool
from maildesk.store.spool import IMPORTED, IMPORTED_NOTIFYING

OUTCOMES = ("created", "appended", "duplicate", "ignored", "quarantined")
Report = Callable[[dict], None]


def source_key(location: str, digest: str) -> str:
    """`import:<hash of the location>:<hash of the bytes>` (88 characters); `digest`: the
    bytes' SHA-256, in hex."""
    where = hashlib.sha256(location.encode("utf-8", "surrogateescape")).hexdigest()[:40]
    return f"import:{where}:{digest[:40]}"


def in_order(found: Iterable[Found], since: datetime | None, now: datetime) -> list[Found]:
    """The messages to import, oldest first (a reply after its request, as it arrived),
    each location once; a message dated in the future counts as written `now`."""
    seen: set[str] = set()
    kept = []
    for f in found:
        if f.location in seen:
            continue
        seen.add(f.location)
        kept.append(f)
    kept.sort(key=lambda f: min(f.written, now))
    return [f for f in kept if since is None or f.written >= since]


def import_chunk(
    services,
    part: list[Found],
    now: datetime,
    *,
    notify: bool,
    report: Report,
    ahead: list[Read] | None = None,
) -> Counter:
    """Store the messages of `part` not yet in the spool (one commit), then process every
    one still waiting. Counts the outcomes; `report` gets one dict per message. `ahead`:
    the messages of `part` already read and parsed (`maildesk.daemon.readahead`)."""
    now = utc(now)
    counts: Counter = Counter()
    raws = [a[0] for a in ahead] if ahead is not None else [f.read() for f in part]
    # The parser hashed the bytes already: its digest is the spool's and the key's.
    digests = (
        [a[1][0].sha256 if a[1][0] is not None else hashlib.sha256(a[0]).hexdigest() for a in ahead]
        if ahead is not None
        else [hashlib.sha256(raw).hexdigest() for raw in raws]
    )
    keys = [source_key(f.location, d) for f, d in zip(part, digests, strict=True)]
    known = spool.stored(services.spool, keys)
    source = IMPORTED_NOTIFYING if notify else IMPORTED
    new = [
        {"raw": raw, "sha256": d, "source": source, "now": min(f.written, now), "source_key": key}
        for f, raw, d, key in zip(part, raws, digests, keys, strict=True)
        if key not in known
    ]
    stored_now, claimed = _store(services, new, now + LEASE)
    for key, inbound_id in stored_now.items():
        known[key] = (inbound_id, "received")
    where: dict[int, str] = {}
    prepared: dict[int, Prepared] = {}
    for n, (f, key) in enumerate(zip(part, keys, strict=True)):
        inbound_id, status = known[key]
        if status == "received":
            where[inbound_id] = f.location
            if ahead is not None:
                prepared[inbound_id] = ahead[n][1]
        else:
            counts["already"] += 1
            report({"outcome": "already", "location": f.location, "inbound": inbound_id})
    mine = set(stored_now.values()) if claimed else set()
    for result in process_rows(services.worker, sorted(where), now, prepared, claimed=mine):
        counts[result.outcome] += 1
        location = where.pop(result.inbound_id)
        report(result.as_json() | {"location": location, "inbound": result.inbound_id})
    for inbound_id, location in where.items():  # taken meanwhile by a running daemon
        counts["elsewhere"] += 1
        report({"outcome": "elsewhere", "location": location, "inbound": inbound_id})
    return counts


def _store(services, new: list[dict], lease: datetime) -> tuple[dict[str, int], bool]:
    """source_key -> spool id of the messages stored now, and whether they are stored
    claimed (for us to process next): all in one commit, or, when that fails because
    another process stored some meanwhile, one by one (unclaimed)."""
    try:
        ids = spool.store_many(services.spool, new, claimed_until=lease)
        return {m["source_key"]: i for m, i in zip(new, ids, strict=True)}, True
    except IntegrityError:
        stored = {}
        for m in new:
            try:
                stored[m["source_key"]] = spool.store(services.spool, **m)
            except IntegrityError:
                stored[m["source_key"]] = spool.stored(services.spool, [m["source_key"]])[
                    m["source_key"]
                ][0]
        return stored, False
