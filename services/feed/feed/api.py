"""HTTP routes of the feed: case list and search, case detail, case feed, portal banner."""

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import Response

from feed.handlers import Wakeups
from feed.logic import (
    CaseFilter,
    SortKey,
    SubjectOp,
    banner_of,
    contained_needle,
    containing,
    excluded_needle,
    feed_page,
    first_window,
    is_lone_contains,
    is_newest_first,
    not_containing,
    outcome_of,
    pages,
    plan_among,
    plan_query,
)
from feed.models import (
    BannerPublic,
    CasePagePublic,
    CasePublic,
    CaseSummaryPublic,
    CommandOutcomePublic,
    FeedItemPublic,
    FeedPagePublic,
)
from feed.store import CaseStore, DistrictStore, FeedStore, NoticeStore, SubjectStore
from shared.cases import parse_case_ref as parse_case_ref  # the one rule, shared
from shared.directory import DirectoryStore, Principal, bearer_auth
from shared.enums import CaseType, Module, NoticeKind, Priority, Status
from shared.mongo import Document
from shared.problems import problem, problem_response, problem_responses
from shared.zones import DEFAULT_TIME_ZONE, ZoneCache, is_time_zone, local_time

MAX_PAGE_SIZE = 200
# Mongo's skip and limit are signed 64-bit: page * page_size must stay within them.
INT64_MAX = 2**63 - 1
MAX_PAGE = INT64_MAX // MAX_PAGE_SIZE
WINDOW_PER_ID = 3
ERRORS = problem_responses(
    401,
    (404, "No case with that id or number in your districts"),
    (422, "A query parameter breaks a rule; `errors` or `detail` names it"),
)
EXCERPT = 40  # characters of a bad input an error message repeats
MAX_WAIT_S = 10.0  # longest a reader may wait for a command's outcome
# Days a case can have been modified on; beyond them a day's UTC range cannot be computed.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9999, 12, 30)


class FeedError(Exception):
    """Root of the feed's errors; `status` is the HTTP answer api.py maps it to."""

    status = 400


class CaseNotFound(FeedError):
    """No case with that id or number in the caller's districts."""

    status = 404


class BadQuery(FeedError):
    """A query parameter breaks a rule; the message names the field and the rule."""

    status = 422


class BadWait(FeedError):
    """`wait` is outside 0 to 10 seconds."""

    status = 400


@dataclass
class ReadModel:
    """What the routes read."""

    cases: CaseStore
    feed: FeedStore
    notices: NoticeStore
    directory: DirectoryStore
    districts: DistrictStore
    subjects: SubjectStore
    status_board_url: str
    zones: ZoneCache = field(init=False)
    wakeups: Wakeups = field(default_factory=Wakeups)
    outcome_poll_s: float = 0.5

    def __post_init__(self) -> None:
        # A district's zone rarely changes; a minute's cache keeps a round trip off every read.
        self.zones = ZoneCache(self.directory)


Page = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"Page number, from 1 to {MAX_PAGE}.")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page (max 200).")]


def add_routes(app: FastAPI, model: ReadModel) -> None:
    """Mount the feed routes and the error mapping on the app."""
    app.include_router(_router(model))
    app.add_exception_handler(FeedError, _feed_error)


async def _feed_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FeedError)
    return problem_response(request, problem(exc.status, str(exc)))


def _router(model: ReadModel) -> APIRouter:
    router = APIRouter(tags=["cases"], responses=ERRORS)
    caller = Depends(bearer_auth(lambda: model.directory))
    Caller = Annotated[Principal, caller]

    @router.get("/cases", summary="Cases of the caller's districts, filtered, sorted, paged")
    async def list_cases(
        who: Caller,
        filters: Annotated[CaseFilter, Depends(_case_filter)],
        sort: SortKey = SortKey.LAST_MODIFIED,
        order: Literal["asc", "desc"] = "desc",
        page: Page = 1,
        page_size: PageSize = 20,
        account_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    ) -> CasePagePublic:
        zone = filters.time_zone or await _zone_of(model, who)
        flt = replace(await _contact_by_id(model, who, filters), time_zone=zone)
        scope, skip = _scope(who, account_id), (page - 1) * page_size
        total, docs = await case_page(model, flt, scope, sort, order == "desc", skip, page_size)
        items = [CaseSummaryPublic.model_validate(_local(d, zone)) for d in docs]
        return CasePagePublic(
            total=total, page=page, page_size=page_size, pages=pages(total, page_size), items=items
        )

    @router.get("/cases/{case_ref}", summary="A case by id or number, with its newest feed")
    async def get_case(who: Caller, case_ref: str, feed_page_size: PageSize = 20) -> CasePublic:
        doc = await _visible_case(model, who, case_ref)
        zone = await _zone_of(model, who)
        feed = await _feed_page(model, doc["_id"], 1, feed_page_size, "newest", None, zone)
        case = CasePublic.model_validate({**_local(doc, zone), "feed": feed})
        return case

    @router.get("/cases/{case_ref}/feed", summary="A case's posts and activity, searchable")
    async def get_feed(
        who: Caller,
        case_ref: str,
        page: Page = 1,
        page_size: PageSize = 20,
        sort: Literal["newest", "oldest"] = "newest",
        q: Annotated[str | None, Query(max_length=200, description="Search this feed.")] = None,
    ) -> FeedPagePublic:
        doc = await _visible_case(model, who, case_ref)
        zone = await _zone_of(model, who)
        return await _feed_page(model, doc["_id"], page, page_size, sort, q, zone)

    @router.get(
        "/cases/{case_ref}/commands/{command_id}",
        summary="The outcome of a command on a case: pending, applied or rejected",
        responses=problem_responses((400, "wait is outside 0 to 10 seconds")),
    )
    async def command_outcome(
        who: Caller,
        case_ref: str,
        command_id: UUID,
        wait: Annotated[
            float,
            Query(description="Seconds (0 to 10) to wait for a pending command's outcome."),
        ] = 0,
    ) -> CommandOutcomePublic:
        """The command id is the one intake's 202 answered (its outcome_url points here);
        pending until the workflow applies or rejects it, then the reason and the status."""
        if not 0 <= wait <= MAX_WAIT_S:
            raise BadWait(
                f"wait: {wait:g} is outside 0 to {MAX_WAIT_S:g} seconds: send e.g. wait=5"
            )
        outcome = await _awaited_outcome(model, who, case_ref, str(command_id), wait)
        return CommandOutcomePublic.model_validate(outcome)

    @router.get("/banner", summary="The portal banner: open incident, maintenance or none")
    async def banner(who: Caller) -> BannerPublic:
        scope = None if who.is_staff else who.account_ids
        notice = banner_of(await model.notices.open_notices(), scope)
        link = model.status_board_url.rstrip("/") + "/notifications"
        if notice is None:
            return BannerPublic(state="none", color="gray", link=link)
        incident = notice.kind is NoticeKind.INCIDENT
        return BannerPublic(
            state="incident" if incident else "maintenance",
            color="orange" if incident else "green",
            title=notice.title,
            notice_id=notice.id,
            status=notice.status.value,
            link=link,
        )

    return router


def _case_filter(
    number: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,19}$", description="Starts with (ASCII digits).")
    ] = None,
    subject: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    subject_op: SubjectOp = SubjectOp.STARTS_WITH,
    status: Status | None = None,
    priority: Priority | None = None,
    module: Module | None = None,
    case_type: CaseType | None = None,
    contact: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=255,
            description="A contact id (e.g. zack-morris), or the start of the contact's name.",
        ),
    ] = None,
    last_modified: Annotated[
        date | None,
        Query(ge=FIRST_DAY, le=LAST_DAY, description="On this day, local (1970-01-01 on)."),
    ] = None,
    closed: bool | None = None,
    tz: Annotated[str | None, Query(max_length=64, description="IANA time zone for dates.")] = None,
) -> CaseFilter:
    if tz is not None and not _known_zone(tz):
        raise BadQuery(f"tz {_excerpt(tz)} is not an IANA time zone: send e.g. tz=America/Chicago")
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


async def _contact_by_id(model: ReadModel, who: Principal, flt: CaseFilter) -> CaseFilter:
    """`contact` is a contact's id or the start of their name: the id of a contact of the
    caller's districts filters on that contact's name, as their cases carry it."""
    if flt.contact is None:
        return flt
    contact = await model.directory.contact(flt.contact)
    if contact is None or not any(who.sees_account(a) for a in contact.account_ids):
        return flt
    return replace(flt, contact=contact.display_name)


def _known_zone(name: str) -> bool:
    return is_time_zone(name) and re.fullmatch(r"[A-Za-z_+\-/0-9]+", name) is not None


def _scope(who: Principal, account_id: str | None) -> list[str] | None:
    """The districts a query may read: the caller's (staff: all), narrowed by account_id."""
    if account_id is None:
        return None if who.is_staff else sorted(who.account_ids)
    if not who.sees_account(account_id):
        raise BadQuery(f"account_id {_excerpt(account_id)} is not one of your districts: omit it")
    return [account_id]


async def case_page(
    model: ReadModel,
    flt: CaseFilter,
    scope: list[str] | None,
    sort: SortKey,
    descending: bool,
    skip: int,
    limit: int,
) -> tuple[int, list[Document]]:
    """The total and one page of the list; the default list has its own cheaper reads."""
    needle = excluded_needle(flt, sort, descending)
    if needle is not None:
        return await _not_containing_page(model, needle, scope, skip, limit)
    needle = contained_needle(flt)
    if needle is not None:
        return await _containing_page(model, flt, scope, sort, descending, skip, limit)
    if not is_newest_first(flt, sort, descending):
        return await model.cases.search(plan_query(flt, scope, sort, descending), skip, limit)
    # The member sets count without reading a case; the window read sorts only a page's worth.
    total = await model.districts.total(scope)
    docs = await model.cases.newest(scope, skip + limit) if skip < total else []
    return total, docs[skip:]


async def _containing_page(
    model: ReadModel,
    flt: CaseFilter,
    scope: list[str] | None,
    sort: SortKey,
    descending: bool,
    skip: int,
    limit: int,
) -> tuple[int, list[Document]]:
    """The matching ids from the subject postings (the total when alone); the page from the
    newest-first windows when that reads fewer cases than the matches by id, else by id."""
    needle = str(contained_needle(flt))
    case_ids = await model.subjects.containing(scope, needle)
    if not case_ids:
        return 0, []
    if is_lone_contains(flt, sort, descending):
        if skip >= len(case_ids):
            return len(case_ids), []
        count = skip + limit
        first = first_window(count, await model.districts.total(scope), len(case_ids))
        # Reading a case by id costs this server about three cases of an index range.
        if first <= WINDOW_PER_ID * len(case_ids):
            docs = await model.cases.newest_matching(scope, count, containing(needle), first)
            return len(case_ids), docs[skip:]
    return await model.cases.search(plan_among(flt, case_ids, sort, descending), skip, limit)


async def _not_containing_page(
    model: ReadModel, needle: str, scope: list[str] | None, skip: int, limit: int
) -> tuple[int, list[Document]]:
    """Every case of the districts minus those containing the needle (from the subject
    postings); the page from the newest-first windows, where most cases match."""
    contained = await model.subjects.containing(scope, needle)
    total = await model.districts.total(scope) - len(contained)
    if skip >= total:
        return total, []
    docs = await model.cases.newest_matching(scope, skip + limit, not_containing(needle))
    return total, docs[skip:]


async def _zone_of(model: ReadModel, who: Principal) -> str:
    """The caller's district time zone (the first district's); staff read Central time."""
    if who.is_staff or not who.account_ids:
        return DEFAULT_TIME_ZONE
    return await model.zones.zone_of(sorted(who.account_ids)[0])


async def _visible_case(model: ReadModel, who: Principal, case_ref: str) -> Document:
    """The case if the caller's districts include it; another district's case is not found."""
    ref = parse_case_ref(case_ref)
    doc = None
    if isinstance(ref, int):
        doc = await model.cases.by_number(ref)
    elif ref is not None:
        doc = await model.cases.get(str(ref))
    if doc is None or "account_id" not in doc or not who.sees_account(doc["account_id"]):
        raise CaseNotFound(
            f"case_ref: no case {_excerpt(case_ref)} in your districts: use a case number "
            "(ASCII digits) or a case id (UUID) from GET /cases"
        )
    return doc


async def _awaited_outcome(
    model: ReadModel, who: Principal, case_ref: str, command_id: str, wait: float
) -> Document:
    """The command's outcome, waiting up to `wait` seconds while it is pending: woken when
    this replica projects it, else read again every `outcome_poll_s`."""
    deadline = time.monotonic() + wait
    with model.wakeups.watch(command_id) as woken:  # before the read: no wake-up is missed
        while True:
            outcome = outcome_of(await _visible_case(model, who, case_ref), command_id)
            left = deadline - time.monotonic()
            if outcome["outcome"] != "pending" or left <= 0:
                return outcome
            woken.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), min(left, model.outcome_poll_s))


def _excerpt(text: str) -> str:
    """A bad input quoted for an error message: its start only, never all of it."""
    return repr(text if len(text) <= EXCERPT else text[:EXCERPT] + "…")


async def _feed_page(
    model: ReadModel, case_id: str, page: int, size: int, sort: str, q: str | None, zone: str
) -> FeedPagePublic:
    everything = await model.feed.items(case_id)
    total, docs = feed_page(everything, q, sort == "newest", (page - 1) * size, size)
    items = [
        FeedItemPublic.model_validate({**d, "at_local": local_time(d["at"], zone)}) for d in docs
    ]
    return FeedPagePublic(
        total=total,
        page=page,
        page_size=size,
        pages=pages(total, size),
        sort="newest" if sort == "newest" else "oldest",
        items=items,
    )


def _local(doc: Document, zone: str) -> dict[str, Any]:
    return {
        **doc,
        "last_modified_local": local_time(doc.get("last_modified"), zone),
        "created_local": local_time(doc.get("created_at"), zone),
    }
