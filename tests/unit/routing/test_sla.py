"""SLA clocks on business hours: due moments, pauses, warnings and breaches, the targets file."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4, uuid5
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from routing.app import sla_policy
from routing.clock import FixedClock
from routing.console import queue_line
from routing.handlers import parse
from routing.logic import (
    BusinessCalendar,
    Context,
    RoutingTable,
    derived_id,
    on_command,
    on_post,
    on_sla_check,
    on_submitted,
    reprioritised,
)
from routing.models import CaseState, SlaCheck
from routing.service import COMMANDS, describe_due, work_item_public
from routing.settings import Settings
from routing.sla import SlaPolicy
from routing.store import sla_fields
from routing.timers import SlaGauges, TimerService
from shared.commands import ChangeStatus, CloseCase
from shared.enums import ActorKind, CaseType, Module, Priority, Status, Visibility
from shared.events import CaseSubmitted, PostAdded, SlaBreached, SlaWarning
from shared.messages import SYSTEM, Actor
from tests.unit.routing.conftest import CONTACT, STAFF

CHICAGO = ZoneInfo("America/Chicago")
# A hand-written calendar: 9:00 to 17:00 Monday to Friday, Labor Day 2026 off, no other holiday.
HAND_WRITTEN: dict[str, Any] = {
    "targets": {
        "Critical": {
            "first_response": {"hours": 1},
            "resolution": {"hours": 24},
            "around_the_clock": True,
        },
        "High": {"first_response": {"hours": 4}, "resolution": {"business_days": 3}},
        "Medium": {"first_response": {"business_days": 1}, "resolution": {"business_days": 10}},
        "Low": {"first_response": {"business_days": 2}, "resolution": {"business_days": 20}},
    },
    "calendar": {
        "opens": "09:00",
        "closes": "17:00",
        "days": ["Mon", "Tue", "Wed", "Thu", "Fri"],
        "holiday_country": None,
        "extra_holidays": ["2026-09-07"],
    },
}
HAND = SlaPolicy.from_json(json.dumps(HAND_WRITTEN))
FRIDAY_1630 = datetime(2026, 9, 4, 16, 30, tzinfo=CHICAGO)


def chicago(day: int, hour: int, minute: int = 0, month: int = 9) -> datetime:
    """A moment of 2026 in Chicago."""
    return datetime(2026, month, day, hour, minute, tzinfo=CHICAGO)


def ctx_at(context: Callable[..., Context], at: datetime, policy: SlaPolicy = HAND) -> Context:
    """A decision context at `at` with the given SLA targets."""
    return context(at.astimezone(UTC), sla=policy)


def open_case(
    context: Callable[..., Context],
    new_case: Callable[..., CaseSubmitted],
    at: datetime,
    priority: Priority = Priority.HIGH,
    policy: SlaPolicy = HAND,
) -> CaseState:
    """A case submitted at `at` with clocks on `policy`."""
    event = new_case(CaseType.ASK_A_QUESTION, priority=priority)
    event = event.model_copy(update={"occurred_at": at.astimezone(UTC)})
    route = RoutingTable.load().route(CaseType.ASK_A_QUESTION, Module.GRADE_BOOK)
    state = on_submitted(event, route, ctx_at(context, at, policy)).state
    assert state is not None
    assert state.sla is not None
    return state


def change(
    state: CaseState, to: Status, at: datetime, context: Callable[..., Context], **fields: Any
) -> CaseState:
    """The case after staff moved it to `to` at `at`."""
    command = ChangeStatus(case_id=state.case_id, actor=STAFF, to_status=to, **fields)
    decision = on_command(state, command, ctx_at(context, at))
    assert decision.state is not None, decision.reason
    return decision.state


def post(
    state: CaseState,
    author: Actor,
    at: datetime,
    context: Callable[..., Context],
    visibility: Visibility = Visibility.PUBLIC,
) -> CaseState:
    """The case after `author` posted at `at`."""
    event = PostAdded(
        case_id=state.case_id,
        occurred_at=at.astimezone(UTC),
        post_id=uuid4(),
        author=author,
        body_html="<p>ok</p>",
        body_text="ok",
        visibility=visibility,
    )
    decision = on_post(state, event, ctx_at(context, at))
    assert decision.state is not None
    return decision.state


def check(state: CaseState, at: datetime, context: Callable[..., Context]) -> Any:
    """What an SLA check at `at` decides."""
    command = SlaCheck(case_id=state.case_id, actor=SYSTEM, due_at=at.astimezone(UTC))
    return on_sla_check(state, command, ctx_at(context, at))


def test_high_case_friday_1630_is_due_tuesday_1230_across_the_weekend_and_labor_day(
    context: Callable[..., Context], new_case: Callable[..., CaseSubmitted]
) -> None:
    """Four business hours from Friday 16:30: half an hour Friday, Monday is Labor Day,
    three and a half hours Tuesday from 9:00."""
    state = open_case(context, new_case, FRIDAY_1630)
    assert state.sla is not None
    assert state.sla.first_response.due_at == chicago(8, 12, 30)
    # Three business days of eight hours: 0.5 Fri, 8 Tue, 8 Wed, 7.5 Thu.
    assert state.sla.resolution.due_at == chicago(10, 16, 30)


def test_the_shipped_calendar_opens_at_eight_with_us_holidays(
    context: Callable[..., Context], new_case: Callable[..., CaseSubmitted]
) -> None:
    """With the default 8:00 to 17:00 and US holidays the same case is due Tuesday 11:30."""
    state = open_case(context, new_case, FRIDAY_1630, policy=SlaPolicy.load())
    assert state.sla is not None
    assert state.sla.first_response.due_at == chicago(8, 11, 30)
    # 27 business hours: 0.5 Fri, 9 Tue, 9 Wed, 8.5 Thu.
    assert state.sla.resolution.due_at == chicago(10, 16, 30)


def test_a_pause_in_pending_customer_input_over_a_weekend_adds_no_time(
    context: Callable[..., Context], new_case: Callable[..., CaseSubmitted]
) -> None:
    """Asked Friday 17:30, answered Monday 8:45: not one business hour passed meanwhile."""
    state = open_case(context, new_case, chicago(10, 10))
    state = change(state, Status.ASSIGNED, chicago(10, 10, 30), context)
    assert state.sla is not None
    # 24 business hours from Thursday 10:00: 7 Thu, 8 Fri, 8 Mon, 1 Tue.
    assert state.sla.resolution.due_at == chicago(15, 10)
    asked = change(
        state, Status.PENDING_CUSTOMER_INPUT, chicago(11, 17, 30), context, note="Which school?"
    )
    assert asked.sla is not None
    assert asked.sla.resolution.due_at is None
    assert asked.work_item().sla_paused is True
    answered = post(asked, CONTACT, chicago(14, 8, 45), context)
    assert answered.status is Status.ASSIGNED
    assert answered.sla is not None
    assert answered.sla.resolution.due_at == chicago(15, 10)
    assert answered.work_item().sla_paused is False


def test_a_pause_in_business_hours_moves_the_due_time_by_as_much(
    context: Callable[..., Context], new_case: Callable[..., CaseSubmitted]
) -> None:
    """Scheduled Monday 9:00 to 11:00 pushes Tuesday 10:00 to Tuesday 12:00."""
    state = change(
        open_case(context, new_case, chicago(10, 10)), Status.ASSIGNED, chicago(10, 11), context
    )
    scheduled = change(state, Status.SCHEDULED, chicago(14, 9), context)
    back = change(scheduled, Status.ASSIGNED, chicago(14, 11), context)
    assert back.sla is not None
    assert back.sla.resolution.due_at == chicago(15, 12)


def test_assigned_to_development_pauses_the_resolution_clock(
    context: Callable[..., Context], new_case: Callable[..., CaseSubmitted]
) -> None:
    """A case with development counts no time until it comes back."""
    state = change(
        open_case(context, new_case, chicago(10, 10)), Status.ASSIGNED, chicago(10, 11), context
    )
    escalated = change(
        state,
        Status.ASSIGNED_TO_DEVELOPMENT,
        chicago(14, 9),
        context,
        note="Scores do not save.",
        development_issue="DEV-1",
    )
    assert escalated.sla is not None
    assert escalated.sla.resolution.due_at is None
    released = change(
        escalated,
        Status.AVAILABLE_IN_RELEASE,
        chicago(16, 9),
        context,
        note="Fixed.",
        release_name="2547",
    )
    assert released.sla is not None
    # 15 of 24 hours were used by Monday 9:00 (7 Thu, 8 Fri): nine more from Wednesday 9:00.
    assert released.sla.resolution.due_at == chicago(17, 10)


def test_the_first_staff_post_meets_the_first_response(
    context: Callable[..., Context], new_case: Callable[..., CaseSubmitted]
) -> None:
    """A contact's post does not answer the contact; a staff post does."""
    state = open_case(context, new_case, FRIDAY_1630)
    by_contact = post(state, CONTACT, chicago(8, 9), context)
    assert by_contact.sla is not None
    assert by_contact.sla.first_response.met_at is None
    by_staff = post(by_contact, STAFF, chicago(8, 10), context)
    assert by_staff.sla is not None
    assert by_staff.sla.first_response.met_at == chicago(8, 10)
    assert by_staff.sla.first_response.due_at is None
    assert by_staff.work_item().first_response_due_at is None


def test_an_internal_note_is_no_first_response(
    context: Callable[..., Context], new_case: Callable[..., CaseSubmitted]
) -> None:
    """The first response is the first staff post the contact sees: an internal note leaves
    it owed (and due when it was), the public reply after it meets it."""
    state = open_case(context, new_case, FRIDAY_1630)
    assert state.sla is not None
    due = state.sla.first_response.due_at
    noted = post(state, STAFF, chicago(8, 9), context, Visibility.INTERNAL)
    assert noted.sla is not None
    assert noted.sla.first_response.met_at is None
    assert noted.sla.first_response.due_at == due
    assert noted.work_item().first_response_due_at == due
    replied = post(noted, STAFF, chicago(8, 10), context)
    assert replied.sla is not None
    assert replied.sla.first_response.met_at == chicago(8, 10)


def test_warning_at_75_percent_and_breach_fire_once_each(
    context: Callable[..., Context], new_case: Callable[..., CaseSubmitted]
) -> None:
    """Three of four hours by Tuesday 11:30 warns; 12:30 breaches; repeats announce nothing."""
    state = open_case(context, new_case, FRIDAY_1630)
    assert check(state, chicago(8, 11, 29), context).outputs == []
    warned = check(state, chicago(8, 11, 30), context)
    warning = SlaWarning.model_validate(warned.outputs[0].value)
    assert warning.target == "first_response"
    assert warning.percent_elapsed == 75
    assert warning.due_at == chicago(8, 12, 30)
    assert warning.event_id == uuid5(state.case_id, "sla:first_response:warning")
    assert warned.outputs[-1].value["type"] == "work.updated"
    assert check(warned.state, chicago(8, 11, 45), context).outputs == []
    breached = check(warned.state, chicago(8, 12, 30), context)
    breach = SlaBreached.model_validate(breached.outputs[0].value)
    assert (breach.target, breach.priority, breach.department.value) == (
        "first_response",
        Priority.HIGH,
        "Campus Support",
    )
    assert breach.event_id == uuid5(state.case_id, "sla:first_response:breach")
    again = check(breached.state, chicago(8, 13), context)
    assert again.outputs == []
    assert again.state is None
    assert breached.state.work_item().sla_breached == ["first_response"]


def test_a_breach_makes_a_late_warning_moot(
    context: Callable[..., Context], new_case: Callable[..., CaseSubmitted]
) -> None:
    """A check that first looks after the due time sends the breach alone."""
    state = open_case(context, new_case, FRIDAY_1630)
    decided = check(state, chicago(8, 14), context)
    types = [out.value["type"] for out in decided.outputs]
    assert types == ["case.sla_breached", "work.updated"]
    assert check(decided.state, chicago(8, 15), context).outputs == []


def test_a_priority_change_recomputes_the_due_times(
    context: Callable[..., Context], new_case: Callable[..., CaseSubmitted]
) -> None:
    """Medium's one business day from Friday 16:30 is Tuesday 16:30; as High, Tuesday 12:30."""
    state = open_case(context, new_case, FRIDAY_1630, priority=Priority.MEDIUM)
    assert state.sla is not None
    assert state.sla.first_response.due_at == chicago(8, 16, 30)
    raised = reprioritised(state, Priority.HIGH, ctx_at(context, chicago(8, 9)))
    assert raised.sla is not None
    assert raised.sla.first_response.due_at == chicago(8, 12, 30)


def test_critical_runs_around_the_clock(
    context: Callable[..., Context], new_case: Callable[..., CaseSubmitted]
) -> None:
    """A Critical case on a Saturday night is due an hour later, resolved a day later."""
    state = open_case(context, new_case, chicago(5, 23), priority=Priority.CRITICAL)
    assert state.sla is not None
    assert state.sla.first_response.due_at == chicago(6, 0)
    assert state.sla.resolution.due_at == chicago(6, 23)


def test_closing_stops_the_clock_and_reopening_runs_it_on(
    context: Callable[..., Context], new_case: Callable[..., CaseSubmitted]
) -> None:
    """Closed Thursday 12:00 after two business hours; reopened Monday 9:00 has 22 left."""
    state = change(
        open_case(context, new_case, chicago(10, 10)), Status.ASSIGNED, chicago(10, 11), context
    )
    close = CloseCase(case_id=state.case_id, actor=STAFF, note="Done.")
    closed = on_command(state, close, ctx_at(context, chicago(10, 12))).state
    assert closed is not None
    assert closed.sla is not None
    assert closed.sla.resolution.met_at == chicago(10, 12)
    assert closed.sla.resolution.due_at is None
    assert closed.work_item().sla_paused is False
    reopened = change(closed, Status.RE_OPENED, chicago(14, 9), context, note="It broke again.")
    assert reopened.sla is not None
    assert reopened.sla.resolution.met_at is None
    # 22 hours from Monday 9:00: 8 Mon, 8 Tue, 6 Wed.
    assert reopened.sla.resolution.due_at == chicago(16, 15)


def test_a_case_with_clocks_off_has_no_due_fields(
    context: Callable[..., Context], new_case: Callable[..., CaseSubmitted]
) -> None:
    """Without targets the work item says nothing of SLA."""
    event = new_case(CaseType.ASK_A_QUESTION, priority=Priority.HIGH)
    route = RoutingTable.load().route(CaseType.ASK_A_QUESTION, Module.GRADE_BOOK)
    state = on_submitted(event, route, context()).state
    assert state is not None
    assert state.sla is None
    item = state.work_item()
    assert (item.first_response_due_at, item.resolution_due_at, item.sla_breached) == (
        None,
        None,
        [],
    )


def test_the_queue_entry_says_how_long_until_the_next_due_point(
    context: Callable[..., Context], new_case: Callable[..., CaseSubmitted]
) -> None:
    """Tuesday 10:00 the High case is due in 2 h 30 min; at 13:00 overdue by 30 min."""
    state = open_case(context, new_case, FRIDAY_1630)
    entry = work_item_public(state, chicago(8, 10).astimezone(UTC))
    assert entry.next_due_at == chicago(8, 12, 30)
    assert (entry.due_in_seconds, entry.due_in, entry.breached) == (
        9000,
        "due in 2 h 30 min",
        False,
    )
    late = work_item_public(state, chicago(8, 13).astimezone(UTC))
    assert (late.due_in_seconds, late.due_in) == (-1800, "overdue by 30 min")


def test_due_texts() -> None:
    """Days and hours, minutes only under a day, nothing for no due point."""
    assert describe_due(None) is None
    assert describe_due(3 * 86_400 + 4 * 3600 + 5 * 60) == "due in 3 d 4 h"
    assert describe_due(-59) == "overdue by less than a minute"


def test_the_targets_file_names_what_is_wrong() -> None:
    """A missing priority or a target in two units is refused with the field."""
    broken = {**HAND_WRITTEN, "targets": {"High": HAND_WRITTEN["targets"]["High"]}}
    with pytest.raises(ValidationError, match="targets: add Critical, Medium, Low"):
        SlaPolicy.from_json(json.dumps(broken))
    both = json.loads(json.dumps(HAND_WRITTEN))
    both["targets"]["Low"]["first_response"] = {"hours": 2, "business_days": 2}
    with pytest.raises(ValidationError, match="exactly one of hours or business_days"):
        SlaPolicy.from_json(json.dumps(both))


def test_per_case_type_and_district_overrides(
    context: Callable[..., Context], new_case: Callable[..., CaseSubmitted]
) -> None:
    """A case type's own High target and a district's 7:00 to 15:00 day apply."""
    rules = json.loads(json.dumps(HAND_WRITTEN))
    rules["case_types"] = {
        "Ask a Question": {"High": {"first_response": {"hours": 2}, "resolution": {"hours": 8}}}
    }
    rules["districts"] = {"a-1": {"opens": "07:00", "closes": "15:00", "holiday_country": None}}
    state = open_case(
        context, new_case, chicago(8, 14), policy=SlaPolicy.from_json(json.dumps(rules))
    )
    assert state.sla is not None
    assert state.sla.first_response.due_at == chicago(9, 8)  # 1 h Tue, 1 h Wed from 7:00


def test_the_check_command_reads_as_routing_s_own_and_a_mention_does_not() -> None:
    """The SLA check parses as itself; a note quoting its type stays the command it is."""
    command = SlaCheck(case_id=uuid4(), actor=SYSTEM, due_at=datetime(2026, 9, 8, tzinfo=UTC))
    assert parse(COMMANDS, command.model_dump_json().encode()) == command
    note = ChangeStatus(
        case_id=uuid4(),
        actor=Actor(kind=ActorKind.STAFF, id="s-1", name="Kelly"),
        to_status=Status.PENDING_CUSTOMER_INPUT,
        note='what is "routing.sla_check"?',
    )
    assert isinstance(parse(COMMANDS, note.model_dump_json().encode()), ChangeStatus)


def test_due_moments_are_whole_seconds(
    context: Callable[..., Context], new_case: Callable[..., CaseSubmitted]
) -> None:
    """Stored moments keep milliseconds only, so due moments carry none."""
    state = open_case(context, new_case, FRIDAY_1630 + timedelta(microseconds=123_456))
    assert state.sla is not None
    assert state.sla.first_response.warn_at is not None
    assert state.sla.first_response.warn_at.microsecond == 0


class _SlaCases:
    """A case store holding one case whose SLA check is due, and its SLA counts."""

    def __init__(self, state: CaseState) -> None:
        self.state = state
        self.marked: list[tuple[UUID, datetime]] = []

    async def due(self, field: str, flags: Any, now: datetime) -> list[CaseState]:
        return []

    async def sla_due(self, now: datetime) -> list[CaseState]:
        return [self.state]

    async def mark_sla(self, case_id: UUID, next_at: datetime) -> None:
        self.marked.append((case_id, next_at))

    async def sla_counts(self) -> dict[tuple[str, str, str, str], int]:
        return {("Campus Support", "High", "first_response", "breached"): 2}


async def test_the_timer_asks_the_writer_for_the_check_and_shows_the_counts(
    context: Callable[..., Context],
    new_case: Callable[..., CaseSubmitted],
    calendar: BusinessCalendar,
) -> None:
    """One check per due moment, with an id of the case and moment; gauges from the store."""
    state = open_case(context, new_case, FRIDAY_1630)
    assert state.sla is not None
    warn_at = chicago(8, 11, 30)
    assert state.sla.next_at == warn_at
    sent: list[Any] = []

    async def publish(command: Any) -> None:
        sent.append(command)

    cases = _SlaCases(state)
    registry = CollectorRegistry()
    now = chicago(8, 11, 31).astimezone(UTC)
    timers = TimerService(cases, publish, FixedClock(now), calendar, SlaGauges(registry))  # type: ignore[arg-type]
    assert await timers.run_due(now) == 1
    assert isinstance(sent[0], SlaCheck)
    assert sent[0].event_id == derived_id(state.case_id, "sla-check:2026-09-08T16:30:00+00:00")
    assert cases.marked == [(state.case_id, warn_at)]
    labels = {"department": "Campus Support", "priority": "High", "target": "first_response"}
    assert registry.get_sample_value("routing_sla_breached", labels) == 2
    assert registry.get_sample_value("routing_sla_met", labels) == 0


def test_business_hours_follow_the_district_clock_across_daylight_saving(
    context: Callable[..., Context], new_case: Callable[..., CaseSubmitted]
) -> None:
    """Friday 2026-10-30 16:00 CDT plus four hours is Monday 11:00 CST, 17:00 UTC."""
    state = open_case(context, new_case, chicago(30, 16, month=10), policy=SlaPolicy.load())
    assert state.sla is not None
    assert state.sla.first_response.due_at == datetime(2026, 11, 2, 17, 0, tzinfo=UTC)


def test_the_console_queue_line_ends_with_the_due_point_and_the_breach() -> None:
    """`queue` shows 'overdue by 30 min' and flags the breach."""
    item = {
        "case_number": 1000003,
        "priority": "High",
        "status": "Assigned",
        "assignee": None,
        "subject": "Snow day missing",
        "due_in": "overdue by 30 min",
        "breached": True,
    }
    assert queue_line(item).endswith("Snow day missing  | overdue by 30 min  [SLA breached]")


def test_the_sla_file_setting_and_the_switch(tmp_path: Path) -> None:
    """ROUTING_SLA_FILE replaces the packaged targets; ROUTING_SLA_CLOCKS=false turns them off."""
    rules = json.loads(json.dumps(HAND_WRITTEN))
    rules["targets"]["Low"]["first_response"] = {"hours": 7}
    path = tmp_path / "sla.json"
    path.write_text(json.dumps(rules), encoding="utf-8")
    policy = sla_policy(Settings(sla_file=str(path)))
    assert policy is not None
    assert policy.terms(Priority.LOW, CaseType.ASK_A_QUESTION, "a-1", "UTC").budgets == {
        "first_response": 7 * 3600,
        "resolution": 20 * 8 * 3600,
    }
    assert sla_policy(Settings(sla_clocks=False)) is None


def test_stored_standing_counts_a_case_closed_before_its_first_response_as_unmet(
    context: Callable[..., Context], new_case: Callable[..., CaseSubmitted]
) -> None:
    """The gauges' fields: due while open, unmet once the contact closed it unanswered."""
    state = open_case(context, new_case, FRIDAY_1630)
    assert sla_fields(state) == {
        "sla_due": chicago(8, 12, 30),
        "sla_first_response": "due",
        "sla_resolution": "due",
    }
    close = CloseCase(case_id=state.case_id, actor=CONTACT, note="Found it.")
    closed = on_command(state, close, ctx_at(context, chicago(8, 9))).state
    assert closed is not None
    assert sla_fields(closed)["sla_first_response"] == "unmet"
    assert sla_fields(closed)["sla_resolution"] == "met"
