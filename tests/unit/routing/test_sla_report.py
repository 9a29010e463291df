"""The SLA report's pure computations, checked against hand-computed numbers."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from routing.report import (
    CaseRow,
    TargetOutcome,
    case_row,
    median,
    percent,
    percentile,
    rollup,
    sla_report,
    week_start,
    window_weeks,
)
from routing.sla import CalendarSpec, SlaMark, SlaRun, SlaState, calendar_of

MET = TargetOutcome(met=True, breached=False, hours=2.0)
BREACHED = TargetOutcome(met=False, breached=True, hours=None)
OPEN = TargetOutcome(met=False, breached=False, hours=None)


def test_p90_of_one_to_ten_is_nine() -> None:
    assert percentile([float(n) for n in range(10, 0, -1)], 90) == 9.0


def test_p90_of_eleven_values_is_the_tenth() -> None:
    # ceil(0.9 * 11) = 10: the tenth smallest
    assert percentile([float(n) for n in range(1, 12)], 90) == 10.0


def test_percentile_of_nothing_is_none() -> None:
    assert percentile([], 90) is None


def test_percentile_rejects_zero() -> None:
    with pytest.raises(ValueError, match="percentile must be"):
        percentile([1.0], 0)


def test_median_odd_and_even() -> None:
    assert median([5.0, 1.0, 3.0]) == 3.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert median([]) is None


def test_percent_met_of_decided_only() -> None:
    assert percent(2, 1) == 66.7
    assert percent(0, 0) is None


def test_week_start_is_the_iso_monday() -> None:
    # 2026-01-01 is a Thursday of ISO week 2026-W01, which starts Monday 2025-12-29
    assert week_start(datetime(2026, 1, 1, 12, tzinfo=UTC)) == date(2025, 12, 29)
    assert week_start(datetime(2026, 1, 4, 23, 59, tzinfo=UTC)) == date(2025, 12, 29)
    assert week_start(datetime(2026, 1, 5, 0, 0, tzinfo=UTC)) == date(2026, 1, 5)


def test_window_weeks_ends_with_the_current_week() -> None:
    now = datetime(2026, 12, 3, 11, tzinfo=UTC)  # a Thursday
    assert window_weeks(now, 3) == [date(2026, 11, 16), date(2026, 11, 23), date(2026, 11, 30)]


@pytest.mark.parametrize("weeks", [0, 53])
def test_window_weeks_bounds(weeks: int) -> None:
    with pytest.raises(ValueError, match="weeks must be"):
        window_weeks(datetime(2026, 12, 3, tzinfo=UTC), weeks)


def test_rollup_counts_per_department_and_week() -> None:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    weeks = window_weeks(now, 2)  # 2026-11-23, 2026-11-30
    rows = [
        CaseRow("billing", datetime(2026, 12, 1, tzinfo=UTC), MET, OPEN),
        CaseRow(
            "billing",
            datetime(2026, 12, 2, tzinfo=UTC),
            TargetOutcome(True, False, 4.0),
            BREACHED,
        ),
        CaseRow("billing", datetime(2026, 12, 2, tzinfo=UTC), BREACHED, OPEN),
        CaseRow("billing", datetime(2026, 11, 1, tzinfo=UTC), MET, MET),  # outside window
        CaseRow("tech", datetime(2026, 11, 24, tzinfo=UTC), MET, MET),
    ]
    report = rollup(rows, weeks)
    assert list(report) == ["billing", "tech"]
    empty, current = report["billing"]
    assert (empty.week, empty.cases, empty.first_response.percent_met) == (weeks[0], 0, None)
    assert current.cases == 3
    assert (current.first_response.met, current.first_response.breached) == (2, 1)
    assert current.first_response.percent_met == 66.7
    assert current.first_response.median_hours == 3.0
    assert current.first_response.p90_hours == 4.0
    assert (current.resolution.met, current.resolution.breached) == (0, 1)
    assert current.resolution.percent_met == 0.0
    assert report["tech"][0].resolution.percent_met == 100.0


def test_case_row_wall_clock_hours_from_first_start() -> None:
    start = datetime(2026, 11, 30, 9, tzinfo=UTC)
    sla = SlaState(
        runs=[SlaRun(start=start, end=datetime(2026, 11, 30, 10, tzinfo=UTC))],
        first_response=SlaMark(met_at=datetime(2026, 11, 30, 10, 30, tzinfo=UTC)),
        resolution=SlaMark(met_at=datetime(2026, 12, 2, 9, tzinfo=UTC), breached=True),
    )
    row = case_row("Training", sla)
    assert row is not None
    assert row.started_at == start
    assert row.first_response == TargetOutcome(met=True, breached=False, hours=1.5)
    # met late counts as breached, with its time (48 h) still measured
    assert row.resolution == TargetOutcome(met=False, breached=True, hours=48.0)


def test_case_row_without_clocks_is_none() -> None:
    assert case_row("Training", None) is None
    assert case_row("Training", SlaState()) is None


CHICAGO = ZoneInfo("America/Chicago")
# A hand-written calendar: 9:00 to 17:00 Monday to Friday in Chicago, Labor Day 2026 off.
NINE_TO_FIVE = calendar_of(
    CalendarSpec(opens=time(9), holiday_country=None, extra_holidays=(date(2026, 9, 7),)),
    "America/Chicago",
    around_the_clock=False,
)


def chicago(day: int, hour: int) -> datetime:
    """A moment of September 2026 in Chicago."""
    return datetime(2026, 9, day, hour, tzinfo=CHICAGO)


def _answered_tuesday() -> SlaState:
    """Submitted Friday 16:30, answered Tuesday 10:00, waiting on the customer from Tuesday
    11:00 to Wednesday 14:00, closed Thursday 10:00."""
    submitted = datetime(2026, 9, 4, 16, 30, tzinfo=CHICAGO)
    return SlaState(
        runs=[
            SlaRun(start=submitted, end=chicago(8, 11)),
            SlaRun(start=chicago(9, 14), end=chicago(10, 10)),
        ],
        first_response=SlaMark(met_at=chicago(8, 10)),
        resolution=SlaMark(met_at=chicago(10, 10)),
    )


def test_business_hours_skip_the_weekend_the_holiday_and_the_pause() -> None:
    """First response: half an hour Friday and one Tuesday (Monday is Labor Day), 1.5
    business hours against 89.5 wall-clock; resolution: 0.5 + 2 Tuesday + 3 Wednesday
    after the pause + 1 Thursday."""
    row = case_row("Campus Support", _answered_tuesday(), NINE_TO_FIVE)
    assert row is not None
    assert row.first_response == TargetOutcome(
        met=True, breached=False, hours=89.5, business_hours=1.5
    )
    assert row.resolution.hours == 137.5
    assert row.resolution.business_hours == 6.5


def test_the_report_gives_median_and_p90_business_hours() -> None:
    """Two cases of one week, answered after 1.5 and 0.5 business hours: median 1.0, p90
    (nearest rank) 1.5; the wall-clock figures stay beside them."""
    quick = SlaState(
        runs=[SlaRun(start=chicago(3, 9))],
        first_response=SlaMark(met_at=datetime(2026, 9, 3, 9, 30, tzinfo=CHICAGO)),
    )
    rows = [case_row("Campus Support", s, NINE_TO_FIVE) for s in (_answered_tuesday(), quick)]
    report = sla_report([r for r in rows if r is not None], [date(2026, 8, 31)])
    [week] = report.departments[0].weeks
    assert week.cases == 2
    first = week.first_response
    assert (first.median_business_hours, first.p90_business_hours) == (1.0, 1.5)
    assert (first.median_hours, first.p90_hours) == (45.0, 89.5)
    assert (week.resolution.median_business_hours, week.resolution.p90_business_hours) == (
        6.5,
        6.5,
    )


def test_without_a_calendar_there_are_no_business_hours() -> None:
    """With the clocks off the report has wall-clock hours only."""
    row = case_row("Campus Support", _answered_tuesday())
    assert row is not None
    assert row.first_response.business_hours is None
    assert row.first_response.hours == 89.5
