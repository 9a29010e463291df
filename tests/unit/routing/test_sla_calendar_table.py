"""The SLA calendar's table of working hours gives what a walk over the days gives."""

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from routing.sla import CalendarSpec, SlaCalendar, calendar_of

MICROSECOND = timedelta(microseconds=1)


def windows(calendar: SlaCalendar, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Working hours in UTC from the local day of `start` on, one day after another."""
    zone = ZoneInfo(calendar.time_zone)
    day = start.astimezone(zone).date()
    for offset in range(3_660):
        current = day + timedelta(days=offset)
        if calendar.is_working_day(current):
            opened = datetime.combine(current, calendar.opens, tzinfo=zone).astimezone(UTC)
            closed = datetime.combine(current, calendar.closes, tzinfo=zone).astimezone(UTC)
            yield opened, closed


def walked_seconds(calendar: SlaCalendar, start: datetime, end: datetime) -> float:
    """Business seconds from `start` to `end`, summed window by window."""
    total = 0.0
    for opened, closed in windows(calendar, start):
        if opened >= end:
            break
        total += max(0.0, (min(closed, end) - max(opened, start)).total_seconds())
    return total


def walked_add(calendar: SlaCalendar, start: datetime, seconds: float) -> datetime:
    """The moment `seconds` business seconds after `start`, spent window by window."""
    left = seconds
    for opened, closed in windows(calendar, start):
        begin = max(opened, start)
        if begin >= closed:
            continue
        available = (closed - begin).total_seconds()
        if left <= available:
            return begin + timedelta(seconds=left)
        left -= available
    raise AssertionError("no working hours")


CALENDARS = {
    "US holidays, Chicago": calendar_of(CalendarSpec(), "America/Chicago", False),
    "9 to 17, Labor Day off, Chicago": calendar_of(
        CalendarSpec(opens=time(9), holiday_country=None, extra_holidays=(date(2026, 9, 7),)),
        "America/Chicago",
        False,
    ),
    # Opens inside the night the clocks go forward and back.
    "1:30 to 3:00 daily, New York": calendar_of(
        CalendarSpec(
            opens=time(1, 30),
            closes=time(3),
            days=("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
            holiday_country=None,
        ),
        "America/New_York",
        False,
    ),
    "Sunday to Thursday, Jerusalem": calendar_of(
        CalendarSpec(days=("Sun", "Mon", "Tue", "Wed", "Thu"), holiday_country="IL"),
        "Asia/Jerusalem",
        False,
    ),
}


def moments(seed: int, count: int) -> list[datetime]:
    """Moments spread over 2026 and 2027, on whole seconds and not."""
    rng = random.Random(seed)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    found = []
    for n in range(count):
        moment = base + timedelta(seconds=rng.randrange(0, 2 * 365 * 86_400))
        if n % 2:
            moment += timedelta(microseconds=rng.randrange(1_000_000))
        found.append(moment)
    return found


@pytest.mark.parametrize("name", CALENDARS)
def test_adding_business_seconds_matches_the_walk(name: str) -> None:
    """From any moment, any budget (none, a few seconds, hours, weeks) lands where the walk
    lands, to the microsecond."""
    calendar = CALENDARS[name]
    rng = random.Random(name)
    for start in moments(19, 300):
        for seconds in (0.0, 1.5, 3_600 * rng.random() * 40, rng.choice((14_400.0, 97_200.0))):
            expected = walked_add(calendar, start, seconds)
            got = calendar.add(start, seconds)
            assert abs(got - expected) <= MICROSECOND, (start, seconds)
            if start.microsecond == 0 and seconds == int(seconds):
                assert got == expected


@pytest.mark.parametrize("name", CALENDARS)
def test_business_seconds_between_match_the_walk(name: str) -> None:
    """Between any two moments, earlier ones asked after later ones, the table counts what
    the walk counts."""
    calendar = CALENDARS[name]
    starts = moments(20, 200)
    for start, end in zip(starts, [*starts[1:], starts[0]], strict=True):
        expected = walked_seconds(calendar, start, end) if end > start else 0.0
        assert calendar.seconds_between(start, end) == pytest.approx(expected, abs=1e-6)


def test_a_start_inside_open_hours_keeps_its_time_zone() -> None:
    """Adding within the window open at the start is plain addition."""
    calendar = CALENDARS["US holidays, Chicago"]
    start = datetime(2026, 9, 8, 9, 15, tzinfo=ZoneInfo("America/Chicago"))
    assert calendar.add(start, 600) == start + timedelta(minutes=10)
    assert calendar.add(start, 600).tzinfo is start.tzinfo
