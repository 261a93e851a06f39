"""Changes a staff member makes by hand (`maildesk tickets set`), applied like any other.

Each change is validated first, then written by `apply` helpers in one transaction with
an event naming who did it and why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine, select

from maildesk.clock import utc
from maildesk.config import Config
from maildesk.config.quality import QualityConfig
from maildesk.desk import status as st
from maildesk.desk.effects import MarkFirstResponse, UpdateDetails
from maildesk.desk.lifecycle import Change, plan
from maildesk.store.history import SYSTEM, record_event
from maildesk.store.models import ticket_details, tickets
from maildesk.store.outbox import Notifier
from maildesk.store.sql_view import SqlView
from maildesk.store.writer import apply_effects, update_details


class DeskParts(Protocol):
    """What a change ordered from the command line uses (`Services` has these, and more)."""

    engine: Engine
    config: Config
    notifier: Notifier


FIELD_NAMES = ("version", "company", "contact", "phone", "error_message", "screenshots", "steps")


class ChangeRefused(ValueError):
    """A change that is not allowed, worded for the person who asked for it."""


def parse_field(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    name, value = name.strip().lower(), " ".join(value.split())
    if not sep or name not in FIELD_NAMES:
        raise ChangeRefused(
            f"--field {text!r}: expected NAME=VALUE with NAME one of {', '.join(FIELD_NAMES)}"
        )
    if not value or len(value) > 200:
        raise ChangeRefused(f"--field {name}: the value must be 1-200 characters")
    return name, value


def set_fields(
    engine: Engine,
    config: Config,
    key: str,
    values: dict[str, str],
    actor: str | None,
    reason: str,
    now: datetime,
) -> tuple[str, ...]:
    """Set fields by hand; return what is still missing."""
    now = utc(now)
    with engine.begin() as conn:
        row = conn.execute(
            select(tickets.c.id, ticket_details.c.fields, ticket_details.c.missing_fields)
            .join(ticket_details, ticket_details.c.ticket_id == tickets.c.id)
            .where(tickets.c.key == key)
        ).first()
        if row is None:
            raise ChangeRefused(f"no ticket {key}")
        fields = dict(row.fields) | values
        still = _still_missing(fields, tuple(row.missing_fields), config.quality)
        update_details(conn, row.id, UpdateDetails(key, tuple(fields.items()), still))
        for name, value in values.items():
            record_event(
                conn,
                row.id,
                now,
                actor or SYSTEM,
                "field-set",
                reason or "",
                None,
                f"{name}={value}",
            )
    return still


def _still_missing(
    fields: dict[str, str], missing: tuple[str, ...], quality: QualityConfig
) -> tuple[str, ...]:
    wanted = dict.fromkeys((*missing, *quality.required_fields))
    return tuple(k for k in wanted if not fields.get(k) or fields.get(k) == "no")


def change(
    services: DeskParts, key: str, wanted: Change, actor: str | None, now: datetime
) -> tuple[str, ...]:
    """Apply a status/criticality/type/assignee change; return the kinds of effects written."""
    now = utc(now)
    with services.engine.begin() as conn:
        ticket = SqlView(conn).ticket_by_key(key)
        if ticket is None:
            raise ChangeRefused(f"no ticket {key}")
        try:
            effects = plan(ticket, wanted, actor or SYSTEM)
        except ValueError as exc:  # TransitionRefused is a ValueError too
            raise ChangeRefused(str(exc)) from None
        if wanted.status in (st.WAITING_CUSTOMER, st.CLOSED) and actor in staff_of(services):
            effects = (*effects, MarkFirstResponse(key))
        apply_effects(conn, effects, now, services.notifier, f"set:{key}:{now.isoformat()}")
    return tuple(type(e).__name__ for e in effects)


def staff_of(services: DeskParts) -> frozenset[str]:
    return frozenset(services.config.staff.addresses)
