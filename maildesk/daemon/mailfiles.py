"""Mail stored in files, for `maildesk import`: a Maildir, an mbox file, a folder of `.eml`
files (searched recursively) or one `.eml` file.

Each message is found with its *location* (what names it for as long as the mailbox is
not rewritten: a Maildir's unique name, an mbox file and byte offset, an `.eml` file's
path) and the instant it was written (its `Date`, else the file's modification time),
read from its header only; the bytes are read later, a chunk at a time, so a mailbox of
any size is imported in bounded memory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

HEADER_PEEK = 64 * 1024
_DATE = re.compile(rb"^Date:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)
_HEADER_END = re.compile(rb"\r?\n\r?\n")


@dataclass(frozen=True)
class Found:
    location: str  # maildir:/abs#unique | mbox:/abs#offset | eml:/abs
    written: datetime  # the message's Date (UTC), else its file's modification time
    path: str
    offset: int = 0
    length: int = -1  # -1: the whole file

    def read(self) -> bytes:
        with open(self.path, "rb") as f:
            if self.length < 0:
                return f.read()
            f.seek(self.offset)
            return f.read(self.length)


class NotAMailbox(ValueError):
    """The path is neither a Maildir, an mbox file, an .eml file nor a folder of them."""


def find(path: str | Path) -> list[Found]:
    """Every message under `path`, in the order it is stored there."""
    p = Path(path).resolve()
    if p.is_dir():
        if all((p / sub).is_dir() for sub in ("cur", "new")):
            return list(_maildir(p))
        return [_file(f, f"eml:{f}") for f in sorted(p.rglob("*.eml")) if f.is_file()]
    if not p.is_file():
        raise NotAMailbox(f"{path}: no such file or folder")
    with open(p, "rb") as f:
        start = f.read(5)
    if start == b"From ":
        return list(_mbox(p))
    return [_file(p, f"eml:{p}")]


def date_of(head: bytes, fallback: datetime) -> datetime:
    """The `Date` header of a message's head as aware UTC; `fallback` if none is readable."""
    found = _DATE.search(head)
    if found:
        text = re.sub(rb"\r?\n[ \t]", b" ", found.group(1)).decode("latin-1").strip()
        try:
            value = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            value = None
        if value is not None and value.year >= 1970:
            return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    return fallback


def head_of(data: bytes) -> bytes:
    end = _HEADER_END.search(data)
    return data[: end.start()] if end else data


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(os.stat(path).st_mtime, UTC)


def _file(path: Path, location: str) -> Found:
    with open(path, "rb") as f:
        head = head_of(f.read(HEADER_PEEK))
    return Found(location, date_of(head, _mtime(path)), str(path))


def _maildir(root: Path) -> Iterator[Found]:
    for sub in ("new", "cur"):
        for entry in sorted(os.scandir(root / sub), key=lambda e: e.name):
            if entry.is_file() and not entry.name.startswith("."):
                unique = entry.name.split(":", 1)[0]  # flags (":2,S") change when read
                yield _file(Path(entry.path), f"maildir:{root}#{unique}")


def _mbox(path: Path) -> Iterator[Found]:
    """Messages between `From ` separator lines, as Python's `mailbox.mbox` reads them:
    neither the separator line nor the blank line before the next one is part of a
    message."""
    fallback = _mtime(path)
    spans: list[tuple[int, int]] = []  # (first byte after the From_ line, end)
    with open(path, "rb") as f:
        pos, start, previous = 0, -1, b""
        for line in f:
            if line.startswith(b"From "):
                if start >= 0:
                    spans.append((start, _end(pos, previous)))
                start = pos + len(line)
            pos += len(line)
            previous = line
        if start >= 0:
            spans.append((start, _end(pos, previous)))
        for start, end in spans:
            f.seek(start)
            head = head_of(f.read(min(end - start, HEADER_PEEK)))
            yield Found(
                f"mbox:{path}#{start}", date_of(head, fallback), str(path), start, end - start
            )


def _end(pos: int, previous: bytes) -> int:
    """Where a message ends before `pos`: without the blank line that precedes it."""
    return pos - len(previous) if previous in (b"\n", b"\r\n") else pos
