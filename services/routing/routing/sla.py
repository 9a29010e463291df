"""Service-level clocks: targets per priority, district business hours, and what falls due."""

from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import holidays
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.enums import CaseType, Priority, Status
from shared.events import SlaTarget

TARGETS: tuple[SlaTarget, ...] = ("first_response", "resolution")
WARN_PERCENT = 75
# Waiting on the customer or a date, or with development (which works to release plans
# support cannot promise): the clocks stand still.
PAUSED = frozenset(
    {
        Status.PENDING_CUSTOMER_INPUT,
        Status.PENDING_CUSTOMER_VERIFICATION,
        Status.SCHEDULED,
        Status.ASSIGNED_TO_DEVELOPMENT,
    }
)
Weekday = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
WEEKDAYS: tuple[Weekday, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MAX_DAYS = 3_660  # a calendar open less than once in ten years is a configuration error


# --- the targets file ----------------------------------------------------------------------


class Duration(BaseModel):
    """A target's time: business hours, or business days of the calendar's working day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hours: float | None = Field(None, gt=0)
    business_days: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_unit(self) -> "Duration":
        if (self.hours is None) == (self.business_days is None):
            raise ValueError("give exactly one of hours or business_days")
        return self


class TargetSpec(BaseModel):
    """First response and resolution targets of one priority; `around_the_clock` ignores the
    business calendar (every hour of every day counts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first_response: Duration
    resolution: Duration
    around_the_clock: bool = False


class CalendarSpec(BaseModel):
    """Business hours and holidays of a district (local time of its time zone)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    opens: time = time(8)
    closes: time = time(17)
    days: tuple[Weekday, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri")
    holiday_country: str | None = "US"
    holiday_subdivision: str | None = None
    extra_holidays: tuple[date, ...] = ()

    @model_validator(mode="after")
    def _open_some_time(self) -> "CalendarSpec":
        if self.closes <= self.opens:
            raise ValueError("closes must be later than opens")
        if not self.days:
            raise ValueError("days: name at least one working day")
        return self


class SlaFile(BaseModel):
    """The SLA file: targets per priority (optionally per case type), the default business
    calendar and per-district calendars by account id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    targets: dict[Priority, TargetSpec]
    case_types: dict[CaseType, dict[Priority, TargetSpec]] = Field(default_factory=dict)
    calendar: CalendarSpec = CalendarSpec()
    districts: dict[str, CalendarSpec] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _every_priority(self) -> "SlaFile":
        missing = [p.value for p in Priority if p not in self.targets]
        if missing:
            raise ValueError(f"targets: add {', '.join(missing)}")
        return self


# --- business time -------------------------------------------------------------------------


@dataclass(frozen=True)
class SlaCalendar:
    """When the clock runs: working days' hours in a time zone, minus holidays; or always."""

    time_zone: str
    opens: time = time(8)
    closes: time = time(17)
    days: frozenset[int] = frozenset(range(5))
    holidays: Container[date] = field(default_factory=frozenset)
    around_the_clock: bool = False
    _days: dict[date, tuple[datetime, datetime] | None] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def day_seconds(self) -> float:
        """The length of a working day."""
        if self.around_the_clock:
            return 86_400.0
        start, end = (datetime.combine(date.min, t) for t in (self.opens, self.closes))
        return (end - start).total_seconds()

    def is_working_day(self, day: date) -> bool:
        """A listed weekday that is not a holiday."""
        return day.weekday() in self.days and day not in self.holidays

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Business seconds from `start` to `end` (0 when `end` is not later)."""
        if end <= start:
            return 0.0
        if self.around_the_clock:
            return (end - start).total_seconds()
        total = 0.0
        for opened, closed in self._windows(start):
            if opened >= end:
                break
            total += max(0.0, (min(closed, end) - max(opened, start)).total_seconds())
        return total

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment `seconds` business seconds after `start`."""
        if self.around_the_clock:
            return start + timedelta(seconds=seconds)
        left = max(0.0, seconds)
        for opened, closed in self._windows(start):
            begin = max(opened, start)
            if begin >= closed:
                continue
            available = (closed - begin).total_seconds()
            if left <= available:
                return begin + timedelta(seconds=left)
            left -= available
        raise ValueError("the business calendar has no working hours")

    def _windows(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working hours as UTC intervals, from the local day of `start` on."""
        day = start.astimezone(self._zone()).date()
        for offset in range(_MAX_DAYS):
            window = self._window(day + timedelta(days=offset))
            if window is not None:
                yield window

    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)  # ZoneInfo caches its instances

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's working hours in UTC (None: not a working day); computed once per day,
        since every decision on a case asks for the same days again."""
        if day in self._days:
            return self._days[day]
        window = None
        if self.is_working_day(day):
            zone = self._zone()
            opened = datetime.combine(day, self.opens, tzinfo=zone).astimezone(UTC)
            window = (opened, datetime.combine(day, self.closes, tzinfo=zone).astimezone(UTC))
        if len(self._days) > _MAX_DAYS:
            self._days.clear()
        self._days[day] = window
        return window


@cache
def _holidays(country: str, subdivision: str | None) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdivision)


@dataclass(frozen=True)
class _Holidays:
    """Public holidays of a country plus the district's own days off."""

    public: holidays.HolidayBase | None
    extra: frozenset[date]

    def __contains__(self, day: object) -> bool:
        return day in self.extra or (self.public is not None and day in self.public)


def calendar_of(spec: CalendarSpec, time_zone: str, around_the_clock: bool) -> SlaCalendar:
    """The clock's calendar for a district's spec and time zone."""
    country = spec.holiday_country
    public = _holidays(country, spec.holiday_subdivision) if country else None
    return SlaCalendar(
        time_zone=time_zone,
        opens=spec.opens,
        closes=spec.closes,
        days=frozenset(WEEKDAYS.index(d) for d in spec.days),
        holidays=_Holidays(public, frozenset(spec.extra_holidays)),
        around_the_clock=around_the_clock,
    )


@dataclass(frozen=True)
class Terms:
    """What one case's clocks measure against: its calendar and each target's seconds."""

    calendar: SlaCalendar
    budgets: dict[SlaTarget, float]


@dataclass(frozen=True)
class SlaPolicy:
    """The SLA file, answering which calendar and budgets a case runs on."""

    rules: SlaFile
    _terms: dict[tuple[Priority, CaseType, str, str], "Terms"] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def from_json(cls, text: str) -> "SlaPolicy":
        """Parse the file's JSON (a `ValidationError` names what is wrong)."""
        return cls(SlaFile.model_validate_json(text))

    @classmethod
    def load(cls, path: Path | None = None) -> "SlaPolicy":
        """The file at `path`, or the one shipped in the package."""
        if path is not None:
            return cls.from_json(path.read_text(encoding="utf-8"))
        return cls.from_json(resources.files("routing").joinpath("sla.json").read_text())

    def terms(
        self, priority: Priority, case_type: CaseType, account_id: str, time_zone: str
    ) -> Terms:
        """The calendar and target budgets of a case of this priority, type and district."""
        key = (priority, case_type, account_id, time_zone)
        known = self._terms.get(key)
        if known is None:
            known = self._terms[key] = self._make_terms(*key)
        return known

    def _make_terms(
        self, priority: Priority, case_type: CaseType, account_id: str, time_zone: str
    ) -> Terms:
        by_type = self.rules.case_types.get(case_type, {})
        spec = by_type.get(priority) or self.rules.targets[priority]
        district = self.rules.districts.get(account_id, self.rules.calendar)
        calendar = calendar_of(district, time_zone, spec.around_the_clock)
        budgets: dict[SlaTarget, float] = {
            "first_response": _seconds(spec.first_response, calendar),
            "resolution": _seconds(spec.resolution, calendar),
        }
        return Terms(calendar, budgets)


def _seconds(duration: Duration, calendar: SlaCalendar) -> float:
    if duration.hours is not None:
        return duration.hours * 3600
    return (duration.business_days or 0) * calendar.day_seconds


# --- the clocks of one case ----------------------------------------------------------------


class SlaRun(BaseModel):
    """A stretch of time the clocks ran: from `start` to `end` (None: still running)."""

    model_config = ConfigDict(frozen=True)

    start: AwareDatetime
    end: AwareDatetime | None = None


class SlaMark(BaseModel):
    """One target's standing: met or not, when it falls due and what was announced."""

    model_config = ConfigDict(frozen=True)

    met_at: AwareDatetime | None = None
    due_at: AwareDatetime | None = Field(None, description="Set while the clock runs, unmet.")
    warn_at: AwareDatetime | None = None
    warned: bool = False
    breached: bool = False


class SlaState(BaseModel):
    """The clocks of a case, derived from what routing consumed and decided."""

    model_config = ConfigDict(frozen=True)

    runs: list[SlaRun] = Field(default_factory=list)
    first_response: SlaMark = SlaMark()
    resolution: SlaMark = SlaMark()
    next_at: AwareDatetime | None = Field(None, description="The next warning or breach moment.")
    check_requested: bool = Field(False, description="The timer loop asked for that check.")

    def mark(self, target: SlaTarget) -> SlaMark:
        """The standing of one target."""
        return self.first_response if target == "first_response" else self.resolution

    @property
    def running(self) -> bool:
        """The clocks run now (not paused, not stopped)."""
        return bool(self.runs) and self.runs[-1].end is None

    def with_mark(self, target: SlaTarget, mark: SlaMark) -> "SlaState":
        """The clocks with one target's standing replaced."""
        return self.model_copy(update={target: mark})

    def pause(self, at: datetime) -> "SlaState":
        """Stop the running stretch at `at`."""
        if not self.running:
            return self
        last = self.runs[-1].model_copy(update={"end": max(at, self.runs[-1].start)})
        return self.model_copy(update={"runs": [*self.runs[:-1], last]})

    def resume(self, at: datetime) -> "SlaState":
        """Start a new stretch at `at` (never before the last one ended)."""
        if self.running:
            return self
        start = max([at, *(r.end for r in self.runs if r.end is not None)])
        return self.model_copy(update={"runs": [*self.runs, SlaRun(start=start)]})

    def meet(self, target: SlaTarget, at: datetime) -> "SlaState":
        """Record the target as met at `at` (the first time only)."""
        mark = self.mark(target)
        if mark.met_at is not None:
            return self
        return self.with_mark(target, mark.model_copy(update={"met_at": at}))

    def used(self, target: SlaTarget, calendar: SlaCalendar, now: datetime) -> float:
        """Business seconds the target's clock has run by `now` (until met, if met)."""
        until = self.mark(target).met_at or now
        return sum(
            calendar.seconds_between(run.start, min(run.end or until, until)) for run in self.runs
        )


def start(at: datetime, terms: Terms) -> SlaState:
    """Clocks started at submission."""
    return refresh(SlaState(runs=[SlaRun(start=at)]), terms)


def moved(
    sla: SlaState, before: Status, to: Status, by_staff: bool, at: datetime, terms: Terms
) -> SlaState:
    """The clocks after a status change at `at`: a staff member's change is the first
    response; waiting statuses pause, leaving them resumes, Closed stops, reopening runs on."""
    if by_staff:
        sla = sla.meet("first_response", at)
    if to is Status.CLOSED:
        sla = sla.pause(at).meet("resolution", at)
    elif to in PAUSED:
        sla = sla.pause(at)
    elif before is Status.CLOSED:
        sla = sla.with_mark("resolution", sla.resolution.model_copy(update={"met_at": None}))
        sla = sla.resume(at)
    else:
        sla = sla.resume(at)
    return refresh(sla, terms)


def responded(sla: SlaState, at: datetime, terms: Terms) -> SlaState:
    """A staff member's post to the contact: the first response, if none came before."""
    return refresh(sla.meet("first_response", at), terms)


def refresh(sla: SlaState, terms: Terms) -> SlaState:
    """Due and warning moments of the unmet targets (while running) and the next of them."""
    marks: dict[str, SlaMark] = {target: _due(sla, target, terms) for target in TARGETS}
    pending = [moment for mark in marks.values() for moment in _pending(mark)]
    update: dict[str, object] = {**marks, "next_at": min(pending, default=None)}
    update["check_requested"] = False
    return sla.model_copy(update=update)


def _due(sla: SlaState, target: SlaTarget, terms: Terms) -> SlaMark:
    mark = sla.mark(target)
    if mark.met_at is not None or not sla.running:
        return mark.model_copy(update={"due_at": None, "warn_at": None})
    budget, calendar, current = terms.budgets[target], terms.calendar, sla.runs[-1].start
    spent = sum(calendar.seconds_between(r.start, r.end) for r in sla.runs if r.end is not None)
    # Whole seconds: the store keeps milliseconds, and the timer matches these moments.
    warn_at = calendar.add(current, budget * WARN_PERCENT / 100 - spent).replace(microsecond=0)
    due_at = calendar.add(current, budget - spent).replace(microsecond=0)
    return mark.model_copy(update={"due_at": due_at, "warn_at": warn_at})


def _pending(mark: SlaMark) -> list[datetime]:
    moments = []
    if mark.due_at is not None and not mark.breached:
        moments.append(mark.due_at)
    if mark.warn_at is not None and not mark.warned and not mark.breached:
        moments.append(mark.warn_at)
    return moments


Kind = Literal["warning", "breach"]


@dataclass(frozen=True)
class Due:
    """An announcement the clocks owe at some moment: a warning or a breach of a target."""

    target: SlaTarget
    kind: Kind
    due_at: datetime
    percent: int


def due_now(sla: SlaState, terms: Terms, now: datetime) -> list[Due]:
    """What is owed at `now`: a breach past the due moment, else a warning past 75 %
    (a breach makes its warning moot: it is not sent late)."""
    owed = []
    for target in TARGETS:
        mark = sla.mark(target)
        if mark.due_at is None or mark.breached:
            continue
        if now >= mark.due_at:
            owed.append(Due(target, "breach", mark.due_at, 100))
        elif mark.warn_at is not None and not mark.warned and now >= mark.warn_at:
            percent = int(100 * sla.used(target, terms.calendar, now) / terms.budgets[target])
            owed.append(Due(target, "warning", mark.due_at, min(99, max(WARN_PERCENT, percent))))
    return owed


def announced(sla: SlaState, owed: list[Due], terms: Terms) -> SlaState:
    """The clocks once `owed` was announced: each warning and breach is sent once."""
    for item in owed:
        mark = sla.mark(item.target)
        flags = {"warned": True} if item.kind == "warning" else {"breached": True}
        sla = sla.with_mark(item.target, mark.model_copy(update=flags))
    return refresh(sla, terms)


def next_due(sla: SlaState | None) -> datetime | None:
    """The earliest due moment of an unmet, running target (breached ones included)."""
    if sla is None:
        return None
    return min((m.due_at for m in (sla.first_response, sla.resolution) if m.due_at), default=None)
