"""Pure routing decisions: the routing table, queue order, business days and the workflow."""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

import holidays
from pydantic import BaseModel

from routing.errors import (
    AssigneeRefused,
    CaseClosed,
    MoveRefused,
    NoRoute,
    OtherDepartment,
    PriorityRefused,
    Refused,
    SameDepartment,
    Stale,
    TextRequired,
)
from routing.models import Activity, CaseState, Outcome, Outgoing, SlaCheck, Timers
from routing.sla import (
    Due,
    SlaPolicy,
    SlaState,
    Terms,
    announced,
    due_now,
    moved,
    refresh,
    responded,
    start,
)
from shared.cases import module_of
from shared.commands import (
    AnyCaseCommand,
    AssignCase,
    ChangePriority,
    ChangeStatus,
    CloseCase,
    FollowUpCase,
    LinkIncident,
    NoteIncidentResolved,
    RecordTriage,
    ReopenCase,
    TransferCase,
)
from shared.enums import ActorKind, CaseType, Department, Module, Priority, Status, Visibility
from shared.events import (
    CaseAssigned,
    CaseFollowedUp,
    CaseRouted,
    CaseSubmitted,
    CommandRejected,
    IncidentLinked,
    LinkedIncidentResolved,
    PostAdded,
    PriorityChanged,
    SlaBreached,
    SlaWarning,
    StaffMember,
    StatusChanged,
    TriageRecorded,
    WorkItemQueued,
    WorkItemUpdated,
)
from shared.messages import Actor, IncidentLink, StaffRef, Triage
from shared.workflow import (
    AUTO_CLOSE_BUSINESS_DAYS,
    REOPEN_WINDOW_DAYS,
    TransitionRefused,
    allowed_targets,
    can_reopen,
    check_transition,
    priority_allowed,
)

AUTO_CLOSE_NOTE = f"closed after {AUTO_CLOSE_BUSINESS_DAYS} business days without a response"
_IDS = UUID("6f1d3c2e-9a4b-4f7e-8c1d-2b3a4c5d6e7f")
_NO_DUE = "9999-12-31"
MAX_INCIDENTS = 20  # incidents one case may be linked to


def derived_id(source: UUID, role: str) -> UUID:
    """The id of the message `role` caused by input `source`: the same on every redelivery."""
    return uuid5(_IDS, f"{source}:{role}")


# --- routing table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """Where a case goes and whether its service may be billable."""

    department: Department
    billable: bool


@dataclass(frozen=True)
class RoutingRule:
    """Cases of `case_type` (and `module`, when set) go to `route`."""

    case_type: CaseType
    module: Module | None
    route: Route


@dataclass(frozen=True)
class RoutingTable:
    """Ordered rules; the first that matches a case wins."""

    rules: tuple[RoutingRule, ...]

    @classmethod
    def from_json(cls, text: str) -> "RoutingTable":
        """Parse the table file's JSON."""
        return cls(tuple(_rule(raw) for raw in json.loads(text)["rules"]))

    @classmethod
    def load(cls, path: Path | None = None) -> "RoutingTable":
        """The table at `path`, or the one shipped in the package."""
        if path is not None:
            return cls.from_json(path.read_text(encoding="utf-8"))
        return cls.from_json(resources.files("routing").joinpath("routes.json").read_text())

    def route(self, case_type: CaseType, module: Module | None) -> Route:
        """The department and billable flag for a case."""
        for rule in self.rules:
            if rule.case_type is case_type and rule.module in (None, module):
                return rule.route
        raise NoRoute(f"no routing rule for case type '{case_type}'; add one to routes.json")


def _rule(raw: dict[str, Any]) -> RoutingRule:
    module = Module(raw["module"]) if raw.get("module") else None
    route = Route(Department(raw["department"]), bool(raw["billable"]))
    return RoutingRule(CaseType(raw["case_type"]), module, route)


# --- queue order -----------------------------------------------------------------------------


def queue_fields(priority: Priority, due_date: date | None) -> dict[str, Any]:
    """Stored sort fields: priority rank, then due date with none last (then age)."""
    return {
        "priority_rank": priority.rank,
        "due_sort": due_date.isoformat() if due_date else _NO_DUE,
    }


def queue_key(priority: Priority, due_date: date | None, created_at: datetime) -> tuple[Any, ...]:
    """Queue order: Critical first, earliest due date (none last), oldest first."""
    return (priority.rank, due_date or date.max, created_at)


# --- business days ---------------------------------------------------------------------------


class BusinessCalendar:
    """Weekdays that are not public holidays of a country (and subdivision)."""

    def __init__(self, country: str = "US", subdivision: str | None = None) -> None:
        self._holidays = holidays.country_holidays(country, subdiv=subdivision)

    def is_business_day(self, day: date) -> bool:
        """Monday to Friday and not a holiday."""
        return day.weekday() < 5 and day not in self._holidays

    def add(self, day: date, count: int) -> date:
        """The `count`-th business day after `day` (`day` itself never counts)."""
        while count > 0:
            day += timedelta(days=1)
            count -= self.is_business_day(day)
        return day


def local_midnight(day: date, time_zone: str) -> datetime:
    """The start of `day` in the district's time zone, as aware UTC."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(time_zone)).astimezone(UTC)


def plan_timers(
    entered_at: datetime, time_zone: str, calendar: BusinessCalendar, remind_before: int
) -> Timers:
    """A case entering verification closes at the start of the 10th business day after that day.

    The day it enters never counts; the reminder falls `remind_before` business days earlier.
    """
    entered_on = entered_at.astimezone(ZoneInfo(time_zone)).date()
    closes_on = calendar.add(entered_on, AUTO_CLOSE_BUSINESS_DAYS)
    remind_on = calendar.add(entered_on, max(1, AUTO_CLOSE_BUSINESS_DAYS - remind_before))
    return Timers(
        remind_at=local_midnight(remind_on, time_zone),
        close_at=local_midnight(closes_on, time_zone),
        closes_on=closes_on,
    )


def business_days_left(timers: Timers, now: datetime, tz: str, cal: BusinessCalendar) -> int:
    """Business days from today (district time) until the closing day."""
    today, left = now.astimezone(ZoneInfo(tz)).date(), 0
    while cal.add(today, left) < timers.closes_on:
        left += 1
    return left


# --- assignment policies ---------------------------------------------------------------------


def pick_round_robin(staff: Sequence[StaffRef], turn: int) -> StaffRef | None:
    """The staff member whose turn it is, in id order."""
    ordered = sorted(staff, key=lambda s: s.id)
    return ordered[turn % len(ordered)] if ordered else None


def pick_least_loaded(staff: Sequence[StaffRef], loads: dict[str, int]) -> StaffRef | None:
    """The staff member with the fewest open cases; ties go to the lowest id."""
    return min(staff, key=lambda s: (loads.get(s.id, 0), s.id), default=None)


# --- the workflow ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What a decision needs besides the case: the time, calendar and resolved lookups
    (`staff`: the acting staff member, `assignee`: the one a command names, as the directory
    knows them; None when it does not)."""

    now: datetime
    calendar: BusinessCalendar
    time_zone: str
    remind_before: int = 2
    auto_assignee: StaffRef | None = None
    staff: StaffMember | None = None
    assignee: StaffMember | None = None
    sla: SlaPolicy | None = None


@dataclass
class Decision:
    """A new case state (None: unchanged), the messages to publish and the command's outcome."""

    state: CaseState | None
    outputs: list[Outgoing] = field(default_factory=list)
    outcome: Outcome = Outcome.APPLIED
    reason: str | None = None


def _with_work_item(new: CaseState, event: BaseModel, source: UUID, ctx: Context) -> Decision:
    """The new state, announced by `event` on case.events and its work item updated."""
    updated = WorkItemUpdated(
        event_id=derived_id(source, "work"), occurred_at=ctx.now, item=new.work_item()
    )
    return Decision(new, [_case_event(event, new.case_id), _work_event(new, updated)])


def _case_event(message: BaseModel, case_id: UUID) -> Outgoing:
    return Outgoing(key=str(case_id), value=message.model_dump(mode="json"))


def _work_event(state: CaseState, message: BaseModel) -> Outgoing:
    return Outgoing(
        queue=state.department, key=str(state.case_id), value=message.model_dump(mode="json")
    )


def on_submitted(event: CaseSubmitted, route: Route, ctx: Context) -> Decision:
    """A new case: route it to its department, announce it and queue the work item."""
    module = module_of(event.details)
    state = CaseState(
        case_id=event.case_id,
        case_number=event.case_number,
        account_id=event.account_id,
        contact_id=event.contact_id,
        subject=event.subject,
        case_type=event.case_type,
        module=module,
        priority=event.priority,
        due_date=event.due_date,
        created_at=event.occurred_at,
        department=route.department,
        billable=route.billable,
        status_since=ctx.now,
        time_zone=ctx.time_zone,
        last_activity_at=event.occurred_at,
        last_activity="submitted",
        last_actor=event.submitted_by,
    )
    terms = terms_of(state, ctx)
    if terms is not None:
        state = state.model_copy(update={"sla": start(event.occurred_at, terms)})
    routed = CaseRouted(
        event_id=derived_id(event.event_id, "routed"),
        occurred_at=ctx.now,
        case_id=event.case_id,
        department=route.department,
        billable=route.billable,
        queue=route.department.slug,
    )
    queued = WorkItemQueued(
        event_id=derived_id(event.event_id, "queued"), occurred_at=ctx.now, item=state.work_item()
    )
    return Decision(state, [_case_event(routed, event.case_id), _work_event(state, queued)])


def on_post(state: CaseState, post: PostAdded, ctx: Context) -> Decision:
    """Every post is the case's last activity; a contact's post answers a pending case: it
    goes back to its assignee (timers stop). An internal note answers nobody: the customer
    still waits for a reply, and the first response is still owed."""
    by_contact = post.author.kind is ActorKind.CONTACT
    internal = post.visibility is Visibility.INTERNAL
    noted = state.noted("post", post.author, post.occurred_at).model_copy(
        update={"customer_replied": state.customer_replied if internal else by_contact}
    )
    terms = terms_of(noted, ctx)
    answers = post.author.kind is ActorKind.STAFF and not internal
    if answers and noted.sla is not None and terms is not None:
        noted = noted.model_copy(update={"sla": responded(noted.sla, post.occurred_at, terms)})
    waiting = (Status.PENDING_CUSTOMER_INPUT, Status.PENDING_CUSTOMER_VERIFICATION)
    if by_contact and state.status in waiting:
        return _move(
            noted,
            Status.ASSIGNED,
            post.author,
            post.event_id,
            None,
            ctx,
            by_command=False,
            activity="post",
            at=post.occurred_at,
        )
    updated = WorkItemUpdated(
        event_id=derived_id(post.event_id, "work"), occurred_at=ctx.now, item=noted.work_item()
    )
    return Decision(noted, [_work_event(noted, updated)])


def describe_activity(
    activity: Activity | None, actor: Actor | None, at: datetime | None, now: datetime
) -> str | None:
    """The last activity for people: 'post 2 h ago by Zack Morris (contact)'."""
    if activity is None or at is None:
        return None
    who = f" by {actor.name} ({actor.kind})" if actor is not None else ""
    return f"{activity} {ago(at, now)}{who}"


def ago(then: datetime, now: datetime) -> str:
    """How long ago `then` was, roughly: 'just now', '5 min ago', '2 h ago', '3 d ago'."""
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def on_command(state: CaseState | None, command: AnyCaseCommand, ctx: Context) -> Decision:
    """Apply a command to a case, or reject it with the reason."""
    try:
        if state is None:
            raise Refused(f"case {command.case_id} is unknown to routing; submit it first")
        return _dispatch(state, command, ctx)
    except (Refused, TransitionRefused) as exc:
        return _reject(command, str(exc), ctx)
    except Stale as exc:
        return Decision(None, outcome=Outcome.IGNORED, reason=str(exc))


def _dispatch(state: CaseState, command: AnyCaseCommand, ctx: Context) -> Decision:
    authorize(state, command.actor, ctx.staff)
    match command:
        case CloseCase():
            return _close(state, command, ctx)
        case ReopenCase():
            return _reopen(state, command, ctx)
        case ChangeStatus():
            return _change(state, command, ctx)
        case AssignCase():
            return _assign(state, command, ctx)
        case FollowUpCase():
            return _follow_up(state, command, ctx)
        case TransferCase():
            return _transfer(state, command, ctx)
        case RecordTriage():
            return _triage(state, command, ctx)
        case ChangePriority():
            return _reprioritise(state, command, ctx)
        case LinkIncident():
            return _link(state, command, ctx)
        case NoteIncidentResolved():
            return _incident_resolved(state, command, ctx)


def authorize(state: CaseState, actor: Actor, staff: StaffMember | None) -> None:
    """Staff act on cases routed to their departments (supervisors on every case); refuse
    with the reason otherwise. Contacts and the system are bound by the workflow's rules."""
    if actor.kind is not ActorKind.STAFF:
        return
    if staff is None or staff.id != actor.id or not staff.active:
        raise Refused(f"staff {actor.id!r} is not an active staff member in the directory")
    check_department(state, staff)


class Member(Protocol):
    """Someone who may work cases: a directory staff member, or the caller of the staff API."""

    @property
    def name(self) -> str:
        """Their name, as refusals quote it."""
        ...

    @property
    def departments(self) -> Sequence[Department]:
        """The departments they work in."""
        ...

    def acts_for(self, department: Department) -> bool:
        """Whether they may act on a case routed to `department`."""
        ...


def check_department(state: CaseState, member: Member) -> None:
    """Refuse a member who works neither in the case's department nor as a supervisor."""
    if member.acts_for(state.department):
        return
    own = ", ".join(member.departments) or "no department"
    raise OtherDepartment(
        f"case {state.case_number} is routed to {state.department} and {member.name} is staff "
        f"of {own}: staff act on their departments' cases; {state.department} staff or a "
        "supervisor can act on it or transfer it"
    )


def check_open(state: CaseState, action: str) -> None:
    """Refuse to `action` (assign, transfer) a Closed case."""
    if state.status is Status.CLOSED:
        raise CaseClosed(f"a closed case cannot be {action}; reopen it first")


def check_transfer(state: CaseState, department: Department) -> None:
    """Refuse a transfer of a Closed case, or to the department it is already routed to."""
    check_open(state, "transferred")
    if department is state.department:
        raise SameDepartment(
            f"department: the case is already routed to {state.department}; pick another department"
        )


def check_change(state: CaseState, command: ChangeStatus) -> None:
    """Refuse a status change the workflow does not allow from the case's status, or one
    that lacks a text its target needs; the reason names the field."""
    allowed = allowed_targets(state.status, command.actor.kind)
    if command.to_status not in allowed:
        raise MoveRefused(
            f"to_status: a {command.actor.kind} cannot move a case from {state.status} to "
            f"{command.to_status}; allowed: {', '.join(allowed) or 'none'}"
        )
    try:
        check_transition(
            state.status,
            command.to_status,
            command.actor.kind,
            note=command.note,
            development_issue=command.development_issue,
            release_name=command.release_name,
        )
    except TransitionRefused as exc:
        raise TextRequired(str(exc)) from exc


def check_assignee(state: CaseState, staff_id: str, member: StaffMember | None) -> StaffRef:
    """The staff member named as assignee, if active and working the case's department."""
    if member is None or member.id != staff_id or not member.active:
        raise AssigneeRefused(
            f"assignee_id {staff_id!r} is not an active staff member in the directory; "
            "use a staff id"
        )
    if not member.acts_for(state.department):
        raise AssigneeRefused(
            f"assignee_id: {member.name} is not staff of {state.department}, which this case is "
            "routed to; assign one of its staff, or transfer the case first"
        )
    return StaffRef(id=member.id, name=member.name, email=str(member.email))


@dataclass(frozen=True)
class Malformed:
    """A command whose envelope reads but whose fields break the contract (e.g. blank
    reopen details from an older sender): rejected with the reason, never dead-lettered."""

    event_id: UUID
    case_id: UUID
    type: str
    actor: Actor
    reason: str


def on_malformed(command: Malformed, ctx: Context) -> Decision:
    """Reject a command that breaks its contract, naming the fields and their rules."""
    return _reject(command, command.reason, ctx)


def broken_fields(errors: Sequence[Any], type_: str) -> str:
    """Validation errors as one short reason: `field: rule` each, never the input itself."""
    parts = []
    for error in errors[:5]:
        loc = [str(part) for part in error.get("loc", ()) if str(part) != type_]
        message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        parts.append(f"{'.'.join(loc) or 'command'}: {message}")
    return "; ".join(parts)[:1_000]


def _reject(command: AnyCaseCommand | Malformed, reason: str, ctx: Context) -> Decision:
    rejected = CommandRejected(
        event_id=derived_id(command.event_id, "rejected"),
        occurred_at=ctx.now,
        case_id=command.case_id,
        command_id=command.event_id,
        command_type=command.type,
        reason=reason,
        actor=command.actor,
    )
    return Decision(None, [_case_event(rejected, command.case_id)], Outcome.REJECTED, reason)


def _close(state: CaseState, command: CloseCase, ctx: Context) -> Decision:
    if command.actor.kind is ActorKind.SYSTEM:
        _require_due(state, ctx)
    note = command.note or (AUTO_CLOSE_NOTE if command.actor.kind is ActorKind.SYSTEM else None)
    check_transition(state.status, Status.CLOSED, command.actor.kind, note=note)
    return _move(state, Status.CLOSED, command.actor, command.event_id, note, ctx)


def _require_due(state: CaseState, ctx: Context) -> None:
    timers = state.timers
    if state.status is not Status.PENDING_CUSTOMER_VERIFICATION or timers is None:
        raise Stale(f"auto-close dropped: the case is {state.status}, not awaiting verification")
    if timers.close_at > ctx.now:
        raise Stale(f"auto-close dropped: the case closes on {timers.closes_on}, not yet")


def _reopen(state: CaseState, command: ReopenCase, ctx: Context) -> Decision:
    check_transition(state.status, Status.RE_OPENED, command.actor.kind, note=command.details)
    closed_at = state.closed_at or state.status_since
    # Staff may reopen later: a regression found by support is not bound by the contact's window.
    if command.actor.kind is ActorKind.CONTACT and not can_reopen(
        closed_at, ctx.now, state.time_zone
    ):
        last = closed_at.astimezone(ZoneInfo(state.time_zone)).date() + timedelta(
            REOPEN_WINDOW_DAYS
        )
        raise Refused(
            f"a case reopens within {REOPEN_WINDOW_DAYS} days of closing; this one could be "
            f"reopened until {last} ({state.time_zone}); submit a new case instead"
        )
    return _move(state, Status.RE_OPENED, command.actor, command.event_id, command.details, ctx)


def _change(state: CaseState, command: ChangeStatus, ctx: Context) -> Decision:
    check_change(state, command)
    if command.to_status is Status.RE_OPENED:
        return _reopen(state, _as_reopen(command), ctx)
    if command.to_status is Status.CLOSED:
        return _close(state, _as_close(command), ctx)
    decision = _move(
        state,
        command.to_status,
        command.actor,
        command.event_id,
        command.note,
        ctx,
        development_issue=command.development_issue,
        release_name=command.release_name,
    )
    return _self_assign(decision, command, ctx) if _takes_ownership(state, command) else decision


def _as_reopen(command: ChangeStatus) -> ReopenCase:
    return ReopenCase(
        event_id=command.event_id,
        occurred_at=command.occurred_at,
        case_id=command.case_id,
        actor=command.actor,
        details=command.note or "",
    )


def _as_close(command: ChangeStatus) -> CloseCase:
    return CloseCase(
        event_id=command.event_id,
        occurred_at=command.occurred_at,
        case_id=command.case_id,
        actor=command.actor,
        note=command.note,
    )


def _takes_ownership(state: CaseState, command: ChangeStatus) -> bool:
    staff = command.actor.kind is ActorKind.STAFF
    return staff and command.to_status is Status.ASSIGNED and state.assignee is None


def _self_assign(decision: Decision, command: ChangeStatus, ctx: Context) -> Decision:
    assert decision.state is not None
    actor = command.actor
    return _with_assignee(
        decision, StaffRef(id=actor.id, name=actor.name), actor, command.event_id, ctx
    )


def _assign(state: CaseState, command: AssignCase, ctx: Context) -> Decision:
    if command.actor.kind is ActorKind.CONTACT:
        raise Refused("only staff or the system assign cases; contacts cannot")
    check_open(state, "assigned")
    assignee = command.assignee or ctx.auto_assignee
    if assignee is None:
        raise Refused(f"no staff member of {state.department} is on duty; name an assignee_id")
    if command.assignee is not None:
        check_assignee(state, command.assignee.id, ctx.assignee)
    if state.assignee is not None and state.assignee.id == assignee.id:
        return Decision(None, reason=f"already assigned to {assignee.name}")
    decision = Decision(state)
    if state.status in (Status.NEW, Status.RE_OPENED):
        decision = _move(state, Status.ASSIGNED, command.actor, command.event_id, None, ctx)
    return _with_assignee(decision, assignee, command.actor, command.event_id, ctx)


def _transfer(state: CaseState, command: TransferCase, ctx: Context) -> Decision:
    """Move the case to another department's queue, unassigned, keeping its status."""
    if command.actor.kind is not ActorKind.STAFF:
        raise Refused("only staff transfer cases to another department")
    check_transfer(state, command.department)
    # Billable follows the service asked for (the case type), not the department.
    moved = state.model_copy(update={"department": command.department, "assignee": None})
    new = moved.noted("transfer", command.actor, ctx.now)
    routed = CaseRouted(
        event_id=derived_id(command.event_id, "routed"),
        occurred_at=ctx.now,
        case_id=state.case_id,
        department=command.department,
        billable=state.billable,
        queue=command.department.slug,
        actor=command.actor,
        reason=command.reason,
        previous_department=state.department,
        previous_assignee=state.assignee,
        command_id=command.event_id,
    )
    left = WorkItemUpdated(
        event_id=derived_id(command.event_id, "left"), occurred_at=ctx.now, item=new.work_item()
    )
    queued = WorkItemQueued(
        event_id=derived_id(command.event_id, "queued"), occurred_at=ctx.now, item=new.work_item()
    )
    outputs = [
        _case_event(routed, state.case_id),
        _work_event(state, left),
        _work_event(new, queued),
    ]
    return Decision(new, outputs)


def suggest_priority(triage: Triage, case_type: CaseType) -> Priority:
    """The priority an impact assessment suggests (the seeds' Triage Process).

    Each answer adds to a score of 0 to 8: disruption 0 (Minimal) to 3 (Severe), daily
    functions blocked 2, no viable workaround 1, several schools or districts 1, several users
    1. Score 5 and up is High, 2 and up Medium, below that Low. Critical (the product is not
    operational) is only suggested on a Report an Outage case with daily functions blocked, no
    workaround and several sites affected, the one case type that may be Critical.
    """
    blocked, fallback = triage.daily_functions_blocked, triage.workaround_exists
    if case_type is CaseType.REPORT_AN_OUTAGE and blocked and not fallback and triage.several_sites:
        return Priority.CRITICAL
    score = triage.disruption.weight + 2 * blocked + (not fallback)
    score += triage.several_sites + triage.several_users
    if score >= 5:
        return Priority.HIGH
    return Priority.MEDIUM if score >= 2 else Priority.LOW


def check_priority(state: CaseState, priority: Priority) -> None:
    """Refuse Critical on any case but Report an Outage, a closed case, and no change."""
    check_open(state, "reprioritised")
    if not priority_allowed(state.case_type, priority):
        raise PriorityRefused(
            "priority: Critical is limited to 'Report an Outage' cases (the product is not "
            "operational); choose High, Medium or Low"
        )
    if priority is state.priority:
        raise Refused(f"case {state.case_number} is already {priority.value} priority")


def _triage(state: CaseState, command: RecordTriage, ctx: Context) -> Decision:
    """Keep staff's impact assessment on the case and its work item; nothing changes for the
    contact. A closed case keeps the assessment it had."""
    if command.actor.kind is not ActorKind.STAFF:
        raise Refused("only staff record the impact assessment of a case")
    check_open(state, "triaged")
    if state.triage == command.triage:
        return Decision(None, reason="the same assessment is already recorded")
    new = state.model_copy(update={"triage": command.triage})
    recorded = TriageRecorded(
        event_id=derived_id(command.event_id, "triage"),
        occurred_at=ctx.now,
        case_id=state.case_id,
        actor=command.actor,
        triage=command.triage,
        suggested_priority=suggest_priority(command.triage, state.case_type),
        command_id=command.event_id,
    )
    return _with_work_item(new, recorded, command.event_id, ctx)


def _reprioritise(state: CaseState, command: ChangePriority, ctx: Context) -> Decision:
    """Set the priority (staff); the SLA due times follow the new targets."""
    if command.actor.kind is not ActorKind.STAFF:
        raise Refused("only staff change the priority of a case")
    check_priority(state, command.priority)
    new = reprioritised(state, command.priority, ctx)
    changed = PriorityChanged(
        event_id=derived_id(command.event_id, "priority"),
        occurred_at=ctx.now,
        case_id=state.case_id,
        actor=command.actor,
        from_priority=state.priority,
        to_priority=command.priority,
        reason=command.reason,
        command_id=command.event_id,
    )
    return _with_work_item(new, changed, command.event_id, ctx)


def _link(state: CaseState, command: LinkIncident, ctx: Context) -> Decision:
    """Link the case to a status-board incident (staff), or remove the link; the contact sees
    both on the feed. A closed case keeps the links it had."""
    if command.actor.kind is not ActorKind.STAFF:
        raise Refused("only staff link a case to a status-board incident")
    linked = state.incident(command.notice_id)
    if command.unlink:
        if linked is None:
            raise Refused(
                f"case {state.case_number} is not linked to incident {command.notice_id!r}; "
                "nothing to unlink"
            )
        kept = [link for link in state.incidents if link.notice_id != command.notice_id]
    else:
        check_open(state, "linked to an incident")
        if linked is not None:
            return Decision(None, reason=f"already linked to incident {command.notice_id!r}")
        if len(state.incidents) >= MAX_INCIDENTS:
            raise Refused(
                f"case {state.case_number} is already linked to {MAX_INCIDENTS} incidents; "
                "unlink one first"
            )
        link = IncidentLink(notice_id=command.notice_id, title=command.title, linked_at=ctx.now)
        kept = [*state.incidents, link]
    new = state.model_copy(update={"incidents": kept})
    event = IncidentLinked(
        event_id=derived_id(command.event_id, "incident"),
        occurred_at=ctx.now,
        case_id=state.case_id,
        actor=command.actor,
        notice_id=command.notice_id,
        title=(linked or command).title,  # an unlink names the incident as it was linked
        linked=not command.unlink,
        command_id=command.event_id,
    )
    return Decision(new, [_case_event(event, state.case_id)])


def _incident_resolved(state: CaseState, command: NoteIncidentResolved, ctx: Context) -> Decision:
    """Note a linked incident's resolution on the case, once: the feed shows it and notify
    mails the recipients. The status stays; staff resolve the case through the workflow."""
    if command.actor.kind is not ActorKind.SYSTEM:
        raise Refused("incident resolutions are noted by the system, from the status board")
    linked = state.incident(command.notice_id)
    if linked is None or linked.resolved_at is not None:
        raise Stale(f"incident {command.notice_id!r}: not linked, or its resolution is noted")
    resolved = linked.model_copy(update={"resolved_at": ctx.now})
    kept = [resolved if link is linked else link for link in state.incidents]
    new = state.model_copy(update={"incidents": kept})
    event = LinkedIncidentResolved(
        event_id=derived_id(command.event_id, "incident_resolved"),
        occurred_at=ctx.now,
        case_id=state.case_id,
        notice_id=command.notice_id,
        title=linked.title,
        resolution=command.resolution,
    )
    return Decision(new, [_case_event(event, state.case_id)])


def _with_assignee(
    decision: Decision, assignee: StaffRef, actor: Actor, source: UUID, ctx: Context
) -> Decision:
    assert decision.state is not None
    before = decision.state
    state = before.model_copy(update={"assignee": assignee}).noted("assignment", actor, ctx.now)
    assigned = CaseAssigned(
        event_id=derived_id(source, "assigned"),
        occurred_at=ctx.now,
        case_id=state.case_id,
        department=state.department,
        assignee=assignee,
        previous_assignee=before.assignee,
        actor=actor,
    )
    updated = WorkItemUpdated(
        event_id=derived_id(source, "work"), occurred_at=ctx.now, item=state.work_item()
    )
    kept = [out for out in decision.outputs if out.queue is None]
    return Decision(
        state, [*kept, _case_event(assigned, state.case_id), _work_event(state, updated)]
    )


def _follow_up(state: CaseState, command: FollowUpCase, ctx: Context) -> Decision:
    if command.actor.kind is not ActorKind.SYSTEM:
        raise Refused("follow-up reminders come from the system timer only")
    timers = state.timers
    pending = state.status is Status.PENDING_CUSTOMER_VERIFICATION and timers is not None
    if not pending or timers is None or timers.closes_on != command.closes_on or timers.reminded:
        raise Stale("follow-up dropped: the case is no longer awaiting that verification")
    followed = CaseFollowedUp(
        event_id=derived_id(command.event_id, "followed_up"),
        occurred_at=ctx.now,
        case_id=state.case_id,
        closes_on=timers.closes_on,
        business_days_left=business_days_left(timers, ctx.now, state.time_zone, ctx.calendar),
    )
    state = state.model_copy(update={"timers": timers.model_copy(update={"reminded": True})})
    return Decision(state, [_case_event(followed, state.case_id)])


def _move(
    state: CaseState,
    to: Status,
    actor: Actor,
    source: UUID,
    note: str | None,
    ctx: Context,
    *,
    by_command: bool = True,
    activity: Activity = "status change",
    at: datetime | None = None,
    **fields: str | None,
) -> Decision:
    """Move the case to `to`, set what that status implies and announce it; the move (or the
    post that caused it) is the last activity."""
    entering_pcv = to is Status.PENDING_CUSTOMER_VERIFICATION
    timers = (
        plan_timers(ctx.now, state.time_zone, ctx.calendar, ctx.remind_before)
        if entering_pcv
        else None
    )
    changes: dict[str, Any] = {"status": to, "status_since": ctx.now, "timers": timers}
    changes.update({k: v for k, v in fields.items() if v is not None})
    if to is Status.CLOSED:
        changes["closed_at"] = ctx.now
    changes.update(_clocked(state, to, actor, ctx))
    new = state.model_copy(update=changes).noted(activity, actor, at or ctx.now)
    changed = StatusChanged(
        event_id=derived_id(source, "status"),
        occurred_at=ctx.now,
        case_id=state.case_id,
        from_status=state.status,
        to_status=to,
        actor=actor,
        note=note,
        command_id=source if by_command else None,
        **fields,
    )
    return _with_work_item(new, changed, source, ctx)


# --- service-level clocks ------------------------------------------------------------------


def terms_of(state: CaseState, ctx: Context) -> Terms | None:
    """The calendar and budgets the case's clocks run on; None when clocks are off."""
    if ctx.sla is None:
        return None
    return ctx.sla.terms(state.priority, state.case_type, state.account_id, state.time_zone)


def _clocked(state: CaseState, to: Status, actor: Actor, ctx: Context) -> dict[str, SlaState]:
    """The clocks of the case moving to `to` (a staff member's change is a response), as a
    change to make with the move; none when it has no clocks."""
    terms = terms_of(state, ctx)
    if state.sla is None or terms is None:
        return {}
    by_staff = actor.kind is ActorKind.STAFF
    return {"sla": moved(state.sla, state.status, to, by_staff, ctx.now, terms)}


def reprioritised(state: CaseState, priority: Priority, ctx: Context) -> CaseState:
    """The case at another priority: its due moments follow the new targets (and calendar),
    over the same stretches of running time."""
    new = state.model_copy(update={"priority": priority})
    terms = terms_of(new, ctx)
    if new.sla is None or terms is None:
        return new
    return new.model_copy(update={"sla": refresh(new.sla, terms)})


def on_sla_check(state: CaseState | None, command: SlaCheck, ctx: Context) -> Decision:
    """Announce the warnings and breaches due now, each once; nothing due: ignored."""
    terms = terms_of(state, ctx) if state is not None else None
    if state is None or state.sla is None or terms is None:
        return Decision(None, outcome=Outcome.IGNORED, reason="the case has no SLA clocks")
    owed = due_now(state.sla, terms, ctx.now)
    if not owed:
        return Decision(None, outcome=Outcome.IGNORED, reason="no SLA warning or breach is due")
    new = state.model_copy(update={"sla": announced(state.sla, owed, terms)})
    events = [_case_event(sla_event(new, item, ctx.now), new.case_id) for item in owed]
    updated = WorkItemUpdated(
        event_id=derived_id(command.event_id, "work"), occurred_at=ctx.now, item=new.work_item()
    )
    return Decision(new, [*events, _work_event(new, updated)])


def sla_event(state: CaseState, due: Due, now: datetime) -> SlaWarning | SlaBreached:
    """The event announcing `due`; its id depends on the case, target and kind alone."""
    fields: dict[str, Any] = {
        "event_id": uuid5(state.case_id, f"sla:{due.target}:{due.kind}"),
        "occurred_at": now,
        "case_id": state.case_id,
        "target": due.target,
        "due_at": due.due_at,
        "priority": state.priority,
        "department": state.department,
        "assignee": state.assignee,
    }
    if due.kind == "warning":
        return SlaWarning(**fields, percent_elapsed=due.percent)
    return SlaBreached(**fields)
