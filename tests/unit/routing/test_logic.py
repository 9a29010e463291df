"""Routing's pure decisions: routing table, queue order, business days and the workflow."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from routing.logic import (
    AUTO_CLOSE_NOTE,
    BusinessCalendar,
    Context,
    Decision,
    RoutingTable,
    derived_id,
    on_command,
    on_post,
    on_submitted,
    pick_least_loaded,
    pick_round_robin,
    plan_timers,
    queue_key,
)
from routing.models import CaseState, Outcome
from shared.commands import AssignCase, ChangeStatus, CloseCase, FollowUpCase, ReopenCase
from shared.enums import ActorKind, CaseType, Department, Module, Priority, Status
from shared.events import CaseSubmitted, PostAdded
from shared.messages import SYSTEM, Actor, StaffRef
from tests import seed_facts

CONTACT = Actor(kind=ActorKind.CONTACT, id="c-1", name="Zack Morris")
STAFF = Actor(kind=ActorKind.STAFF, id="s-1", name="Kelly Kapowski")
ACTORS = {ActorKind.CONTACT: CONTACT, ActorKind.STAFF: STAFF, ActorKind.SYSTEM: SYSTEM}
FRIDAY = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)  # Friday 10:00 in Chicago
EXPECTED = {
    CaseType.ASK_A_QUESTION: (Department.CAMPUS_SUPPORT, False),
    CaseType.APPLICATION_ISSUE: (Department.CAMPUS_SUPPORT, False),
    CaseType.DATA_RESTORE: (Department.HOSTING, False),
    CaseType.MODIFY_SUPPORT_CONTACTS: (Department.ACCOUNT_MANAGEMENT, False),
    CaseType.REPORT_AN_OUTAGE: (Department.HOSTING, False),
    CaseType.SERVER_ISSUE: (Department.HOSTING, False),
    CaseType.SERVER_ACCESS: (Department.HOSTING, False),
    CaseType.REQUEST_TRAINING: (Department.TRAINING, True),
    CaseType.REQUEST_CONSULTING: (Department.BUSINESS_CONSULTING, True),
    CaseType.REQUEST_TECHNICAL_SERVICES: (Department.TECHNICAL_SERVICES, True),
}


@pytest.fixture(scope="module")
def table() -> RoutingTable:
    """The table shipped in the package."""
    return RoutingTable.load()


def _state(
    new_case: Callable[..., CaseSubmitted],
    context: Callable[..., Context],
    status: Status = Status.NEW,
    **changes: Any,
) -> CaseState:
    decision = on_submitted(
        new_case(CaseType.ASK_A_QUESTION),
        RoutingTable.load().route(CaseType.ASK_A_QUESTION, Module.GRADE_BOOK),
        context(),
    )
    assert decision.state is not None
    return decision.state.model_copy(update={"status": status, **changes})


def _change(to: Status, actor: Actor, state: CaseState, **fields: Any) -> ChangeStatus:
    return ChangeStatus(case_id=state.case_id, actor=actor, to_status=to, **fields)


def _types(decision: Decision) -> list[str]:
    return [out.value["type"] for out in decision.outputs]


# --- routing table ----------------------------------------------------------------------------


@pytest.mark.parametrize("case_type", list(CaseType))
def test_every_case_type_has_its_department(table: RoutingTable, case_type: CaseType) -> None:
    """Each of the ten case types routes to the seeds' department with its billable flag."""
    route = table.route(case_type, Module.GRADE_BOOK)
    assert (route.department, route.billable) == EXPECTED[case_type]


@pytest.mark.parametrize("case_type", [CaseType.APPLICATION_ISSUE, CaseType.ASK_A_QUESTION])
def test_hosting_module_goes_to_hosting(table: RoutingTable, case_type: CaseType) -> None:
    """A question or application issue about the Hosting module goes to Hosting."""
    assert table.route(case_type, Module.HOSTING).department is Department.HOSTING


def test_submission_announces_route_and_queues_work(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context], table: RoutingTable
) -> None:
    """A submitted case yields CaseRouted on case.events and WorkItemQueued on its queue."""
    event = new_case(CaseType.REQUEST_TRAINING)
    decision = on_submitted(event, table.route(event.case_type, None), context())
    assert _types(decision) == ["case.routed", "work.queued"]
    assert [out.queue for out in decision.outputs] == [None, Department.TRAINING]
    assert all(out.key == str(event.case_id) for out in decision.outputs)
    assert decision.outputs[0].value["event_id"] == str(derived_id(event.event_id, "routed"))


# --- queue order -------------------------------------------------------------------------------


def test_queue_orders_by_priority_then_due_date_then_age() -> None:
    """Critical before High; earlier due dates first, none last; then the oldest first."""
    t0 = FRIDAY
    items = {
        "low": (Priority.LOW, None, t0),
        "high-no-due": (Priority.HIGH, None, t0),
        "high-due-late": (Priority.HIGH, date(2026, 12, 9), t0),
        "high-due-soon": (Priority.HIGH, date(2026, 12, 1), t0 + timedelta(hours=1)),
        "critical": (Priority.CRITICAL, None, t0 + timedelta(days=1)),
        "high-no-due-older": (Priority.HIGH, None, t0 - timedelta(hours=1)),
    }
    ordered = sorted(items, key=lambda name: queue_key(*items[name]))
    assert ordered == [
        "critical",
        "high-due-soon",
        "high-due-late",
        "high-no-due-older",
        "high-no-due",
        "low",
    ]


# --- business days ----------------------------------------------------------------------------


def test_ten_business_days_skip_weekends_and_thanksgiving(calendar: BusinessCalendar) -> None:
    """Entering verification on Friday 2026-11-20 closes on Monday 2026-12-07 (Chicago)."""
    timers = plan_timers(FRIDAY, "America/Chicago", calendar, remind_before=2)
    assert timers.closes_on == date(2026, 12, 7)
    assert timers.close_at == datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # 00:00 CST
    assert timers.remind_at == datetime(2026, 12, 3, 6, 0, tzinfo=UTC)


def test_entry_day_is_read_in_the_district_time_zone(calendar: BusinessCalendar) -> None:
    """Thursday 23:30 in Chicago is already Friday in Berlin; the district's date counts."""
    late_thursday = datetime(2026, 11, 20, 5, 30, tzinfo=UTC)
    chicago = plan_timers(late_thursday, "America/Chicago", calendar, 2)
    berlin = plan_timers(late_thursday, "Europe/Berlin", calendar, 2)
    assert chicago.closes_on == date(2026, 12, 4)
    assert berlin.closes_on == date(2026, 12, 7)


def test_holidays_follow_the_configured_subdivision() -> None:
    """A state holiday (Texas Independence Day, 2027-03-02) is skipped only for Texas."""
    monday = date(2027, 3, 1)
    assert BusinessCalendar("US").add(monday, 1) == date(2027, 3, 2)
    assert BusinessCalendar("US", "TX").add(monday, 1) == date(2027, 3, 3)


# --- assignment policies ----------------------------------------------------------------------


def test_round_robin_and_least_loaded_pick_deterministically() -> None:
    """Round robin walks the staff in id order; least loaded takes the fewest open cases."""
    staff = [StaffRef(id=i, name=i.upper()) for i in ("b", "a", "c")]
    picks = [pick_round_robin(staff, turn) for turn in range(4)]
    assert [p.id if p else None for p in picks] == ["a", "b", "c", "a"]
    assert pick_least_loaded(staff, {"a": 3, "b": 1, "c": 1}).id == "b"  # type: ignore[union-attr]
    assert pick_round_robin([], 0) is None


# --- the state machine, every cell ------------------------------------------------------------


def _fields_for(target: Status) -> dict[str, str]:
    fields = {"note": "written note"} if target in seed_facts.NOTE_REQUIRED else {}
    if target is Status.ASSIGNED_TO_DEVELOPMENT:
        fields["development_issue"] = "DEV-1234"
    if target is Status.AVAILABLE_IN_RELEASE:
        fields["release_name"] = "2547"
    return fields


CELLS = [(src, dst, kind) for src in Status for dst in Status for kind in ActorKind if src != dst]


@pytest.mark.parametrize(("source", "target", "kind"), CELLS)
def test_change_status_follows_the_transition_table(
    new_case: Callable[..., CaseSubmitted],
    context: Callable[..., Context],
    source: Status,
    target: Status,
    kind: ActorKind,
) -> None:
    """ChangeStatus succeeds exactly where the seeds (or a listed extra) allow the actor."""
    state = _state(new_case, context, source, closed_at=FRIDAY, timers=None)
    allowed = (source.value, target.value, kind.value) in seed_facts.ALLOWED_MOVES
    due = context(FRIDAY + timedelta(days=1))
    decision = on_command(state, _change(target, ACTORS[kind], state, **_fields_for(target)), due)
    if kind is ActorKind.SYSTEM and target is Status.CLOSED and allowed:
        assert decision.outcome is Outcome.IGNORED  # the timer closes only when due
    elif allowed:
        assert decision.outcome is Outcome.APPLIED, decision.reason
        assert decision.state is not None
        assert decision.state.status is target
        assert _types(decision)[0] == "case.status_changed"
    else:
        assert decision.outcome is Outcome.REJECTED
        assert _types(decision) == ["case.command_rejected"]
        assert decision.reason
        assert "cannot move" in decision.reason


@pytest.mark.parametrize("target", [Status(t) for t in sorted(seed_facts.NOTE_REQUIRED)])
def test_statuses_that_need_a_note_refuse_without_one(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context], target: Status
) -> None:
    """Escalation, resolution, input requests, releases and reopens need their written note."""
    source = next(
        Status(a) for a, b, who in sorted(seed_facts.ALLOWED_MOVES) if (b, who) == (target, "staff")
    )
    state = _state(new_case, context, source, closed_at=FRIDAY)
    fields = {k: v for k, v in _fields_for(target).items() if k != "note"}
    decision = on_command(state, _change(target, STAFF, state, **fields), context())
    assert decision.outcome is Outcome.REJECTED
    assert decision.reason
    assert "requires a note" in decision.reason


def test_escalation_needs_the_development_issue(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """Assigned to Development without an issue number is rejected, with it recorded."""
    state = _state(new_case, context, Status.ASSIGNED)
    bare = on_command(
        state, _change(Status.ASSIGNED_TO_DEVELOPMENT, STAFF, state, note="n"), context()
    )
    assert bare.reason
    assert "development_issue" in bare.reason
    full = on_command(
        state,
        _change(Status.ASSIGNED_TO_DEVELOPMENT, STAFF, state, note="n", development_issue="DEV-9"),
        context(),
    )
    assert full.state is not None
    assert full.state.development_issue == "DEV-9"
    assert full.outputs[0].value["development_issue"] == "DEV-9"


# --- contacts' posts --------------------------------------------------------------------------


def _post(state: CaseState, author: Actor) -> PostAdded:
    return PostAdded(
        case_id=state.case_id, post_id=uuid4(), author=author, body_html="<p>x</p>", body_text="x"
    )


@pytest.mark.parametrize(
    "status", [Status.PENDING_CUSTOMER_INPUT, Status.PENDING_CUSTOMER_VERIFICATION]
)
def test_contact_post_on_pending_case_returns_it_to_assigned(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context], status: Status
) -> None:
    """A contact's answer moves a pending case back to Assigned and stops its timers."""
    state = _state(new_case, context, status)
    decision = on_post(state, _post(state, CONTACT), context())
    assert decision.state is not None
    assert (decision.state.status, decision.state.timers) == (Status.ASSIGNED, None)
    assert decision.outputs[0].value["command_id"] is None


def test_staff_post_leaves_the_status_alone(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """A staff post on a pending case keeps its status and only updates the queue item."""
    state = _state(new_case, context, Status.PENDING_CUSTOMER_INPUT)
    decision = on_post(state, _post(state, STAFF), context())
    assert decision.state is not None
    assert decision.state.status is Status.PENDING_CUSTOMER_INPUT
    assert [(out.queue, out.value["type"]) for out in decision.outputs] == [
        (Department.CAMPUS_SUPPORT, "work.updated")
    ]


# --- reopen window ----------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "outcome"), [(60, Outcome.APPLIED), (61, Outcome.REJECTED)])
def test_contact_reopens_through_day_60_not_61(
    new_case: Callable[..., CaseSubmitted],
    context: Callable[..., Context],
    days: int,
    outcome: Outcome,
) -> None:
    """A contact reopens a closed case on day 60 after closing, not on day 61."""
    state = _state(new_case, context, Status.CLOSED, closed_at=FRIDAY)
    reopen = ReopenCase(case_id=state.case_id, actor=CONTACT, details="still broken")
    decision = on_command(state, reopen, context(FRIDAY + timedelta(days=days)))
    assert decision.outcome is outcome
    if outcome is Outcome.REJECTED:
        assert decision.reason
        assert "2027-01-19" in decision.reason


def test_staff_may_reopen_after_the_window(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """Staff reopen a case after 60 days (e.g. a regression); the window binds contacts."""
    state = _state(new_case, context, Status.CLOSED, closed_at=FRIDAY)
    reopen = ReopenCase(case_id=state.case_id, actor=STAFF, details="regression in 2611")
    decision = on_command(state, reopen, context(FRIDAY + timedelta(days=200)))
    assert decision.state is not None
    assert decision.state.status is Status.RE_OPENED


# --- assignment and timers ---------------------------------------------------------------------


def test_assigning_a_new_case_moves_it_to_assigned(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """AssignCase on a New case sets the assignee and moves it to Assigned."""
    state = _state(new_case, context)
    kelly = StaffRef(id="s-1", name="Kelly")
    decision = on_command(
        state, AssignCase(case_id=state.case_id, actor=STAFF, assignee=kelly), context()
    )
    assert decision.state is not None
    assert (decision.state.status, decision.state.assignee) == (Status.ASSIGNED, kelly)
    assert _types(decision) == ["case.status_changed", "case.assigned", "work.updated"]


def test_policy_assignment_without_staff_on_duty_is_rejected(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """Assigning by policy with nobody on duty says to name an assignee."""
    state = _state(new_case, context)
    decision = on_command(state, AssignCase(case_id=state.case_id, actor=STAFF), context())
    assert decision.reason
    assert "assignee_id" in decision.reason


def test_system_close_fires_only_when_due(
    new_case: Callable[..., CaseSubmitted],
    context: Callable[..., Context],
    calendar: BusinessCalendar,
) -> None:
    """The timer's close is dropped a second early and applied at the start of the day."""
    state = _state(new_case, context, Status.ASSIGNED)
    resolved = on_command(
        state, _change(Status.PENDING_CUSTOMER_VERIFICATION, STAFF, state, note="fixed"), context()
    ).state
    assert resolved is not None
    assert resolved.timers is not None
    close = CloseCase(case_id=state.case_id, actor=SYSTEM)
    early = on_command(resolved, close, context(resolved.timers.close_at - timedelta(seconds=1)))
    on_time = on_command(resolved, close, context(resolved.timers.close_at))
    assert early.outcome is Outcome.IGNORED
    assert early.outputs == []
    assert on_time.state is not None
    assert on_time.state.status is Status.CLOSED
    assert on_time.outputs[0].value["note"] == AUTO_CLOSE_NOTE


def test_follow_up_reminds_once_with_days_left(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """The reminder says when the case closes and how many business days are left."""
    state = _state(new_case, context, Status.ASSIGNED)
    resolved = on_command(
        state, _change(Status.PENDING_CUSTOMER_VERIFICATION, STAFF, state, note="fixed"), context()
    ).state
    assert resolved is not None
    assert resolved.timers is not None
    follow = FollowUpCase(
        case_id=state.case_id,
        actor=SYSTEM,
        closes_on=resolved.timers.closes_on,
        business_days_left=2,
    )
    first = on_command(resolved, follow, context(resolved.timers.remind_at))
    assert _types(first) == ["case.followed_up"]
    assert first.outputs[0].value["business_days_left"] == 2
    assert first.outputs[0].value["closes_on"] == "2026-12-07"
    assert first.state is not None
    assert on_command(first.state, follow, context(resolved.timers.remind_at)).outputs == []


def test_command_for_unknown_case_is_rejected(context: Callable[..., Context]) -> None:
    """A command for a case routing never saw is rejected with the reason."""
    decision = on_command(None, CloseCase(case_id=uuid4(), actor=CONTACT), context())
    assert decision.outcome is Outcome.REJECTED
    assert decision.reason
    assert "unknown" in decision.reason
