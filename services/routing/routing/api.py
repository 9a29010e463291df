"""Staff HTTP API: department queues, take, assign, status, escalate, resolve, outcomes."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query, Request, status
from fastapi.responses import Response

from routing.errors import Forbidden, Invalid, RoutingError
from routing.models import (
    ACCEPTED_EXAMPLE,
    ASSIGNMENT_EXAMPLES,
    CASE_EXAMPLE,
    COMMAND_EXAMPLE,
    ESCALATION_EXAMPLES,
    LINK_EXAMPLES,
    PRIORITY_EXAMPLES,
    QUEUE_COUNTS_EXAMPLE,
    QUEUE_EXAMPLE,
    RESOLUTION_EXAMPLES,
    STATUS_CHANGE_EXAMPLES,
    TRANSFER_EXAMPLES,
    TRIAGE_EXAMPLES,
    AssignmentCreate,
    CasePublic,
    CommandAccepted,
    CommandPublic,
    EscalationCreate,
    IncidentLinkCreate,
    PriorityCreate,
    QueueCounts,
    ResolutionCreate,
    StatusChangeCreate,
    TransferCreate,
    WorkItemPublic,
)
from routing.report import SlaReport
from routing.service import StaffService
from routing.store import Direction, QueueFilter, QueueOrder
from shared import tracing
from shared.directory import DirectoryStore, Principal, bearer_auth
from shared.enums import CaseType, Disruption, Priority, Status
from shared.messages import NOTICE_ID_PATTERN, Triage
from shared.problems import internal_error, problem, problem_response, problem_responses

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
Slug = Annotated[
    str, Path(description="The department's queue, e.g. `campus-support`.", examples=["training"])
]
MAX_LIMIT = 200
# Mongo's skip and limit are signed 64-bit: offset plus limit must stay within them.
MAX_OFFSET = 2**63 - 1 - MAX_LIMIT


def _ok(code: int, example: object) -> dict[int | str, dict[str, Any]]:
    """An answer's documented example (FastAPI adds the response model's schema)."""
    return {code: {"content": {"application/json": {"example": example}}}}


def _command(example: object = ACCEPTED_EXAMPLE) -> dict[int | str, dict[str, Any]]:
    return {**_ok(ACCEPTED, example), **CONFLICT}


def install_errors(app: FastAPI) -> None:
    """Answer every routing error with problem details by its `status`, in one place."""

    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RoutingError)
        if exc.status >= 500:  # never meant to reach a caller: say nothing about it
            return internal_error(request)
        return problem_response(request, problem(exc.status, str(exc)))

    app.add_exception_handler(RoutingError, handle)


def build_router(staff: StaffService, directory: DirectoryStore) -> APIRouter:
    """The staff API's routes."""
    router = APIRouter(tags=["staff"], responses=ERRORS, dependencies=[Depends(_bind_request_id)])
    caller = _staff_only(bearer_auth(lambda: directory))
    _queue_routes(router, staff, caller)
    _report_routes(router, staff, caller)
    _case_routes(router, staff, caller)
    _change_routes(router, staff, caller)
    _triage_routes(router, staff, caller)
    _incident_routes(router, staff, caller)
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


Caller = Callable[..., Awaitable[Principal]]


def _staff_only(principal: Caller) -> Caller:
    async def staff(caller: Annotated[Principal, Depends(principal)]) -> Principal:
        if not caller.is_staff:
            raise Forbidden("the staff API needs a staff token; contacts use the intake API")
        return caller

    return staff


SUBJECT_WORDS = 8  # words a subject filter may hold


def queue_filter(
    status_: Annotated[
        Status | None,
        Query(
            alias="status",
            description="Only this status (Closed cases are listed only when asked).",
            openapi_examples={"waiting": {"value": "Pending Customer Input"}},
        ),
    ] = None,
    priority: Annotated[
        Priority | None, Query(openapi_examples={"critical": {"value": "Critical"}})
    ] = None,
    assignee: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Only this staff member's cases (a staff id).",
            openapi_examples={"pat": {"value": "staff-support"}},
        ),
    ] = None,
    unassigned: Annotated[bool, Query(description="Only cases nobody works on.")] = False,
    triaged: Annotated[
        bool | None,
        Query(description="true: assessed cases only; false: those not assessed yet."),
    ] = None,
    disruption: Annotated[
        Disruption | None, Query(description="Only this level of disruption (assessed cases).")
    ] = None,
    blocked: Annotated[
        bool | None, Query(description="By whether daily functions are blocked.")
    ] = None,
    workaround: Annotated[
        bool | None, Query(description="By whether a viable workaround exists.")
    ] = None,
    defect: Annotated[
        bool | None, Query(description="By whether the case is a qualified product defect.")
    ] = None,
    case_type: Annotated[
        CaseType | None,
        Query(
            description="Only this case type.",
            openapi_examples={"question": {"value": "Ask a Question"}},
        ),
    ] = None,
    subject: Annotated[
        str | None,
        Query(
            max_length=200,
            description=f"Cases whose subject contains every word given, in any case (at most "
            f"{SUBJECT_WORDS} words, taken literally).",
            openapi_examples={"snow": {"value": "snow day"}},
        ),
    ] = None,
    customer_replied: Annotated[
        bool | None,
        Query(
            description="true: cases whose last post came from a contact; false: the others.",
            openapi_examples={"replied": {"value": True}},
        ),
    ] = None,
) -> QueueFilter:
    """The queue's filters, as the query string gives them."""
    words = tuple((subject or "").split())
    if len(words) > SUBJECT_WORDS:
        raise Invalid(f"subject: at most {SUBJECT_WORDS} words, got {len(words)}; send fewer words")
    return QueueFilter(
        status_,
        priority,
        assignee,
        unassigned,
        triaged,
        disruption,
        blocked,
        workaround,
        defect,
        case_type,
        words,
        customer_replied,
    )


QueueWhere = Annotated[QueueFilter, Depends(queue_filter)]


def _queue_routes(router: APIRouter, staff: StaffService, current: Caller) -> None:
    @router.get(
        "/queues/{department_slug}",
        summary="A department's queue, in work order",
        responses=_ok(200, QUEUE_EXAMPLE),
    )
    async def list_queue(
        department_slug: Slug,
        caller: Annotated[Principal, Depends(current)],
        where: QueueWhere,
        sort: Annotated[
            QueueOrder,
            Query(
                description="`work`: priority, due date, age; `urgency`: the nearest SLA due "
                "point first (passed ones first, paused and untracked last), then work order; "
                "`number`, `subject`, `priority`, `status`, `last_activity`: that column "
                "(text in any case), then work order.",
                openapi_examples={"urgency": {"value": "urgency"}},
            ),
        ] = "work",
        order: Annotated[
            Direction,
            Query(
                description="`asc` as `sort` says, `desc` the reverse.",
                openapi_examples={"newest": {"value": "desc"}},
            ),
        ] = "asc",
        limit: Annotated[
            int, Query(ge=1, le=MAX_LIMIT, openapi_examples={"page": {"value": 20}})
        ] = 50,
        offset: Annotated[
            int, Query(ge=0, le=MAX_OFFSET, description="Items to skip, from 0 (at most 2^63-201).")
        ] = 0,
    ) -> list[WorkItemPublic]:
        """Open cases of the department by priority, due date and age (or by SLA urgency with
        `sort=urgency`, or by a column), filtered by status, priority, assignee, case type,
        subject words or a customer reply (e.g. `?priority=Critical&unassigned=true&limit=20`);
        each shows its next SLA due point."""
        return await staff.queue(department_slug, where, limit, offset, sort, order)

    @router.get(
        "/queues/{department_slug}/counts",
        summary="How many of a department's queue items match the filters",
        responses=_ok(200, QUEUE_COUNTS_EXAMPLE),
    )
    async def count_queue(
        department_slug: Slug, caller: Annotated[Principal, Depends(current)], where: QueueWhere
    ) -> QueueCounts:
        """The number of items the queue lists with the same filters (over every page), in
        all and per status (e.g. `?case_type=Ask a Question&customer_replied=true`), from a
        count at most about a second old while the queue is being looked at."""
        return await staff.queue_counts(department_slug, where)

    @router.post(
        "/queues/{department_slug}/take",
        status_code=ACCEPTED,
        summary="Take the next New or Re-Opened item and assign it to yourself",
        responses=_ok(ACCEPTED, ACCEPTED_EXAMPLE),
    )
    async def take(
        department_slug: Slug, caller: Annotated[Principal, Depends(current)]
    ) -> CommandAccepted:
        """Claims the queue's first unassigned New or Re-Opened case and assigns it to you."""
        return await staff.take(department_slug, caller)


REPORT_EXAMPLE = {
    "since": "2026-11-23",
    "weeks": 2,
    "departments": [
        {
            "department": "Training",
            "weeks": [
                {
                    "week": "2026-11-23",
                    "cases": 3,
                    "first_response": {
                        "met": 2,
                        "breached": 1,
                        "percent_met": 66.7,
                        "median_hours": 1.5,
                        "p90_hours": 4.0,
                        "median_business_hours": 1.5,
                        "p90_business_hours": 2.0,
                    },
                    "resolution": {
                        "met": 1,
                        "breached": 0,
                        "percent_met": 100.0,
                        "median_hours": 20.0,
                        "p90_hours": 20.0,
                        "median_business_hours": 6.0,
                        "p90_business_hours": 6.0,
                    },
                }
            ],
        }
    ],
}


def _report_routes(router: APIRouter, staff: StaffService, current: Caller) -> None:
    @router.get(
        "/reports/sla",
        summary="SLA targets met per department and ISO week (wall-clock and business hours)",
        responses=_ok(200, REPORT_EXAMPLE),
    )
    async def sla_report(
        caller: Annotated[Principal, Depends(current)],
        weeks: Annotated[
            int,
            Query(ge=1, le=52, description="ISO weeks back, the current one included."),
        ] = 8,
    ) -> SlaReport:
        """Cases whose clocks started in the window, per department (supervisors see all)."""
        return await staff.sla_report(weeks, caller)


def _case_routes(router: APIRouter, staff: StaffService, current: Caller) -> None:
    @router.get(
        "/cases/{case_id}", summary="Routing's view of a case", responses=_ok(200, CASE_EXAMPLE)
    )
    async def get_case(
        case_id: CaseRef, caller: Annotated[Principal, Depends(current)]
    ) -> CasePublic:
        """The case's department, status, assignee, timers and last activity."""
        return await staff.case(case_id)

    @router.get(
        "/commands/{command_id}",
        summary="Whether a command was applied or rejected, and why",
        responses=_ok(200, COMMAND_EXAMPLE),
    )
    async def get_command(
        command_id: UUID, caller: Annotated[Principal, Depends(current)]
    ) -> CommandPublic:
        """The outcome of a command a 202 answer named: pending, applied, rejected or ignored."""
        return await staff.command(command_id)

    @router.post(
        "/cases/{case_id}/assign",
        summary="Assign to a staff member or by policy",
        status_code=ACCEPTED,
        responses=_command(),
    )
    async def assign(
        case_id: CaseRef,
        body: Annotated[AssignmentCreate, Body(openapi_examples=ASSIGNMENT_EXAMPLES)],
        caller: Annotated[Principal, Depends(current)],
    ) -> CommandAccepted:
        """Assigns the case to a staff member of its department, or by the department's policy."""
        return await staff.assign(case_id, body.assignee_id, caller)

    @router.post(
        "/cases/{case_id}/transfer",
        summary="Transfer to another department's queue, unassigned, with a reason",
        status_code=ACCEPTED,
        responses=_command(),
    )
    async def transfer(
        case_id: CaseRef,
        body: Annotated[TransferCreate, Body(openapi_examples=TRANSFER_EXAMPLES)],
        caller: Annotated[Principal, Depends(current)],
    ) -> CommandAccepted:
        """Moves the case to another department's queue, unassigned, with the reason shown."""
        return await staff.transfer(case_id, body.department, body.reason, caller)


def _triage_routes(router: APIRouter, staff: StaffService, current: Caller) -> None:
    @router.post(
        "/cases/{case_id}/triage",
        summary="Record the impact assessment (staff-only; suggests the priority)",
        status_code=ACCEPTED,
        responses=_command(),
    )
    async def triage(
        case_id: CaseRef,
        body: Annotated[Triage, Body(openapi_examples=TRIAGE_EXAMPLES)],
        caller: Annotated[Principal, Depends(current)],
    ) -> CommandAccepted:
        """Keeps the assessment on the case and its work item, where `GET /cases/{case_id}`
        shows it with the priority it suggests (never to the contact)."""
        return await staff.record_triage(case_id, body, caller)

    @router.post(
        "/cases/{case_id}/priority",
        summary="Change the case's priority, with the reason",
        status_code=ACCEPTED,
        responses=_command(),
    )
    async def priority(
        case_id: CaseRef,
        body: Annotated[PriorityCreate, Body(openapi_examples=PRIORITY_EXAMPLES)],
        caller: Annotated[Principal, Depends(current)],
    ) -> CommandAccepted:
        """Sets the priority (Critical only on Report an Outage); the SLA due times follow,
        and the contact sees the change and its reason on the case feed."""
        return await staff.change_priority(case_id, body, caller)


NoticeId = Annotated[
    str,
    Path(
        description="The status board's notice id.",
        pattern=NOTICE_ID_PATTERN,
        examples=["inc-2026-11-20-gradebook"],
    ),
]


def _incident_routes(router: APIRouter, staff: StaffService, current: Caller) -> None:
    @router.post(
        "/cases/{case_id}/incidents",
        summary="Link the case to a status-board incident",
        status_code=ACCEPTED,
        responses=_command(),
    )
    async def link(
        case_id: CaseRef,
        body: Annotated[IncidentLinkCreate, Body(openapi_examples=LINK_EXAMPLES)],
        caller: Annotated[Principal, Depends(current)],
    ) -> CommandAccepted:
        """Links the case to an incident: the contact sees the link on the case, and when the
        board resolves the incident the case gets a note and its recipients one email."""
        return await staff.link_incident(case_id, body, caller)

    @router.delete(
        "/cases/{case_id}/incidents/{notice_id}",
        summary="Unlink the case from an incident",
        status_code=ACCEPTED,
        responses=_command(),
    )
    async def unlink(
        case_id: CaseRef, notice_id: NoticeId, caller: Annotated[Principal, Depends(current)]
    ) -> CommandAccepted:
        """Removes the link (404 when the case is not linked to that incident)."""
        return await staff.unlink_incident(case_id, notice_id, caller)

    @router.get(
        "/incidents/{notice_id}/cases",
        summary="The cases linked to an incident",
        responses=_ok(200, [CASE_EXAMPLE]),
    )
    async def linked(
        notice_id: NoticeId, caller: Annotated[Principal, Depends(current)]
    ) -> list[CasePublic]:
        """Every case linked to the incident in the caller's departments (a supervisor's:
        all), by case number; an empty list when none is."""
        return await staff.linked_cases(notice_id, caller)


def _change_routes(router: APIRouter, staff: StaffService, current: Caller) -> None:
    @router.post(
        "/cases/{case_id}/status",
        summary="Change the case's status",
        status_code=ACCEPTED,
        responses=_command(),
    )
    async def change(
        case_id: CaseRef,
        body: Annotated[StatusChangeCreate, Body(openapi_examples=STATUS_CHANGE_EXAMPLES)],
        caller: Annotated[Principal, Depends(current)],
    ) -> CommandAccepted:
        """Moves the case to a status the workflow allows from its current one."""
        return await staff.change_status(case_id, body, caller)

    @router.post(
        "/cases/{case_id}/escalate",
        summary="Escalate to development",
        status_code=ACCEPTED,
        responses=_command(),
    )
    async def escalate(
        case_id: CaseRef,
        body: Annotated[EscalationCreate, Body(openapi_examples=ESCALATION_EXAMPLES)],
        caller: Annotated[Principal, Depends(current)],
    ) -> CommandAccepted:
        """Moves the case to Assigned to Development with the issue number and a note."""
        return await staff.change_status(case_id, body.as_change(), caller)

    @router.post(
        "/cases/{case_id}/resolution",
        summary="Post the resolution (awaits verification)",
        status_code=ACCEPTED,
        responses=_command(),
    )
    async def resolve(
        case_id: CaseRef,
        body: Annotated[ResolutionCreate, Body(openapi_examples=RESOLUTION_EXAMPLES)],
        caller: Annotated[Principal, Depends(current)],
    ) -> CommandAccepted:
        """Moves the case to Pending Customer Verification with the written resolution."""
        return await staff.change_status(case_id, body.as_change(), caller)
