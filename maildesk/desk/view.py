"""The read-only questions the pipeline asks about tickets, behind a small protocol.

The pipeline's steps stay pure: they receive a `View`, never a session.
`maildesk.store.sql_view.SqlView` answers from the database; unit tests pass an in-memory one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class TicketRef:
    id: int
    key: str
    queue: str
    status: str
    requester: str
    participants: frozenset[str]
    language: str = "fr"
    fields: tuple[tuple[str, str], ...] = ()
    missing_fields: tuple[str, ...] = ()
    criticality: str = "medium"
    request_type: str = "assistance"
    requester_name: str = ""
    assignee: str | None = None


class View(Protocol):
    def ticket_by_key(self, key: str) -> TicketRef | None: ...
    def ticket_by_message_ids(self, ids: tuple[str, ...]) -> TicketRef | None: ...
    def ticket_of_duplicate(self, dedup_key: str) -> str | None: ...
    def automatic_count_since(self, recipient: str, since: datetime) -> int: ...
    def tickets_opened_since(self, requester: str, since: datetime) -> int: ...
    def latest_open_ticket_since(self, requester: str, since: datetime) -> TicketRef | None: ...
    def notification(self, message_id: str) -> tuple[str, str | None] | None: ...
    def last_notification_to(self, recipient: str) -> str | None: ...
    def recipient_of(self, message_id: str) -> str | None: ...
    def message_id_known(self, message_id: str) -> bool: ...
    def requester_language(self, requester: str) -> tuple[str, bool] | None: ...
