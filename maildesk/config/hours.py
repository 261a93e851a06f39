"""The [business_hours] section: opening hours, the canton's holidays, their eves.

Validated on creation so that a calendar built from it can always produce a deadline; the
arithmetic itself lives in maildesk/desk/business_hours.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SECTION = "business_hours"
_SCALAR_KEYS = ("timezone", "holiday_country", "holiday_subdivision", "eve_closing")
ALLOWED_KEYS = (*_SCALAR_KEYS, *WEEKDAYS, "extra_closed_dates")
_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
# A year without a single opening interval means the configuration can never produce a deadline.
_MAX_CLOSED_STREAK = 366

Opening = tuple[str, str]


def _default_opening_hours() -> Mapping[str, tuple[Opening, ...]]:
    long_day = (("08:00", "12:00"), ("13:30", "18:00"))
    week = dict.fromkeys(WEEKDAYS[:4], long_day)
    week |= {"friday": (("08:00", "12:00"), ("13:30", "17:00")), "saturday": (), "sunday": ()}
    return MappingProxyType(week)


def _parse_hhmm(key: str, value: object) -> time:
    if not isinstance(value, str) or not _HHMM.fullmatch(value):
        raise ValueError(f"{SECTION}.{key}: {value!r} is not HH:MM (00:00 to 23:59)")
    return time(int(value[:2]), int(value[3:]))


def _parse_day(key: str, intervals: tuple[Opening, ...]) -> tuple[tuple[time, time], ...]:
    parsed: list[tuple[time, time]] = []
    for pair in intervals:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise ValueError(f'{SECTION}.{key}: {pair!r} is not a ["HH:MM", "HH:MM"] pair')
        start, end = _parse_hhmm(key, pair[0]), _parse_hhmm(key, pair[1])
        if start >= end:
            raise ValueError(f"{SECTION}.{key}: {pair[0]}-{pair[1]} ends before it starts")
        if parsed and start < parsed[-1][1]:
            raise ValueError(f"{SECTION}.{key}: intervals must be in order and not overlap")
        parsed.append((start, end))
    return tuple(parsed)


def _load_holidays(country: str, subdivision: str | None) -> holidays.HolidayBase:
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise ValueError(f"{SECTION}.holiday_country: {country!r} is not a supported country code")
    if subdivision is not None and subdivision not in supported[country]:
        allowed = ", ".join(supported[country]) or "none"
        raise ValueError(
            f"{SECTION}.holiday_subdivision: {subdivision!r} is not a subdivision of "
            f"{country}; allowed: {allowed}"
        )
    return holidays.country_holidays(country, subdiv=subdivision)


@dataclass(frozen=True)
class BusinessHoursConfig:
    """Opening hours; a weekday missing from `opening_hours` is closed. Validated on creation."""

    timezone: str = "Europe/Zurich"
    opening_hours: Mapping[str, tuple[Opening, ...]] = field(
        default_factory=_default_opening_hours, hash=False
    )
    holiday_country: str = "CH"
    holiday_subdivision: str | None = "BE"
    # On the day before a public holiday every interval is cut at this time; None disables it.
    eve_closing: str | None = "16:00"
    extra_closed_dates: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"{SECTION}.timezone: {self.timezone!r} is not an IANA zone") from None
        unknown = sorted(set(self.opening_hours) - set(WEEKDAYS))
        if unknown:
            raise ValueError(f"{SECTION}.{unknown[0]}: not a weekday; allowed: {WEEKDAYS}")
        # Freeze a caller's dict so the config stays immutable after validation.
        frozen = {day: tuple(map(tuple, pairs)) for day, pairs in self.opening_hours.items()}
        object.__setattr__(self, "opening_hours", MappingProxyType(frozen))
        parsed = [_parse_day(day, pairs) for day, pairs in frozen.items()]
        if not any(parsed):
            raise ValueError(f"{SECTION}: at least one weekday must have opening hours")
        if self.eve_closing is not None:
            _parse_hhmm("eve_closing", self.eve_closing)
        for value in self.extra_closed_dates:
            try:
                date.fromisoformat(value)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{SECTION}.extra_closed_dates: {value!r} is not an ISO date (YYYY-MM-DD)"
                ) from None
        _load_holidays(self.holiday_country, self.holiday_subdivision)


def _day_from_mapping(day: str, value: object) -> tuple[Opening, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError(f'{SECTION}.{day}: expected a list of "HH:MM-HH:MM", got {value!r}')
    pairs: list[Opening] = []
    for item in value:
        # TOML authors may write either "08:00-12:00" or ["08:00", "12:00"].
        pairs.append(tuple(item.split("-", 1)) if isinstance(item, str) else item)
    return tuple(pairs)


def _scalar_from_mapping(key: str, value: object) -> str | None:
    if key in ("eve_closing", "holiday_subdivision") and value is False:
        return None  # TOML has no null: `false` switches the rule off
    if not isinstance(value, str):
        raise ValueError(f"{SECTION}.{key}: expected a string, got {value!r}")
    return value


def from_mapping(d: Mapping[str, Any]) -> BusinessHoursConfig:
    """Build a config from a `[business_hours]` table; weekdays not given keep their defaults."""
    unknown = sorted(set(d) - set(ALLOWED_KEYS))
    if unknown:
        raise ValueError(f"{SECTION}.{unknown[0]}: unknown key; allowed: {', '.join(ALLOWED_KEYS)}")
    week = dict(_default_opening_hours())
    week |= {day: _day_from_mapping(day, d[day]) for day in WEEKDAYS if day in d}
    scalars = {key: _scalar_from_mapping(key, d[key]) for key in _SCALAR_KEYS if key in d}
    closed = d.get("extra_closed_dates", [])
    if not isinstance(closed, list | tuple):
        raise ValueError(f"{SECTION}.extra_closed_dates: expected a list of dates, got {closed!r}")
    # tomllib turns a bare TOML date into datetime.date; keep the ISO text either way.
    iso = tuple(v.isoformat() if type(v) is date else v for v in closed)
    return BusinessHoursConfig(opening_hours=week, extra_closed_dates=iso, **scalars)
