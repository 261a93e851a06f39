"""`[staff.people."address"]` (each consultant's language, digest, queues) and `[digest]`.

Separate readers so that `settings` stays a list of sections: each value is checked here
and a wrong one names its key and what is allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from maildesk.addresses import normalise_address
from maildesk.config.errors import ConfigError
from maildesk.config.values import LANGUAGES

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Person:
    """One consultant's preferences; a consultant without a table gets these defaults."""

    language: str = ""  # "": [templates] default_language
    digest: bool = True  # the morning digest
    queues: tuple[str, ...] = ()  # the queues whose unassigned tickets they see; (): all


@dataclass(frozen=True)
class DigestConfig:
    at: str = "08:00"  # local time ([business_hours] timezone), business days only
    send_empty: bool = False  # a digest with nothing to show is not sent

    @property
    def minutes(self) -> int:
        hours, minutes = self.at.split(":")
        return int(hours) * 60 + int(minutes)


def people_from(key: str, raw: Any) -> dict[str, Person]:
    if not isinstance(raw, dict):
        raise ConfigError(f"[{key}] must be a table of tables, one per consultant's address")
    people: dict[str, Person] = {}
    for address, values in raw.items():
        where = f'{key}."{address}"'
        normal = normalise_address(str(address))
        if not normal:
            raise ConfigError(f"{where}: not a valid mail address")
        if not isinstance(values, dict):
            raise ConfigError(f"[{where}] must be a table (language, digest, queues)")
        unknown = sorted(set(values) - {"language", "digest", "queues"})
        if unknown:
            raise ConfigError(
                f"{where}.{unknown[0]}: unknown key (allowed: language, digest, queues)"
            )
        language = values.get("language", "")
        if language and language not in LANGUAGES:
            raise ConfigError(
                f"{where}.language: {language!r} is not a supported language "
                f"({', '.join(LANGUAGES)})"
            )
        digest = values.get("digest", True)
        if not isinstance(digest, bool):
            raise ConfigError(f"{where}.digest: must be true or false, got {digest!r}")
        queues = values.get("queues", [])
        if not isinstance(queues, list) or not all(isinstance(q, str) for q in queues):
            raise ConfigError(f"{where}.queues: must be a list of queue names")
        people[normal] = Person(language, digest, tuple(queues))
    return people


def digest_from(raw: Any) -> DigestConfig:
    if not isinstance(raw, dict):
        raise ConfigError("[digest] must be a table")
    unknown = sorted(set(raw) - {"at", "send_empty"})
    if unknown:
        raise ConfigError(f"digest.{unknown[0]}: unknown key (allowed: at, send_empty)")
    at = raw.get("at", "08:00")
    if not isinstance(at, str) or not _HHMM.match(at):
        raise ConfigError(f'digest.at: {at!r} must be a time of day as "HH:MM", e.g. "08:00"')
    send_empty = raw.get("send_empty", False)
    if not isinstance(send_empty, bool):
        raise ConfigError(f"digest.send_empty: must be true or false, got {send_empty!r}")
    return DigestConfig(at, send_empty)
