"""HTTP routes of the feed: parse the query, call service.py, answer its model."""

import re
from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.openapi.models import Example
from fastapi.responses import Response

from feed import service
from feed.errors import FeedError, UnknownZone
from feed.logic import CaseFilter, SortKey, SubjectOp
from feed.models import (
    BANNER_EXAMPLES,
    CASE_EXAMPLE,
    CASE_PAGE_EXAMPLE,
    FEED_PAGE_EXAMPLE,
    OUTCOME_EXAMPLES,
    BannerPublic,
    CasePagePublic,
    CasePublic,
    CommandOutcomePublic,
    FeedPagePublic,
)
from feed.service import MAX_WAIT_S, FeedSort, ReadModel
from shared.directory import Principal, bearer_auth
from shared.enums import CaseType, Module, Priority, Status
from shared.problems import problem, problem_response, problem_responses
from shared.zones import is_time_zone

MAX_PAGE_SIZE = 200
# Mongo's skip and limit are signed 64-bit: page * page_size must stay within them.
INT64_MAX = 2**63 - 1
MAX_PAGE = INT64_MAX // MAX_PAGE_SIZE
ERRORS = problem_responses(
    401,
    (404, "No case with that id or number in your districts"),
    (422, "A query parameter breaks a rule; `errors` or `detail` names it"),
)
# Days a case can have been modified on; beyond them a day's UTC range cannot be computed.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9999, 12, 30)
ZONE_NAME = re.compile(r"[A-Za-z_+\-/0-9]+")

Page = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"Page number, from 1 to {MAX_PAGE}.")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page (max 200).")]
Wait = Annotated[
    float,
    Query(
        description=f"Seconds (0 to {MAX_WAIT_S:g}) to wait for a pending command's outcome.",
        openapi_examples={"five_seconds": {"summary": "wait up to 5 s", "value": 5}},
    ),
]


def _example(value: object) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entry of a 200 answer with one example."""
    return {200: {"content": {"application/json": {"example": value}}}}


def _examples(named: dict[str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entry of a 200 answer with named examples."""
    return {200: {"content": {"application/json": {"examples": named}}}}


def _shown(**named: object) -> dict[str, Example]:
    """A query parameter's documented examples, one per name."""
    return {
        name: {"summary": name.replace("_", " "), "value": value} for name, value in named.items()
    }


def add_routes(app: FastAPI, model: ReadModel) -> None:
    """Mount the feed routes and the one mapping of the feed's errors to problem details."""
    app.include_router(_router(model))
    app.add_exception_handler(FeedError, _feed_error)


async def _feed_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FeedError)
    return problem_response(request, problem(exc.status, str(exc)))


def _router(model: ReadModel) -> APIRouter:
    router = APIRouter(tags=["cases"], responses=ERRORS)
    Caller = Annotated[Principal, Depends(bearer_auth(lambda: model.directory))]

    @router.get(
        "/cases",
        summary="Cases of the caller's districts, filtered, sorted, paged",
        description=(
            "The caller's districts' cases (staff: every district), filtered by any of the "
            "query parameters together, e.g. `GET /cases?status=Assigned&subject=grades"
            "&subject_op=contains&sort=case_number&order=asc`."
        ),
        responses=_example(CASE_PAGE_EXAMPLE),
    )
    async def list_cases(
        who: Caller,
        filters: Annotated[CaseFilter, Depends(_case_filter)],
        sort: Annotated[
            SortKey, Query(openapi_examples=_shown(by_number="case_number"))
        ] = SortKey.LAST_MODIFIED,
        order: Annotated[
            Literal["asc", "desc"], Query(openapi_examples=_shown(oldest_first="asc"))
        ] = "desc",
        page: Page = 1,
        page_size: PageSize = 20,
        account_id: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=64,
                description="Only this one of the caller's districts.",
                openapi_examples=_shown(one_district="bayside"),
            ),
        ] = None,
    ) -> CasePagePublic:
        descending = order == "desc"
        return await service.list_cases(
            model, who, filters, sort, descending, page, page_size, account_id
        )

    @router.get(
        "/cases/{case_ref}",
        summary="A case by id or number, with its newest feed",
        description=(
            "One case of the caller's districts by its number (e.g. 1000003) or its id, with "
            "every field of the detail panel and the newest page of its feed."
        ),
        responses=_example(CASE_EXAMPLE),
    )
    async def get_case(who: Caller, case_ref: str, feed_page_size: PageSize = 20) -> CasePublic:
        return await service.case_detail(model, who, case_ref, feed_page_size)

    @router.get(
        "/cases/{case_ref}/feed",
        summary="A case's posts and activity, searchable",
        description=(
            "A page of a case's posts (with their attachments) and activity lines, newest or "
            "oldest first, searched for `q` (case-insensitive, literal) when given."
        ),
        responses=_example(FEED_PAGE_EXAMPLE),
    )
    async def get_feed(
        who: Caller,
        case_ref: str,
        page: Page = 1,
        page_size: PageSize = 20,
        sort: FeedSort = "newest",
        q: Annotated[
            str | None,
            Query(
                max_length=200,
                description="Search this feed.",
                openapi_examples=_shown(a_word="greyed out"),
            ),
        ] = None,
    ) -> FeedPagePublic:
        return await service.case_feed(model, who, case_ref, page, page_size, sort, q)

    @router.get(
        "/cases/{case_ref}/commands/{command_id}",
        summary="The outcome of a command on a case: pending, applied or rejected",
        description=(
            "What became of a close or reopen (or a staff command) intake answered 202 with, "
            "by the command id its `outcome_url` names: pending, applied, or rejected with the "
            "reason; `wait` holds a pending answer open until decided or the seconds pass."
        ),
        responses=problem_responses((400, "wait is outside 0 to 10 seconds"))
        | _examples(OUTCOME_EXAMPLES),
    )
    async def command_outcome(
        who: Caller, case_ref: str, command_id: UUID, wait: Wait = 0
    ) -> CommandOutcomePublic:
        return await service.command_outcome(model, who, case_ref, str(command_id), wait)

    @router.get(
        "/banner",
        summary="The portal banner: open incident, maintenance or none",
        description=(
            "The notice the portal's banner shows the caller's districts: an open incident "
            "(orange) wins over open maintenance (green); gray when nothing is open."
        ),
        responses=_examples(BANNER_EXAMPLES),
    )
    async def banner(who: Caller) -> BannerPublic:
        return await service.banner(model, who)

    return router


def _case_filter(
    number: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9]{1,19}$",
            description="Starts with (ASCII digits).",
            openapi_examples=_shown(number_starts_with="100000"),
        ),
    ] = None,
    subject: Annotated[
        str | None,
        Query(min_length=1, max_length=255, openapi_examples=_shown(subject_text="grades")),
    ] = None,
    subject_op: Annotated[
        SubjectOp, Query(openapi_examples=_shown(subject_contains="contains"))
    ] = SubjectOp.STARTS_WITH,
    status: Annotated[
        Status | None, Query(openapi_examples=_shown(waiting_on_you="Pending Customer Input"))
    ] = None,
    priority: Annotated[Priority | None, Query(openapi_examples=_shown(high="High"))] = None,
    module: Annotated[
        Module | None, Query(openapi_examples=_shown(grade_book="Grade Book"))
    ] = None,
    case_type: Annotated[
        CaseType | None, Query(openapi_examples=_shown(application_issue="Application Issue"))
    ] = None,
    contact: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=255,
            description="A contact id (e.g. zack-morris), or the start of the contact's name.",
            openapi_examples=_shown(contact_id="zack-morris", contact_name="Zack"),
        ),
    ] = None,
    last_modified: Annotated[
        date | None,
        Query(
            ge=FIRST_DAY,
            le=LAST_DAY,
            description="On this day, local (1970-01-01 on).",
            openapi_examples=_shown(a_day="2021-09-15"),
        ),
    ] = None,
    closed: Annotated[bool | None, Query(openapi_examples=_shown(open_cases=False))] = None,
    tz: Annotated[
        str | None,
        Query(
            max_length=64,
            description="IANA time zone for dates.",
            openapi_examples=_shown(central="America/Chicago"),
        ),
    ] = None,
) -> CaseFilter:
    if tz is not None and not _known_zone(tz):
        raise UnknownZone(tz)
    return CaseFilter(
        number=number,
        subject=subject,
        subject_op=subject_op,
        status=status,
        priority=priority,
        module=module.value if module else None,
        case_type=case_type.value if case_type else None,
        contact=contact,
        last_modified_on=last_modified,
        closed=closed,
        time_zone=tz or "",
    )


def _known_zone(name: str) -> bool:
    return is_time_zone(name) and ZONE_NAME.fullmatch(name) is not None
