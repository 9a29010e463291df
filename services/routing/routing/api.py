"""Staff HTTP API: department queues, take, assign, status, escalate, resolve, outcomes."""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, status
from fastapi.responses import Response

from routing.clock import Clock
from routing.logic import describe_activity
from routing.models import (
    AssignmentCreate,
    CasePublic,
    CaseState,
    CommandAccepted,
    CommandPublic,
    EscalationCreate,
    ResolutionCreate,
    StatusChangeCreate,
    TimersPublic,
    TransferCreate,
    WorkItemPublic,
)
from routing.store import CaseStore, ClaimStore, CommandStore, QueueFilter
from shared import tracing
from shared.cases import parse_case_ref
from shared.commands import AnyCaseCommand, AssignCase, ChangeStatus, TransferCase
from shared.directory import DirectoryStore, Principal, bearer_auth
from shared.enums import ActorKind, Department, Priority, Status
from shared.messages import StaffRef
from shared.problems import problem, problem_response, problem_responses
from shared.workflow import TRANSITIONS, TransitionRefused, allowed_targets, check_transition

Publish = Callable[[AnyCaseCommand], Awaitable[None]]
ACCEPTED = status.HTTP_202_ACCEPTED
ERRORS = problem_responses(
    401,
    (403, "Not a staff token, or not staff of the case's department"),
    (404, "No such department, case or command"),
    422,
)
CONFLICT = problem_responses((409, "The case's current state does not allow this"))
CaseRef = Annotated[
    str,
    Path(
        description="The case number (e.g. 1000003) or the case id (a UUID).",
        examples=["1000003"],
    ),
]
EXCERPT = 40  # characters of a bad input an error message repeats
MAX_LIMIT = 200
# Mongo's skip and limit are signed 64-bit: offset plus limit must stay within them.
MAX_OFFSET = 2**63 - 1 - MAX_LIMIT


class RoutingError(Exception):
    """Root of routing's API errors; `status_code` is the HTTP answer."""

    status_code = status.HTTP_400_BAD_REQUEST


class NotFound(RoutingError):
    """The department, case or command does not exist."""

    status_code = status.HTTP_404_NOT_FOUND


class Forbidden(RoutingError):
    """The caller may not do this."""

    status_code = status.HTTP_403_FORBIDDEN


class Conflict(RoutingError):
    """The case's current state does not allow this."""

    status_code = status.HTTP_409_CONFLICT


class Invalid(RoutingError):
    """A field breaks a rule."""

    status_code = status.HTTP_422_UNPROCESSABLE_CONTENT


@dataclass
class ApiDeps:
    """What the routes use, injected by the composition root."""

    cases: CaseStore
    claims: ClaimStore
    commands: CommandStore
    directory: DirectoryStore
    publish: Publish
    clock: Clock


def install_errors(app: FastAPI) -> None:
    """Map routing errors to problem details that say what was wrong and how to fix it."""

    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RoutingError)
        return problem_response(request, problem(exc.status_code, str(exc)))

    app.add_exception_handler(RoutingError, handle)


def build_router(deps: ApiDeps) -> APIRouter:
    """The staff API's routes."""
    router = APIRouter(tags=["staff"], responses=ERRORS, dependencies=[Depends(_bind_request_id)])
    principal = bearer_auth(lambda: deps.directory)
    Staff = Annotated[Principal, Depends(_staff_only(principal))]
    _queue_routes(router, deps, Staff)
    _case_routes(router, deps, Staff)
    return router


async def _bind_request_id(request: Request) -> AsyncIterator[None]:
    """The call's request id (the caller's X-Request-ID, else a fresh one) for the commands
    it publishes, unless the HTTP layer already bound one."""
    if tracing.current() is not None:
        yield
        return
    chosen = tracing.accepted(request.headers.get(tracing.HEADER)) or tracing.new_id()
    with tracing.bound(chosen):
        yield


def _staff_only(principal: Callable[..., Any]) -> Callable[..., Awaitable[Principal]]:
    async def staff(caller: Annotated[Principal, Depends(principal)]) -> Principal:
        if not caller.is_staff:
            raise Forbidden("the staff API needs a staff token; contacts use the intake API")
        return caller

    return staff


def _department(slug: str) -> Department:
    try:
        return Department.from_slug(slug)
    except ValueError as exc:
        known = ", ".join(d.slug for d in Department)
        raise NotFound(f"department_slug: no such department; one of {known}") from exc


def _queue_routes(router: APIRouter, deps: ApiDeps, Staff: Any) -> None:
    @router.get("/queues/{department_slug}", summary="A department's queue, in work order")
    async def list_queue(
        department_slug: str,
        caller: Staff,
        status_: Annotated[Status | None, Query(alias="status")] = None,
        priority: Priority | None = None,
        assignee: Annotated[str | None, Query(max_length=64)] = None,
        unassigned: bool = False,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        offset: Annotated[
            int, Query(ge=0, le=MAX_OFFSET, description="Items to skip, from 0 (at most 2^63-201).")
        ] = 0,
    ) -> list[WorkItemPublic]:
        department = _department(department_slug)
        if assignee and unassigned:
            raise Invalid("assignee and unassigned exclude each other: send one of them")
        where = QueueFilter(status_, priority, assignee, unassigned)
        docs = await deps.cases.queue(department, where, limit, offset)
        now = deps.clock.now()
        return [_work_item(CaseState.model_validate(doc), now) for doc in docs]

    @router.post(
        "/queues/{department_slug}/take",
        status_code=status.HTTP_202_ACCEPTED,
        summary="Take the next New or Re-Opened item and assign it to yourself",
    )
    async def take(department_slug: str, caller: Staff) -> CommandAccepted:
        department = _department(department_slug)
        if not caller.acts_for(department):
            raise Forbidden(
                f"you are not staff of {department}: take from your own departments' queues "
                "(supervisors take from any)"
            )
        case_id = await _claim_next(deps, department, caller)
        if case_id is None:
            raise NotFound(f"queue {department_slug} has no unassigned New or Re-Opened case")
        assignee = StaffRef(id=caller.id, name=caller.name, email=caller.email)
        return await _send(deps, AssignCase(case_id=case_id, actor=caller.actor, assignee=assignee))


def _case_routes(router: APIRouter, deps: ApiDeps, Staff: Any) -> None:
    @router.get("/cases/{case_id}", summary="Routing's view of a case")
    async def get_case(case_id: CaseRef, caller: Staff) -> CasePublic:
        return _case_public(await _case(deps, case_id), deps.clock.now())

    @router.post(
        "/cases/{case_id}/assign",
        summary="Assign to a staff member or by policy",
        status_code=ACCEPTED,
        responses=CONFLICT,
    )
    async def assign(case_id: CaseRef, body: AssignmentCreate, caller: Staff) -> CommandAccepted:
        state = await _case_of_caller(deps, case_id, caller)
        if state.status is Status.CLOSED:
            raise Conflict("the case is Closed: reopen it before assigning it")
        assignee = await _assignee(deps, body.assignee_id, state) if body.assignee_id else None
        command = AssignCase(case_id=state.case_id, actor=caller.actor, assignee=assignee)
        return await _send(deps, command)

    @router.post(
        "/cases/{case_id}/transfer",
        summary="Transfer to another department's queue, unassigned, with a reason",
        status_code=ACCEPTED,
        responses=CONFLICT,
    )
    async def transfer(case_id: CaseRef, body: TransferCreate, caller: Staff) -> CommandAccepted:
        state = await _case_of_caller(deps, case_id, caller)
        if state.status is Status.CLOSED:
            raise Conflict("the case is Closed: reopen it before transferring it")
        if body.department is state.department:
            raise Conflict(
                f"department: the case is already routed to {state.department}; "
                "pick another department"
            )
        command = TransferCase(
            case_id=state.case_id,
            actor=caller.actor,
            department=body.department,
            reason=body.reason,
        )
        return await _send(deps, command)

    @router.post(
        "/cases/{case_id}/status",
        summary="Change the case's status",
        status_code=ACCEPTED,
        responses=CONFLICT,
    )
    async def change(case_id: CaseRef, body: StatusChangeCreate, caller: Staff) -> CommandAccepted:
        return await _change(deps, case_id, caller, body)

    @router.post(
        "/cases/{case_id}/escalate",
        summary="Escalate to development",
        status_code=ACCEPTED,
        responses=CONFLICT,
    )
    async def escalate(case_id: CaseRef, body: EscalationCreate, caller: Staff) -> CommandAccepted:
        change = StatusChangeCreate(
            to_status=Status.ASSIGNED_TO_DEVELOPMENT,
            note=body.note,
            development_issue=body.development_issue,
        )
        return await _change(deps, case_id, caller, change)

    @router.post(
        "/cases/{case_id}/resolution",
        summary="Post the resolution (awaits verification)",
        status_code=ACCEPTED,
        responses=CONFLICT,
    )
    async def resolve(case_id: CaseRef, body: ResolutionCreate, caller: Staff) -> CommandAccepted:
        change = StatusChangeCreate(to_status=Status.PENDING_CUSTOMER_VERIFICATION, note=body.note)
        return await _change(deps, case_id, caller, change)

    @router.get(
        "/commands/{command_id}", summary="Whether a command was applied or rejected, and why"
    )
    async def get_command(command_id: UUID, caller: Staff) -> CommandPublic:
        doc = await deps.commands.get(command_id)
        if doc is None:
            raise NotFound(f"command_id {command_id} is unknown: use the id a 202 answer gave")
        return CommandPublic(command_id=command_id, **{k: v for k, v in doc.items() if k != "_id"})


async def _claim_next(deps: ApiDeps, department: Department, caller: Principal) -> UUID | None:
    for case_id in await deps.cases.takeable(department):
        if await deps.claims.claim(case_id, caller.id, deps.clock.now()):
            return case_id
    return None


async def _case(deps: ApiDeps, case_ref: str) -> CaseState:
    """The case a number or an id names (shared.cases.parse_case_ref), if routing knows it."""
    ref = parse_case_ref(case_ref)
    state = None
    if isinstance(ref, int):
        state = await deps.cases.by_number(ref)
    elif ref is not None:
        state = await deps.cases.get(ref)
    if state is None:
        raise NotFound(
            f"case_id {_excerpt(case_ref)} is unknown to routing (not submitted, or not routed "
            "yet): use a case number (e.g. 1000003) or a case id (UUID)"
        )
    return state


def _excerpt(text: str) -> str:
    """A bad input quoted for an error message: its start only, never all of it."""
    return repr(text if len(text) <= EXCERPT else text[:EXCERPT] + "…")


async def _case_of_caller(deps: ApiDeps, case_ref: str, caller: Principal) -> CaseState:
    """The case, if the caller may act on it: staff of its department, or a supervisor."""
    state = await _case(deps, case_ref)
    if not caller.acts_for(state.department):
        own = ", ".join(caller.departments) or "no department"
        raise Forbidden(
            f"case {state.case_number} is routed to {state.department} and you are staff of {own}: "
            f"staff act on their departments' cases; {state.department} staff or a supervisor "
            "can act on it or transfer it"
        )
    return state


async def _assignee(deps: ApiDeps, staff_id: str, state: CaseState) -> StaffRef:
    staff = await deps.directory.staff(staff_id)
    if staff is None or not staff.active:
        raise Invalid("assignee_id is not an active staff member; use a staff id")
    if not staff.acts_for(state.department):
        raise Invalid(
            f"assignee_id: {staff.name} is not staff of {state.department}, which this case is "
            "routed to; assign one of its staff, or transfer the case first"
        )
    return StaffRef(id=staff.id, name=staff.name, email=str(staff.email))


async def _change(
    deps: ApiDeps, case_ref: str, caller: Principal, body: StatusChangeCreate
) -> CommandAccepted:
    state = await _case_of_caller(deps, case_ref, caller)
    case_id = state.case_id
    who = TRANSITIONS[state.status].get(body.to_status)
    if who is None or ActorKind.STAFF not in who:
        allowed = ", ".join(allowed_targets(state.status, ActorKind.STAFF)) or "none"
        raise Conflict(
            f"to_status: a case in {state.status} cannot move to {body.to_status}; "
            f"allowed: {allowed}"
        )
    try:
        check_transition(
            state.status,
            body.to_status,
            ActorKind.STAFF,
            note=body.note,
            development_issue=body.development_issue,
            release_name=body.release_name,
        )
    except TransitionRefused as exc:
        raise Invalid(str(exc)) from exc
    command = ChangeStatus(case_id=case_id, actor=caller.actor, **body.model_dump())
    return await _send(deps, command)


async def _send(deps: ApiDeps, command: AnyCaseCommand) -> CommandAccepted:
    await deps.commands.pending(command.event_id, command.case_id, command.type, deps.clock.now())
    await deps.publish(command)
    return CommandAccepted(
        command_id=command.event_id,
        case_id=command.case_id,
        outcome_url=f"/commands/{command.event_id}",
    )


def _summary(state: CaseState, now: datetime) -> str | None:
    return describe_activity(state.last_activity, state.last_actor, state.last_activity_at, now)


def _work_item(state: CaseState, now: datetime) -> WorkItemPublic:
    return WorkItemPublic(
        **state.work_item().model_dump(),
        status_since=state.status_since,
        last_activity_summary=_summary(state, now),
    )


def _case_public(state: CaseState, now: datetime) -> CasePublic:
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
    fields = state.model_dump(exclude={"timers", "offsets", "recent", "contact_id", "time_zone"})
    return CasePublic(**fields, timers=public_timers, last_activity_summary=_summary(state, now))
