"""Routing's use cases: what each input record does to its case, and the staff API's calls."""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time
from typing import Literal
from uuid import UUID, uuid5

from routing.clock import Clock
from routing.errors import Forbidden, Invalid, NotFound
from routing.logic import (
    BusinessCalendar,
    Context,
    Decision,
    Malformed,
    RoutingTable,
    check_assignee,
    check_change,
    check_department,
    check_open,
    check_priority,
    check_transfer,
    describe_activity,
    on_command,
    on_malformed,
    on_post,
    on_sla_check,
    on_submitted,
    pick_least_loaded,
    pick_round_robin,
    suggest_priority,
)
from routing.models import (
    AppliedRecord,
    CasePublic,
    CaseState,
    CommandAccepted,
    CommandPublic,
    IncidentLinkCreate,
    Outgoing,
    PriorityCreate,
    QueueCounts,
    SlaCheck,
    SlaPublic,
    SlaTargetPublic,
    StatusChangeCreate,
    StatusCount,
    TimersPublic,
    WorkItemPublic,
)
from routing.report import SlaReport, case_row, sla_report, window_weeks
from routing.sla import TARGETS, SlaCalendar, SlaPolicy, next_due
from routing.store import (
    CaseStore,
    ClaimStore,
    CommandStore,
    CursorStore,
    Direction,
    QueueFilter,
    QueueOrder,
    SlaCase,
    outcome_doc,
)
from shared.cases import parse_case_ref
from shared.commands import (
    TEXT_MAX,
    AnyCaseCommand,
    AssignCase,
    CaseCommand,
    ChangePriority,
    ChangeStatus,
    LinkIncident,
    NoteIncidentResolved,
    RecordTriage,
    TransferCase,
)
from shared.directory import DirectoryStore, Principal
from shared.enums import ActorKind, Department, Status
from shared.events import AnyNoticeEvent, CaseSubmitted, NoticeResolved, PostAdded
from shared.messages import SYSTEM, StaffRef, Triage
from shared.mongo import Document
from shared.problems import excerpt
from shared.zones import DEFAULT_TIME_ZONE, ZoneCache

log = logging.getLogger("routing.service")

COMMANDS, EVENTS = "commands", "events"
EXCERPT = 40  # characters of a bad input an error message repeats
AssignmentPolicy = Literal["round_robin", "least_loaded"]
Publish = Callable[[CaseCommand], Awaitable[None]]
Message = AnyCaseCommand | Malformed | CaseSubmitted | PostAdded | SlaCheck
UNRECORDED = (CaseSubmitted, PostAdded, SlaCheck)  # inputs without an outcome to look up


# --- the single writer's use cases --------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """Where an input record sits: its input (`commands` or `events`), partition and
    offset, and the first offset of its batch on that partition (all before is committed)."""

    kind: str
    partition: int
    offset: int
    batch_start: int


@dataclass(frozen=True)
class Applied:
    """What one record did: messages to publish, the case to store (None: nothing to
    store) and, for a command, its outcome to record."""

    outputs: list[Outgoing]
    state: CaseState | None = None
    outcome: Document | None = None


@dataclass
class RoutingService:
    """What the engine asks per input record, with the lookups each decision needs."""

    table: RoutingTable
    calendar: BusinessCalendar
    clock: Clock
    zones: ZoneCache
    directory: DirectoryStore
    cases: CaseStore
    cursors: CursorStore
    policy: AssignmentPolicy = "round_robin"
    remind_before: int = 2
    sla: SlaPolicy | None = None

    async def apply(self, message: Message, state: CaseState | None, at: Position) -> Applied:
        """Apply a record to its case exactly once: a record the case already applied (Kafka
        redelivered it) gives back the outputs it caused then, and is not decided again."""
        replayed = _replay(state, at)
        if replayed is not None:
            return Applied(replayed)
        decision = await self.decide(message, state)
        new = decision.state or state
        stored = _remember(new, at, decision.outputs) if new is not None else None
        outcome = None
        if at.kind == COMMANDS and not isinstance(message, UNRECORDED):
            outcome = self._outcome(message, decision)
        return Applied(decision.outputs, stored, outcome)

    async def decide(self, message: Message, state: CaseState | None) -> Decision:
        """The use case of a message, by its type."""
        match message:
            case Malformed():
                return self.on_malformed(message)
            case CaseSubmitted():
                return await self.on_case_submitted(message, state)
            case PostAdded():
                return await self.on_post_added(message, state)
            case SlaCheck():
                return await self.on_sla_check(message, state)
            case _:
                return await self.on_case_command(message, state)

    async def on_case_submitted(self, event: CaseSubmitted, state: CaseState | None) -> Decision:
        """Route a new case; a second CaseSubmitted for a known case changes nothing."""
        if state is not None:
            return Decision(None)
        route = self.table.route(event.case_type, getattr(event.details, "module", None))
        decision = on_submitted(event, route, await self._context(event.account_id))
        log.info("routed case %s to %s", event.case_number, route.department)
        return decision

    async def on_post_added(self, event: PostAdded, state: CaseState | None) -> Decision:
        """Every post becomes the case's last activity; a contact's post on a pending case
        hands it back to support."""
        if state is None:
            return Decision(None)
        return on_post(state, event, await self._context(state.account_id))

    async def on_case_command(self, command: AnyCaseCommand, state: CaseState | None) -> Decision:
        """Apply a command with the directory's view of the acting staff member (and of the
        assignee it names), picking an assignee first when the command leaves it to policy."""
        ctx = await self._context(state.account_id if state else None)
        if state is None:
            return on_command(state, command, ctx)
        if command.actor.kind is ActorKind.STAFF:
            ctx = replace(ctx, staff=await self.directory.staff(command.actor.id))
        if isinstance(command, AssignCase) and command.assignee is not None:
            ctx = replace(ctx, assignee=await self.directory.staff(command.assignee.id))
        elif isinstance(command, AssignCase):
            ctx = replace(ctx, auto_assignee=await self._pick(state.department))
        return on_command(state, command, ctx)

    async def on_sla_check(self, command: SlaCheck, state: CaseState | None) -> Decision:
        """Announce the SLA warnings and breaches the case owes by now."""
        ctx = await self._context(state.account_id if state else None)
        return on_sla_check(state, command, ctx)

    def on_malformed(self, command: Malformed) -> Decision:
        """Reject a command that breaks its contract, with the fields it breaks."""
        return on_malformed(command, Context(self.clock.now(), self.calendar, DEFAULT_TIME_ZONE))

    async def _context(self, account_id: str | None) -> Context:
        zone = await self.zones.zone_of(account_id) if account_id else DEFAULT_TIME_ZONE
        return Context(self.clock.now(), self.calendar, zone, self.remind_before, sla=self.sla)

    async def _pick(self, department: Department) -> StaffRef | None:
        members = await self.directory.staff_in(department)
        on_duty = [StaffRef(id=m.id, name=m.name, email=str(m.email)) for m in members if m.on_duty]
        if not on_duty:
            return None
        if self.policy == "least_loaded":
            loads = await self.cases.open_loads(department, [s.id for s in on_duty])
            return pick_least_loaded(on_duty, loads)
        return pick_round_robin(on_duty, await self.cursors.next_turn(department))

    def _outcome(self, command: AnyCaseCommand | Malformed, decision: Decision) -> Document:
        return outcome_doc(
            command.event_id,
            command.case_id,
            command.type,
            decision.outcome,
            decision.reason,
            self.clock.now(),
        )


def _replay(state: CaseState | None, at: Position) -> list[Outgoing] | None:
    """The recorded outputs of a record this case already applied, or None if it is new."""
    if state is None or state.offsets.get(at.kind, -1) < at.offset:
        return None
    for applied in state.recent.get(at.kind, []):
        if applied.offset == at.offset:
            return applied.outputs
    return []


def _remember(state: CaseState, at: Position, outputs: list[Outgoing]) -> CaseState:
    """Record the applied offset and its outputs; entries before the batch are committed."""
    kept = [r for r in state.recent.get(at.kind, []) if r.offset >= at.batch_start]
    recent = {**state.recent, at.kind: [*kept, AppliedRecord(offset=at.offset, outputs=outputs)]}
    offsets = {**state.offsets, at.kind: at.offset}
    partitions = {**state.partitions, at.kind: at.partition}
    return state.model_copy(update={"recent": recent, "offsets": offsets, "partitions": partitions})


# --- the staff API's use cases ------------------------------------------------------------


@dataclass
class StaffService:
    """Reads of queues, cases and outcomes, and the commands staff send to the single writer."""

    cases: CaseStore
    claims: ClaimStore
    commands: CommandStore
    directory: DirectoryStore
    publish: Publish
    clock: Clock
    sla: SlaPolicy | None = None  # the clocks' targets and calendars, for the SLA report

    async def queue(
        self,
        department_slug: str,
        where: QueueFilter,
        limit: int,
        offset: int,
        order: QueueOrder = "work",
        direction: Direction = "asc",
    ) -> list[WorkItemPublic]:
        """A department's open work (or the asked status), in work order, by urgency or by
        a column."""
        department = _queue_of(department_slug, where)
        docs = await self.cases.queue(department, where, limit, offset, order, direction)
        now = self.clock.now()
        return [work_item_public(CaseState.model_validate(doc), now) for doc in docs]

    async def queue_counts(self, department_slug: str, where: QueueFilter) -> QueueCounts:
        """How many of the queue's items match `where`, in all and per status."""
        counts = await self.cases.queue_counts(_queue_of(department_slug, where), where)
        statuses = [StatusCount(status=s, count=counts[s.value]) for s in Status if s in counts]
        return QueueCounts(total=sum(counts.values()), statuses=statuses)

    async def sla_report(self, weeks: int, caller: Principal) -> SlaReport:
        """SLA targets met per department and ISO week: the caller's departments, or all
        for supervisors (the queues' rule)."""
        window = window_weeks(self.clock.now(), weeks)
        mine = None if caller.supervisor else list(caller.departments)
        since = datetime.combine(window[0], time(), UTC)
        found = await self.cases.sla_started_since(since, mine)
        rows = [case_row(c.department, c.sla, self._calendar(c)) for c in found]
        return sla_report([row for row in rows if row is not None], window)

    def _calendar(self, case: SlaCase) -> SlaCalendar | None:
        """The business calendar the case's clocks run on (None with the clocks off)."""
        if self.sla is None:
            return None
        terms = self.sla.terms(case.priority, case.case_type, case.account_id, case.time_zone)
        return terms.calendar

    async def take(self, department_slug: str, caller: Principal) -> CommandAccepted:
        """Claim the queue's next unassigned New or Re-Opened case and assign it to the caller."""
        department = department_of(department_slug)
        if not caller.acts_for(department):
            raise Forbidden(
                f"you are not staff of {department}: take from your own departments' queues "
                "(supervisors take from any)"
            )
        case_id = await self._claim_next(department, caller)
        if case_id is None:
            raise NotFound(f"queue {department.slug} has no unassigned New or Re-Opened case")
        assignee = StaffRef(id=caller.id, name=caller.name, email=caller.email)
        return await self._send(AssignCase(case_id=case_id, actor=caller.actor, assignee=assignee))

    async def case(self, case_ref: str) -> CasePublic:
        """Routing's view of a case, by number or id."""
        return case_public(await self._case(case_ref), self.clock.now())

    async def assign(
        self, case_ref: str, assignee_id: str | None, caller: Principal
    ) -> CommandAccepted:
        """Assign the case to a staff member of its department, or by policy when none named."""
        state = await self._case_of(case_ref, caller)
        check_open(state, "assigned")
        assignee = None
        if assignee_id:
            assignee = check_assignee(state, assignee_id, await self.directory.staff(assignee_id))
        command = AssignCase(case_id=state.case_id, actor=caller.actor, assignee=assignee)
        return await self._send(command)

    async def transfer(
        self, case_ref: str, department: Department, reason: str, caller: Principal
    ) -> CommandAccepted:
        """Move the case to another department's queue, unassigned, with the reason."""
        state = await self._case_of(case_ref, caller)
        check_transfer(state, department)
        command = TransferCase(
            case_id=state.case_id, actor=caller.actor, department=department, reason=reason
        )
        return await self._send(command)

    async def record_triage(
        self, case_ref: str, triage: Triage, caller: Principal
    ) -> CommandAccepted:
        """Record (or revise) the case's impact assessment."""
        state = await self._case_of(case_ref, caller)
        check_open(state, "triaged")
        return await self._send(
            RecordTriage(case_id=state.case_id, actor=caller.actor, triage=triage)
        )

    async def change_priority(
        self, case_ref: str, change: PriorityCreate, caller: Principal
    ) -> CommandAccepted:
        """Set the case's priority; the SLA due times follow."""
        state = await self._case_of(case_ref, caller)
        check_priority(state, change.priority)
        command = ChangePriority(
            case_id=state.case_id,
            actor=caller.actor,
            priority=change.priority,
            reason=change.reason,
        )
        return await self._send(command)

    async def link_incident(
        self, case_ref: str, link: IncidentLinkCreate, caller: Principal
    ) -> CommandAccepted:
        """Link the case to a status-board incident (already linked: accepted, no change)."""
        state = await self._case_of(case_ref, caller)
        check_open(state, "linked to an incident")
        command = LinkIncident(
            case_id=state.case_id, actor=caller.actor, notice_id=link.notice_id, title=link.title
        )
        return await self._send(command)

    async def unlink_incident(
        self, case_ref: str, notice_id: str, caller: Principal
    ) -> CommandAccepted:
        """Remove the case's link to an incident."""
        state = await self._case_of(case_ref, caller)
        linked = state.incident(notice_id)
        if linked is None:
            raise NotFound(
                f"case {state.case_number} is not linked to incident "
                f"{excerpt(notice_id, EXCERPT)!r}: GET /cases/{state.case_number} lists its links"
            )
        command = LinkIncident(
            case_id=state.case_id,
            actor=caller.actor,
            notice_id=linked.notice_id,
            title=linked.title,
            unlink=True,
        )
        return await self._send(command)

    async def linked_cases(self, notice_id: str, caller: Principal) -> list[CasePublic]:
        """The cases linked to an incident that the caller may act on (a supervisor: all)."""
        now = self.clock.now()
        return [
            case_public(state, now)
            for state in await self.cases.linked_to(notice_id)
            if caller.acts_for(state.department)
        ]

    async def change_status(
        self, case_ref: str, change: StatusChangeCreate, caller: Principal
    ) -> CommandAccepted:
        """Move the case to another status, if the workflow allows it from its status now."""
        state = await self._case_of(case_ref, caller)
        command = ChangeStatus(case_id=state.case_id, actor=caller.actor, **change.model_dump())
        check_change(state, command)
        return await self._send(command)

    async def command(self, command_id: UUID) -> CommandPublic:
        """Whether a command was applied, rejected (and why) or is still pending."""
        doc = await self.commands.get(command_id)
        if doc is None:
            raise NotFound(f"command_id {command_id} is unknown: use the id a 202 answer gave")
        return CommandPublic(command_id=command_id, **{k: v for k, v in doc.items() if k != "_id"})

    async def _claim_next(self, department: Department, caller: Principal) -> UUID | None:
        for case_id in await self.cases.takeable(department):
            if await self.claims.claim(case_id, caller.id, self.clock.now()):
                return case_id
        return None

    async def _case(self, case_ref: str) -> CaseState:
        """The case a number or an id names (shared.cases.parse_case_ref), if routing knows it."""
        ref = parse_case_ref(case_ref)
        state = None
        if isinstance(ref, int):
            state = await self.cases.by_number(ref)
        elif ref is not None:
            state = await self.cases.get(ref)
        if state is None:
            raise NotFound(
                f"case_id {excerpt(case_ref, EXCERPT)} is unknown to routing (not submitted, or "
                "not routed yet): use a case number (e.g. 1000003) or a case id (UUID)"
            )
        return state

    async def _case_of(self, case_ref: str, caller: Principal) -> CaseState:
        """The case, if the caller may act on it: staff of its department, or a supervisor."""
        state = await self._case(case_ref)
        check_department(state, caller)
        return state

    async def _send(self, command: AnyCaseCommand) -> CommandAccepted:
        """Publish to the single writer; its outcome reads as pending until the engine decides
        (a repeat of the same command id keeps the outcome already recorded)."""
        await self.commands.pending(
            command.event_id, command.case_id, command.type, self.clock.now()
        )
        await self.publish(command)
        return CommandAccepted(
            command_id=command.event_id,
            case_id=command.case_id,
            outcome_url=f"/commands/{command.event_id}",
        )


class IncidentNotes:
    """When the status board resolves an incident, each case linked to it is told, once."""

    def __init__(self, cases: CaseStore, publish: Publish) -> None:
        self.cases = cases
        self.publish = publish

    async def on_notice(self, event: AnyNoticeEvent) -> int:
        """One NoteIncidentResolved per linked case whose resolution is not noted yet; the
        number sent. Its id derives from the case and notice, and the case keeps the
        resolution once noted, so a redelivered notice notes nothing twice."""
        if not isinstance(event, NoticeResolved):
            return 0
        notice = event.notice
        last_word = notice.updates[0].body if notice.updates else notice.body
        sent = 0
        for state in await self.cases.linked_to(notice.id):
            link = state.incident(notice.id)
            if link is None or link.resolved_at is not None:
                continue
            await self.publish(
                NoteIncidentResolved(
                    event_id=uuid5(state.case_id, f"incident-resolved:{notice.id}"),
                    case_id=state.case_id,
                    actor=SYSTEM,
                    notice_id=notice.id,
                    title=notice.title,
                    resolution=last_word[:TEXT_MAX],
                )
            )
            sent += 1
        if sent:
            log.info("incident %s resolved: noted on %d linked cases", notice.id, sent)
        return sent


def department_of(slug: str) -> Department:
    """The department a queue slug names."""
    try:
        return Department.from_slug(slug)
    except ValueError as exc:
        known = ", ".join(d.slug for d in Department)
        raise NotFound(f"department_slug: no such department; one of {known}") from exc


def _summary(state: CaseState, now: datetime) -> str | None:
    return describe_activity(state.last_activity, state.last_actor, state.last_activity_at, now)


def _queue_of(department_slug: str, where: QueueFilter) -> Department:
    """The department whose queue is asked for, once the filters are seen to agree."""
    department = department_of(department_slug)
    if where.assignee_id and where.unassigned:
        raise Invalid("assignee and unassigned exclude each other: send one of them")
    return department


def work_item_public(state: CaseState, now: datetime) -> WorkItemPublic:
    """A case as a queue entry, with its last activity and next due point for people."""
    due = next_due(state.sla)
    left = int((due - now).total_seconds()) if due is not None else None
    return WorkItemPublic(
        **state.work_item().model_dump(),
        status_since=state.status_since,
        last_activity_summary=_summary(state, now),
        next_due_at=due,
        due_in_seconds=left,
        due_in=describe_due(left),
        breached=any(state.sla.mark(t).breached for t in TARGETS) if state.sla else False,
    )


def describe_due(seconds: int | None) -> str | None:
    """Time to the next due point for people: 'due in 2 h 10 min', 'overdue by 3 d 4 h'."""
    if seconds is None:
        return None
    span = abs(seconds)
    days, hours, minutes = span // 86_400, span % 86_400 // 3600, span % 3600 // 60
    parts = [f"{days} d"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes and not days else []
    text = " ".join(parts) or "less than a minute"
    return f"due in {text}" if seconds >= 0 else f"overdue by {text}"


def case_public(state: CaseState, now: datetime) -> CasePublic:
    """Routing's view of a case, without its engine bookkeeping."""
    timers = state.timers
    public_timers = (
        TimersPublic(
            remind_at=timers.remind_at,
            close_at=timers.close_at,
            closes_on=timers.closes_on,
            reminded=timers.reminded,
        )
        if timers
        else None
    )
    fields = state.model_dump(
        exclude={"timers", "offsets", "recent", "contact_id", "time_zone", "sla", "partitions"}
    )
    triage = state.triage
    return CasePublic(
        **fields,
        timers=public_timers,
        last_activity_summary=_summary(state, now),
        sla=sla_public(state),
        suggested_priority=suggest_priority(triage, state.case_type) if triage else None,
    )


def sla_public(state: CaseState) -> SlaPublic | None:
    """A case's SLA clocks for people, without their bookkeeping."""
    sla = state.sla
    if sla is None:
        return None
    targets = {
        target: SlaTargetPublic(**sla.mark(target).model_dump(include=_TARGET_FIELDS))
        for target in TARGETS
    }
    paused = not sla.running and state.status is not Status.CLOSED
    return SlaPublic(paused=paused, **targets)


_TARGET_FIELDS = {"due_at", "met_at", "warned", "breached"}
