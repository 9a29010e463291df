"""Pure computations for the SLA report: ISO week bucketing, percentiles, per-week rollups."""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from routing.sla import SlaCalendar, SlaMark, SlaState
from shared.events import SlaTarget

MIN_WEEKS = 1
MAX_WEEKS = 52
DEFAULT_WEEKS = 8


def week_start(moment: datetime) -> date:
    """The Monday (UTC) of the ISO week holding `moment`."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def window_start(now: datetime, weeks: int) -> date:
    """The Monday that opens a window of `weeks` ISO weeks ending with the current one."""
    if not MIN_WEEKS <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks must be {MIN_WEEKS}..{MAX_WEEKS}, got {weeks}")
    return week_start(now) - timedelta(weeks=weeks - 1)


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (the smallest value with at least pct % at or below it)."""
    if not 0 < pct <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {pct}")
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(pct / 100 * len(ordered))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float | None:
    """The middle value, or the mean of the two middle values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def percent(met: int, breached: int) -> float | None:
    """Share met of the decided (met or breached) targets, rounded to 0.1; None if none."""
    decided = met + breached
    return None if decided == 0 else round(100 * met / decided, 1)


@dataclass(frozen=True, slots=True)
class TargetOutcome:
    """One case's outcome for one target: met, breached, or still open (both False)."""

    met: bool
    breached: bool
    hours: float | None  # wall-clock hours from clock start to the mark, when met
    # Business hours the target's clock ran until the mark (its calendar; pauses excluded).
    business_hours: float | None = None


@dataclass(frozen=True, slots=True)
class CaseRow:
    """What the report needs of one case."""

    department: str
    started_at: datetime
    first_response: TargetOutcome
    resolution: TargetOutcome


@dataclass(frozen=True, slots=True)
class TargetStats:
    met: int
    breached: int
    percent_met: float | None
    median_hours: float | None
    p90_hours: float | None
    median_business_hours: float | None = None
    p90_business_hours: float | None = None


@dataclass(frozen=True, slots=True)
class WeekStats:
    week: date
    cases: int
    first_response: TargetStats
    resolution: TargetStats


def target_stats(outcomes: Sequence[TargetOutcome]) -> TargetStats:
    """Counts, % met and median/p90 hours of one target over a group of cases."""
    met = sum(o.met for o in outcomes)
    breached = sum(o.breached for o in outcomes)
    hours = [o.hours for o in outcomes if o.hours is not None]
    business = [o.business_hours for o in outcomes if o.business_hours is not None]
    return TargetStats(
        met,
        breached,
        percent(met, breached),
        median(hours),
        percentile(hours, 90),
        median(business),
        percentile(business, 90),
    )


def rollup(rows: Iterable[CaseRow], weeks: Sequence[date]) -> dict[str, list[WeekStats]]:
    """Per department, one WeekStats per week of `weeks` (empty weeks included)."""
    groups: dict[str, dict[date, list[CaseRow]]] = {}
    for row in rows:
        by_week = groups.setdefault(row.department, {w: [] for w in weeks})
        bucket = by_week.get(week_start(row.started_at))
        if bucket is not None:
            bucket.append(row)
    return {dept: [_week(w, by_week[w]) for w in weeks] for dept, by_week in sorted(groups.items())}


def _week(week: date, rows: Sequence[CaseRow]) -> WeekStats:
    return WeekStats(
        week,
        len(rows),
        target_stats([r.first_response for r in rows]),
        target_stats([r.resolution for r in rows]),
    )


def window_weeks(now: datetime, weeks: int) -> list[date]:
    """The Mondays of the window, oldest first."""
    first = window_start(now, weeks)
    return [first + timedelta(weeks=i) for i in range(weeks)]


def outcome(sla: SlaState, target: SlaTarget, calendar: SlaCalendar | None = None) -> TargetOutcome:
    """A target's outcome; hours are wall-clock from the first clock start to the mark, and
    business hours (with the case's `calendar`) those its clock ran until the mark."""
    mark: SlaMark = sla.mark(target)
    if mark.met_at is None:
        return TargetOutcome(met=False, breached=mark.breached, hours=None)
    hours = (mark.met_at - sla.runs[0].start).total_seconds() / 3600
    business = None if calendar is None else sla.used(target, calendar, mark.met_at) / 3600
    return TargetOutcome(
        met=not mark.breached, breached=mark.breached, hours=hours, business_hours=business
    )


def case_row(
    department: str, sla: SlaState | None, calendar: SlaCalendar | None = None
) -> CaseRow | None:
    """The report's view of one case; None when its clocks never started."""
    if sla is None or not sla.runs:
        return None
    return CaseRow(
        department,
        sla.runs[0].start,
        outcome(sla, "first_response", calendar),
        outcome(sla, "resolution", calendar),
    )


@dataclass(frozen=True, slots=True)
class DepartmentReport:
    department: str
    weeks: list[WeekStats]


@dataclass(frozen=True, slots=True)
class SlaReport:
    """Per department and ISO week (Monday, UTC): SLA targets met; `*_hours` are wall-clock,
    `*_business_hours` those the clocks ran on each case's business calendar."""

    since: date
    weeks: int
    departments: list[DepartmentReport]


def sla_report(rows: Iterable[CaseRow], weeks: Sequence[date]) -> SlaReport:
    """The report over `weeks` (oldest first) of the cases whose clocks started in them."""
    rolled = rollup(rows, weeks)
    return SlaReport(weeks[0], len(weeks), [DepartmentReport(d, w) for d, w in rolled.items()])
