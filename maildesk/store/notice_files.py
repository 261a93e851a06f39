"""The customer's files for staff mail: read from the spooled raw mail, kept under a cap.

A staff notice carries the files of the mail it is about, in order, as long as their
sum stays within `[staff] attachments_max_bytes`; the others are listed with their
sizes, and `#files` sends them in mails of at most the cap each. The bytes are the ones
the customer sent (decoded from their transfer encoding), never anything written to disk.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select

from maildesk.desk.labels import size_label
from maildesk.inbound.parse import message_files
from maildesk.inbound.parts import is_executable
from maildesk.outbound.compose import File, content_id
from maildesk.store.models import inbound


@dataclass(frozen=True)
class Found:
    """One file of one inbound mail (`inbound_id`), in the order the mail holds them."""

    inbound_id: int
    file: File

    @property
    def size(self) -> int:
        return len(self.file.payload)


def files_of(conn: Connection, inbound_ids: Iterable[int]) -> list[Found]:
    """Every file of these spooled mails, mail by mail, in the order given."""
    found: list[Found] = []
    for inbound_id in dict.fromkeys(inbound_ids):
        raw = conn.execute(_RAW, {"row": inbound_id}).scalar()
        if not raw:
            continue
        for name, ctype, payload, cid in message_files(raw):
            found.append(Found(inbound_id, File(name, ctype, payload, content_id(cid))))
    return found


def within_cap(files: list[Found], cap: int) -> tuple[list[Found], list[Found]]:
    """(sent with the notice, withheld): in order, each file that still fits is taken. A
    program never rides along (mail gateways refuse the whole mail for it): it is listed,
    and `#files` sends it on its own request."""
    taken: list[Found] = []
    withheld: list[Found] = []
    used = 0
    for found in files:
        if used + found.size <= cap and not is_executable(found.file.content_type):
            taken.append(found)
            used += found.size
        else:
            withheld.append(found)
    return taken, withheld


def batches(files: list[Found], cap: int) -> tuple[list[list[Found]], list[Found]]:
    """Mails of at most `cap` bytes of files each, in order; and the files larger than
    the cap on their own, which no such mail can carry (named, never sent)."""
    mails: list[list[Found]] = []
    current: list[Found] = []
    used = 0
    too_large = [f for f in files if f.size > cap]
    for found in files:
        if found.size > cap:
            continue
        if current and used + found.size > cap:
            mails.append(current)
            current, used = [], 0
        current.append(found)
        used += found.size
    if current:
        mails.append(current)
    return mails, too_large


def described(files: list[Found], sent: list[Found], lang: str) -> list[dict]:
    """The template's view of each file: name, type, size in words, sent or not, inline."""
    sent_ids = {id(f) for f in sent}
    return [
        {
            "name": f.file.filename,
            "type": f.file.content_type,
            "size": f.size,
            "size_label": size_label(f.size, lang),
            "attached": id(f) in sent_ids,
            "inline": bool(f.file.content_id) and id(f) in sent_ids,
            "cid": f.file.content_id,
        }
        for f in files
    ]


_RAW = select(inbound.c.raw).where(inbound.c.id == bindparam("row"))
