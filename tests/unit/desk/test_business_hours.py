"""Business-hours calendar: opening intervals, Bern holidays and eves, DST, business time.

Week of reference (Europe/Zurich): Mon–Thu 08:00–12:00 + 13:30–18:00 (8.5 h),
Fri 08:00–12:00 + 13:30–17:00 (7.5 h), weekend closed: 41.5 business hours a week.
"""

import tomllib
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maildesk.config.hours import BusinessHoursConfig, from_mapping
from maildesk.desk.business_hours import BusinessCalendar

ZURICH = ZoneInfo("Europe/Zurich")
H = timedelta(hours=1)
M = timedelta(minutes=1)


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=ZURICH)


def wall_hours(calendar: BusinessCalendar, day: date) -> list[tuple[time, time]]:
    return [(s.time(), e.time()) for s, e in calendar.intervals_on(day)]


NORMAL = [(time(8), time(12)), (time(13, 30), time(18))]
FRIDAY = [(time(8), time(12)), (time(13, 30), time(17))]
EVE = [(time(8), time(12)), (time(13, 30), time(16))]


@pytest.fixture(scope="module")
def calendar() -> BusinessCalendar:
    return BusinessCalendar()


def test_regular_week(calendar):
    # 9–15 March 2026: no holiday in Bern.
    assert wall_hours(calendar, date(2026, 3, 9)) == NORMAL  # Monday
    assert wall_hours(calendar, date(2026, 3, 12)) == NORMAL  # Thursday
    assert wall_hours(calendar, date(2026, 3, 13)) == FRIDAY
    assert calendar.intervals_on(date(2026, 3, 14)) == []  # Saturday
    assert calendar.intervals_on(date(2026, 3, 15)) == []  # Sunday
    start, _ = calendar.intervals_on(date(2026, 3, 9))[0]
    assert start.tzinfo == ZURICH


def test_friday_afternoon_critical_ticket(calendar):
    friday = local(2026, 3, 6, 16, 30)
    # 1 h: 30 min left on Friday (16:30–17:00), 30 min on Monday from 08:00 -> 08:30.
    assert calendar.add_business_time(friday, H) == local(2026, 3, 9, 8, 30)
    # 4 h: 30 min on Friday, 3 h 30 on Monday morning 08:00 -> 11:30.
    assert calendar.add_business_time(friday, 4 * H) == local(2026, 3, 9, 11, 30)
    # Exactly the rest of Friday: due at closing, not on Monday.
    assert calendar.add_business_time(friday, 30 * M) == local(2026, 3, 6, 17)


def test_lunch_break(calendar):
    assert calendar.is_open(local(2026, 3, 9, 11, 59))
    assert not calendar.is_open(local(2026, 3, 9, 12))
    assert not calendar.is_open(local(2026, 3, 9, 13, 29))
    assert calendar.is_open(local(2026, 3, 9, 13, 30))
    assert not calendar.is_open(local(2026, 3, 9, 18))  # closing time is exclusive
    # 11:30 + 1 h: 30 min until 12:00, then 30 min from 13:30 -> 14:00.
    assert calendar.add_business_time(local(2026, 3, 9, 11, 30), H) == local(2026, 3, 9, 14)
    # 11:00 -> 14:00: 1 h before lunch + 30 min after = 1 h 30.
    assert calendar.business_time_between(local(2026, 3, 9, 11), local(2026, 3, 9, 14)) == 90 * M
    # A start during lunch waits for 13:30.
    assert calendar.add_business_time(local(2026, 3, 9, 12, 15), H) == local(2026, 3, 9, 14, 30)


def test_easter_2026(calendar):
    for closed in (date(2026, 4, 3), date(2026, 4, 6)):  # Good Friday, Easter Monday
        assert calendar.is_holiday(closed)
        assert calendar.holiday_name(closed)
        assert calendar.intervals_on(closed) == []
    # Thursday 2 April is the eve of Good Friday: closes at 16:00.
    assert wall_hours(calendar, date(2026, 4, 2)) == EVE
    assert not calendar.is_open(local(2026, 4, 2, 16, 30))
    # Thu 15:00 + 2 h: 1 h until 16:00, Fri–Mon closed, 1 h on Tuesday 7 April -> 09:00.
    assert calendar.add_business_time(local(2026, 4, 2, 15), 2 * H) == local(2026, 4, 7, 9)
    assert wall_hours(calendar, date(2026, 4, 7)) == NORMAL


def test_ascension_2026(calendar):
    assert calendar.is_holiday(date(2026, 5, 14))
    assert calendar.intervals_on(date(2026, 5, 14)) == []
    assert wall_hours(calendar, date(2026, 5, 13)) == EVE  # Wednesday, eve of Ascension
    assert wall_hours(calendar, date(2026, 5, 15)) == FRIDAY
    # Wed 15:30 + 1 h: 30 min until 16:00, Thursday closed, 30 min on Friday -> 08:30.
    assert calendar.add_business_time(local(2026, 5, 13, 15, 30), H) == local(2026, 5, 15, 8, 30)


def test_whit_monday_2026(calendar):
    assert calendar.is_holiday(date(2026, 5, 25))
    assert calendar.intervals_on(date(2026, 5, 25)) == []
    # The eve is Sunday 24 May, so Friday 22 May keeps its normal hours.
    assert wall_hours(calendar, date(2026, 5, 22)) == FRIDAY
    # Fri 16:00 + 2 h: 1 h on Friday, Sat–Mon closed, 1 h on Tuesday 26 May -> 09:00.
    assert calendar.add_business_time(local(2026, 5, 22, 16), 2 * H) == local(2026, 5, 26, 9)


def test_national_day(calendar):
    # 2025: 1 August is a Friday, closed; Thursday 31 July is its eve.
    assert calendar.intervals_on(date(2025, 8, 1)) == []
    assert wall_hours(calendar, date(2025, 7, 31)) == EVE
    # 2026: 1 August is a Saturday; Friday 31 July is its eve, so 16:00 instead of 17:00.
    assert calendar.is_holiday(date(2026, 8, 1))
    assert wall_hours(calendar, date(2026, 7, 31)) == EVE


def test_christmas(calendar):
    assert wall_hours(calendar, date(2026, 12, 24)) == EVE  # Thursday
    assert calendar.intervals_on(date(2026, 12, 25)) == []  # Friday
    assert calendar.is_holiday(date(2026, 12, 26))
    # 2025: St Stephen's Day falls on a Friday and is closed as a holiday, not as a weekend.
    assert calendar.is_holiday(date(2025, 12, 26))
    assert calendar.intervals_on(date(2025, 12, 26)) == []
    # Thu 24 Dec 2026 15:00 + 2 h: 1 h until 16:00, 1 h on Monday 28 Dec -> 09:00.
    assert calendar.add_business_time(local(2026, 12, 24, 15), 2 * H) == local(2026, 12, 28, 9)


def test_berchtoldstag_is_a_bern_holiday(calendar):
    assert calendar.is_holiday(date(2026, 1, 2))
    assert "Berchtold" in calendar.holiday_name(date(2026, 1, 2))
    assert calendar.intervals_on(date(2026, 1, 2)) == []
    assert wall_hours(calendar, date(2025, 12, 31)) == EVE  # eve of New Year's Day
    assert calendar.holiday_name(date(2026, 1, 5)) is None
    geneva = BusinessCalendar(BusinessHoursConfig(holiday_subdivision="GE"))
    assert not geneva.is_holiday(date(2026, 1, 2))
    assert wall_hours(geneva, date(2026, 1, 2)) == FRIDAY


def test_spring_dst_change(calendar):
    # Clocks go forward on Sunday 29 March 2026 (CET +01:00 -> CEST +02:00).
    friday, monday = date(2026, 3, 27), date(2026, 3, 30)
    assert calendar.intervals_on(friday)[0][0].utcoffset() == H
    assert calendar.intervals_on(monday)[0][0].utcoffset() == 2 * H
    # Fri 16:30 + 1 h -> Mon 08:30 local, whatever the offset.
    assert calendar.add_business_time(local(2026, 3, 27, 16, 30), H) == local(2026, 3, 30, 8, 30)
    # Fri 16:00 -> Mon 09:00: 1 h + 1 h; the lost night hour is not business time.
    assert calendar.business_time_between(local(2026, 3, 27, 16), local(2026, 3, 30, 9)) == 2 * H
    # Monday 06:30Z is 08:30 CEST: open, 30 min after opening.
    utc_input = datetime(2026, 3, 30, 6, 30, tzinfo=UTC)
    assert calendar.is_open(utc_input)
    assert calendar.business_time_between(local(2026, 3, 30, 8), utc_input) == 30 * M
    assert calendar.add_business_time(utc_input, timedelta(0)) == local(2026, 3, 30, 8, 30)
    # The week before, 06:30Z was 07:30 CET: still closed.
    assert not calendar.is_open(datetime(2026, 3, 23, 6, 30, tzinfo=UTC))


def test_autumn_dst_change(calendar):
    # Clocks go back on Sunday 25 October 2026 (CEST +02:00 -> CET +01:00).
    assert calendar.add_business_time(local(2026, 10, 23, 16, 30), H) == local(2026, 10, 26, 8, 30)
    assert calendar.business_time_between(local(2026, 10, 23, 16), local(2026, 10, 26, 9)) == 2 * H
    assert not calendar.is_open(datetime(2026, 10, 26, 6, 30, tzinfo=UTC))  # 07:30 CET
    assert calendar.is_open(datetime(2026, 10, 26, 7, 30, tzinfo=UTC))  # 08:30 CET


def test_two_hundred_business_hours(calendar):
    # From Mon 5 Jan 2026 08:00 (no Bern holiday until Easter): 4 full weeks are
    # 4 x 41.5 = 166 h, the remaining 34 h are Mon–Thu 2–5 Feb (4 x 8.5) -> Thu 5 Feb 18:00.
    start = local(2026, 1, 5, 8)
    deadline = calendar.add_business_time(start, 200 * H)
    assert deadline == local(2026, 2, 5, 18)
    assert calendar.business_time_between(start, deadline) == 200 * H
    assert calendar.business_time_between(deadline, start) == -200 * H


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2025, 1, 1),
        max_value=datetime(2027, 12, 31),
        timezones=st.sampled_from([UTC, ZURICH, ZoneInfo("America/New_York")]),
    ),
    duration=st.timedeltas(min_value=timedelta(0), max_value=200 * H),
)
def test_between_is_the_inverse_of_add(start, duration):
    calendar = BusinessCalendar()
    deadline = calendar.add_business_time(start, duration)
    assert deadline >= start
    assert deadline.tzinfo == ZURICH
    assert calendar.business_time_between(start, deadline) == duration
    if duration:
        # The last microsecond before a deadline is always open time.
        assert calendar.is_open(deadline - timedelta(microseconds=1))


def test_naive_datetimes_are_refused(calendar):
    naive = datetime(2026, 3, 9, 9)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.is_open(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.add_business_time(naive, H)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.business_time_between(local(2026, 3, 9, 9), naive)


def test_negative_duration_is_refused(calendar):
    with pytest.raises(ValueError, match="negative"):
        calendar.add_business_time(local(2026, 3, 9, 9), -H)


def test_config_from_toml():
    text = """
    [business_hours]
    friday = ["08:00-12:00"]
    saturday = [["09:00", "11:00"]]
    eve_closing = false
    extra_closed_dates = [2026-12-31, "2026-12-30"]
    """
    config = from_mapping(tomllib.loads(text)["business_hours"])
    assert config.opening_hours["friday"] == (("08:00", "12:00"),)
    assert config.opening_hours["monday"] == (("08:00", "12:00"), ("13:30", "18:00"))
    calendar = BusinessCalendar(config)
    assert wall_hours(calendar, date(2026, 3, 13)) == [(time(8), time(12))]
    assert wall_hours(calendar, date(2026, 3, 14)) == [(time(9), time(11))]
    assert wall_hours(calendar, date(2026, 12, 24)) == NORMAL  # no eve rule any more
    assert calendar.intervals_on(date(2026, 12, 30)) == []
    assert calendar.intervals_on(date(2026, 12, 31)) == []
    assert not calendar.is_holiday(date(2026, 12, 31))  # closed, but not a public holiday
    assert from_mapping({}) == BusinessHoursConfig()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"friday": ["08:00-12:00", "13:30-25:00"]}, "business_hours.friday: '25:00' is not HH:MM"),
        ({"monday": [["9:00", "12:00"]]}, "business_hours.monday: '9:00' is not HH:MM"),
        ({"monday": ["12:00-08:00"]}, "business_hours.monday: .*ends before it starts"),
        ({"monday": ["08:00-12:00", "11:00-14:00"]}, "business_hours.monday: .*overlap"),
        ({"tuesday": "08:00-12:00"}, "business_hours.tuesday: expected a list"),
        ({"satruday": []}, "business_hours.satruday: unknown key; allowed: .*saturday"),
        ({"timezone": "Mars/Olympus"}, "business_hours.timezone: 'Mars/Olympus'"),
        ({"holiday_country": "XX"}, "business_hours.holiday_country: 'XX'"),
        ({"holiday_subdivision": "BX"}, "business_hours.holiday_subdivision: 'BX'.*BE"),
        ({"eve_closing": "4pm"}, "business_hours.eve_closing: '4pm' is not HH:MM"),
        ({"eve_closing": 16}, "business_hours.eve_closing: expected a string"),
        ({"extra_closed_dates": ["2026-13-01"]}, "business_hours.extra_closed_dates: '2026-13-01'"),
        (
            {day: [] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")},
            "at least one weekday",
        ),
    ],
)
def test_config_errors_name_the_key(table, message):
    with pytest.raises(ValueError, match=message):
        from_mapping(table)


def test_config_is_frozen_against_later_changes():
    hours = {"monday": [("08:00", "12:00")]}
    config = BusinessHoursConfig(opening_hours=hours)
    hours["monday"].append(("13:00", "14:00"))
    assert config.opening_hours["monday"] == (("08:00", "12:00"),)
    with pytest.raises(ValueError, match=r"business_hours\.funday: not a weekday"):
        BusinessHoursConfig(opening_hours={"funday": ()})
