"""Service-level clocks: targets per priority, district business hours, and what falls due."""

from bisect import bisect_left, bisect_right
from collections.abc import Container
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
_MAX_MOMENTS = 50_000  # remembered due moments per terms, about one per open case


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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_CHUNK_DAYS = 64  # days of working hours added to a calendar's table at a time


def _micros(moment: datetime) -> int:
    """Microseconds since the epoch: exact, unlike a float timestamp."""
    return (moment - _EPOCH) // _MICROSECOND


@dataclass
class _Hours:
    """A calendar's working hours over a run of days, as UTC microseconds since the epoch,
    with the business microseconds before each window (`before` has one more entry: the
    total), so that sums and additions are two binary searches instead of a walk over days."""

    first: date
    end: date  # the first day not covered
    opens: list[int] = field(default_factory=list)
    closes: list[int] = field(default_factory=list)
    before: list[int] = field(default_factory=lambda: [0])

    def business(self, at: int) -> int:
        """Business microseconds from the first covered day to `at`."""
        i = bisect_right(self.opens, at) - 1
        if i < 0:
            return 0
        return self.before[i] + min(at, self.closes[i]) - self.opens[i]


@dataclass(frozen=True)
class SlaCalendar:
    """When the clock runs: working days' hours in a time zone, minus holidays; or always."""

    time_zone: str
    opens: time = time(8)
    closes: time = time(17)
    days: frozenset[int] = frozenset(range(5))
    holidays: Container[date] = field(default_factory=frozenset)
    around_the_clock: bool = False
    # Working hours of the days asked about so far: every decision on a case asks for the
    # same days again, and every case of a district for nearly the same ones.
    _table: list[_Hours] = field(default_factory=list, compare=False, repr=False)

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
        """Business seconds from `start` to `end` (0 when `end` is not later); working days
        up to _MAX_DAYS after the local day of `start` count."""
        if end <= start:
            return 0.0
        if self.around_the_clock:
            return (end - start).total_seconds()
        first = self._local_day(start)
        last = min(self._local_day(end), first + timedelta(days=_MAX_DAYS - 1))
        hours = self._covering(first, last + timedelta(days=1))
        until = min(_micros(end), _micros(self._midnight(last + timedelta(days=1))))
        return (hours.business(until) - hours.business(_micros(start))) / 1_000_000

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment `seconds` business seconds after `start` (the next opening when
        `seconds` is 0 and the calendar is closed at `start`)."""
        if self.around_the_clock:
            return start + timedelta(seconds=seconds)
        left = timedelta(seconds=max(0.0, seconds)) // _MICROSECOND
        at = _micros(start)
        first = self._local_day(start)
        span = _CHUNK_DAYS
        while True:
            hours = self._covering(first, first + timedelta(days=min(span, _MAX_DAYS)))
            found = _moment(hours, at, left)
            if found is not None:
                i, moment = found
                if at > hours.opens[i]:  # within the window open at `start`
                    return start + timedelta(microseconds=left)
                return _EPOCH + timedelta(microseconds=moment)
            if span >= _MAX_DAYS:
                raise ValueError("the business calendar has no working hours")
            span *= 2

    def _local_day(self, moment: datetime) -> date:
        return moment.astimezone(self._zone()).date()

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=self._zone())

    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)  # ZoneInfo caches its instances

    def _covering(self, first: date, end: date) -> _Hours:
        """The table of working hours, grown to cover the days from `first` to before `end`
        (started afresh, a little earlier, for a day before it or a span past its bound)."""
        hours = self._table[0] if self._table else None
        if hours is None or first < hours.first or (end - hours.first).days > 4 * _MAX_DAYS:
            start = first - timedelta(days=_CHUNK_DAYS)
            hours = _Hours(first=start, end=start)
            self._table[:] = [hours]
        day = hours.end
        while day < end:
            window = self._window(day)
            if window is not None:
                opened, closed = (_micros(moment) for moment in window)
                hours.opens.append(opened)
                hours.closes.append(closed)
                hours.before.append(hours.before[-1] + closed - opened)
            day += timedelta(days=1)
        hours.end = max(hours.end, end)
        return hours

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's working hours in UTC (None: not a working day, or no time that day)."""
        if not self.is_working_day(day):
            return None
        zone = self._zone()
        opened = datetime.combine(day, self.opens, tzinfo=zone).astimezone(UTC)
        closed = datetime.combine(day, self.closes, tzinfo=zone).astimezone(UTC)
        return (opened, closed) if closed > opened else None


def _moment(hours: _Hours, at: int, left: int) -> tuple[int, int] | None:
    """The window index and moment `left` business microseconds after `at`, skipping
    windows closed by `at`; None when the table ends first."""
    after = bisect_right(hours.closes, at)
    target = hours.business(at) + left
    i = bisect_left(hours.before, target, lo=after + 1) - 1
    if i >= len(hours.opens):
        return None
    return i, hours.opens[i] + target - hours.before[i]


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
    # Warning and due moments by target, start of the running stretch and seconds spent
    # before it: a case's decisions between two pauses all ask the same question.
    _moments: dict[tuple[SlaTarget, datetime, float], tuple[datetime, datetime]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def moments(
        self, target: SlaTarget, current: datetime, spent: float
    ) -> tuple[datetime, datetime]:
        """When `target` warns and falls due, its clock running since `current` after
        `spent` business seconds before; whole seconds (the store keeps milliseconds, and
        the timer matches these moments)."""
        key = (target, current, spent)
        known = self._moments.get(key)
        if known is None:
            budget, calendar = self.budgets[target], self.calendar
            warn_at = calendar.add(current, budget * WARN_PERCENT / 100 - spent)
            due_at = calendar.add(current, budget - spent)
            if len(self._moments) >= _MAX_MOMENTS:
                self._moments.clear()
            known = self._moments[key] = (
                warn_at.replace(microsecond=0),
                due_at.replace(microsecond=0),
            )
        return known


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
        runs = _paused(self.runs, at)
        return self if runs is self.runs else self.model_copy(update={"runs": runs})

    def resume(self, at: datetime) -> "SlaState":
        """Start a new stretch at `at` (never before the last one ended)."""
        runs = _resumed(self.runs, at)
        return self if runs is self.runs else self.model_copy(update={"runs": runs})

    def meet(self, target: SlaTarget, at: datetime) -> "SlaState":
        """Record the target as met at `at` (the first time only)."""
        mark = self.mark(target)
        met = _met(mark, at)
        return self if met is mark else self.with_mark(target, met)

    def marks(self) -> dict[SlaTarget, SlaMark]:
        """The standing of every target."""
        return {"first_response": self.first_response, "resolution": self.resolution}

    def used(self, target: SlaTarget, calendar: SlaCalendar, now: datetime) -> float:
        """Business seconds the target's clock has run by `now` (until met, if met)."""
        until = self.mark(target).met_at or now
        return sum(
            calendar.seconds_between(run.start, min(run.end or until, until)) for run in self.runs
        )


def _paused(runs: list[SlaRun], at: datetime) -> list[SlaRun]:
    """The stretches with the running one stopped at `at` (the same list if none runs)."""
    if not runs or runs[-1].end is not None:
        return runs
    return [*runs[:-1], runs[-1].model_copy(update={"end": max(at, runs[-1].start)})]


def _resumed(runs: list[SlaRun], at: datetime) -> list[SlaRun]:
    """The stretches with a new one from `at` (the same list if one runs)."""
    if runs and runs[-1].end is None:
        return runs
    return [*runs, SlaRun(start=max([at, *(r.end for r in runs if r.end is not None)]))]


def _met(mark: SlaMark, at: datetime) -> SlaMark:
    """The target met at `at`, unless it was met before (then the same mark)."""
    return mark if mark.met_at is not None else mark.model_copy(update={"met_at": at})


def start(at: datetime, terms: Terms) -> SlaState:
    """Clocks started at submission."""
    return refresh(SlaState(runs=[SlaRun(start=at)]), terms)


def moved(
    sla: SlaState, before: Status, to: Status, by_staff: bool, at: datetime, terms: Terms
) -> SlaState:
    """The clocks after a status change at `at`: a staff member's change is the first
    response; waiting statuses pause, leaving them resumes, Closed stops, reopening runs on."""
    runs, marks = sla.runs, sla.marks()
    if by_staff:
        marks["first_response"] = _met(marks["first_response"], at)
    if to is Status.CLOSED:
        runs = _paused(runs, at)
        marks["resolution"] = _met(marks["resolution"], at)
    elif to in PAUSED:
        runs = _paused(runs, at)
    else:
        if before is Status.CLOSED:
            marks["resolution"] = marks["resolution"].model_copy(update={"met_at": None})
        runs = _resumed(runs, at)
    return _refreshed(sla, runs, marks, terms)


def responded(sla: SlaState, at: datetime, terms: Terms) -> SlaState:
    """A staff member's post to the contact: the first response, if none came before."""
    marks = sla.marks()
    marks["first_response"] = _met(marks["first_response"], at)
    return _refreshed(sla, sla.runs, marks, terms)


def refresh(sla: SlaState, terms: Terms) -> SlaState:
    """Due and warning moments of the unmet targets (while running) and the next of them."""
    return _refreshed(sla, sla.runs, sla.marks(), terms)


def _refreshed(
    sla: SlaState, runs: list[SlaRun], marks: dict[SlaTarget, SlaMark], terms: Terms
) -> SlaState:
    """`sla` with these stretches and marks, and their due and warning moments: one copy
    per decision, however much changed."""
    moments = _moments(runs, marks, terms)
    marks = {target: _at(mark, moments.get(target)) for target, mark in marks.items()}
    pending = [moment for mark in marks.values() for moment in _pending(mark)]
    update: dict[str, object] = {"runs": runs, "next_at": min(pending, default=None)}
    update.update({"check_requested": False, **{str(t): mark for t, mark in marks.items()}})
    return sla.model_copy(update=update)


def _moments(
    runs: list[SlaRun], marks: dict[SlaTarget, SlaMark], terms: Terms
) -> dict[SlaTarget, tuple[datetime, datetime]]:
    """Warning and due moments of each unmet target, while the clocks run."""
    unmet = [target for target, mark in marks.items() if mark.met_at is None]
    if not unmet or not runs or runs[-1].end is not None:
        return {}
    calendar, current = terms.calendar, runs[-1].start
    spent = sum(calendar.seconds_between(r.start, r.end) for r in runs if r.end is not None)
    return {target: terms.moments(target, current, spent) for target in unmet}


def _at(mark: SlaMark, moments: tuple[datetime, datetime] | None) -> SlaMark:
    """The mark warning and due at `moments` (None: neither)."""
    warn_at, due_at = moments or (None, None)
    if mark.warn_at == warn_at and mark.due_at == due_at:
        return mark
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
    marks = sla.marks()
    for item in owed:
        flags = {"warned": True} if item.kind == "warning" else {"breached": True}
        marks[item.target] = marks[item.target].model_copy(update=flags)
    return _refreshed(sla, sla.runs, marks, terms)


def next_due(sla: SlaState | None) -> datetime | None:
    """The earliest due moment of an unmet, running target (breached ones included)."""
    if sla is None:
        return None
    return min((m.due_at for m in (sla.first_response, sla.resolution) if m.due_at), default=None)
