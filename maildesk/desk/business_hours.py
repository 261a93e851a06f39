"""Business-hours calendar of Customer Services: weekly opening intervals, public holidays of
the configured canton and their eves, and arithmetic in business time (deadlines, elapsed time).
It only computes: it never reads the clock, a configuration file or the database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from maildesk.config.hours import (
    _MAX_CLOSED_STREAK,
    WEEKDAYS,
    BusinessHoursConfig,
    _load_holidays,
    _parse_day,
    _parse_hhmm,
)


def _aware(value: datetime, name: str) -> datetime:
    """Return `value` in UTC: subtracting aware datetimes that share a tzinfo ignores DST."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


class BusinessCalendar:
    """Answers "is the desk open" and does deadline arithmetic in business time."""

    def __init__(self, config: BusinessHoursConfig | None = None) -> None:
        self.config = config or BusinessHoursConfig()
        self.zone = ZoneInfo(self.config.timezone)
        self._holidays = _load_holidays(
            self.config.holiday_country, self.config.holiday_subdivision
        )
        hours = self.config.opening_hours
        self._week = [_parse_day(day, hours.get(day, ())) for day in WEEKDAYS]
        eve = self.config.eve_closing
        self._eve = None if eve is None else _parse_hhmm("eve_closing", eve)
        self._closed = frozenset(date.fromisoformat(d) for d in self.config.extra_closed_dates)

    def is_holiday(self, day: date) -> bool:
        """Public holiday only; `extra_closed_dates` are closed but trigger no eve rule."""
        return day in self._holidays

    def holiday_name(self, day: date) -> str | None:
        return self._holidays.get(day)

    def _opening_times(self, day: date) -> tuple[tuple[time, time], ...]:
        if day in self._closed or self.is_holiday(day):
            return ()
        times = self._week[day.weekday()]
        if self._eve is not None and self.is_holiday(day + timedelta(days=1)):
            times = tuple((s, min(e, self._eve)) for s, e in times if s < self._eve)
        return times

    def _utc_intervals(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        # Wall-clock times are placed on their own local date, so each day gets its own offset.
        for start, end in self._opening_times(day):
            s = datetime.combine(day, start, tzinfo=self.zone).astimezone(UTC)
            e = datetime.combine(day, end, tzinfo=self.zone).astimezone(UTC)
            if s < e:
                yield s, e

    def intervals_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """Opening intervals of a local date, as aware datetimes in the calendar's zone."""
        return [
            (s.astimezone(self.zone), e.astimezone(self.zone)) for s, e in self._utc_intervals(day)
        ]

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def is_open(self, at: datetime) -> bool:
        moment = _aware(at, "at")
        return any(s <= moment < e for s, e in self._utc_intervals(self._local_date(moment)))

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """Deadline reached after `duration` of open time; a zero duration returns `start`."""
        current = _aware(start, "start")
        if duration < timedelta(0):
            raise ValueError(f"duration must not be negative, got {duration}")
        remaining, day, closed_streak = duration, self._local_date(current), 0
        while remaining:
            closed_streak += 1
            for s, e in self._utc_intervals(day):
                closed_streak = 0
                begin = max(current, s)
                if begin >= e:
                    continue
                if remaining <= e - begin:
                    return (begin + remaining).astimezone(self.zone)
                remaining -= e - begin
            if closed_streak > _MAX_CLOSED_STREAK:
                raise ValueError(f"no opening hours in the year before {day}")
            day += timedelta(days=1)
        return current.astimezone(self.zone)

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Open time from `a` to `b`; negative when `b` is before `a`."""
        first, last = _aware(a, "a"), _aware(b, "b")
        if last < first:
            return -self.business_time_between(b, a)
        total, day, last_day = timedelta(0), self._local_date(first), self._local_date(last)
        while day <= last_day:
            for s, e in self._utc_intervals(day):
                overlap = min(e, last) - max(s, first)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total
