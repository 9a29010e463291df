"""HTTP routes of both apps (public reads, break-glass admin) and their one error mapping."""

import hmac
import re
import warnings
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from shared.events import Notice
from shared.problems import (
    install_problems,
    on_http_error,
    problem,
    problem_response,
    problem_responses,
)
from status_board.errors import NoticeNotFound, StatusBoardError
from status_board.models import (
    BANNER_EXAMPLE,
    INCIDENT_EXAMPLES,
    MAINTENANCE_EXAMPLES,
    NOTICE_EXAMPLE,
    NOTICE_LIST_EXAMPLE,
    NOTICE_PUBLIC_EXAMPLE,
    OUTBOX_EXAMPLE,
    PATCH_EXAMPLES,
    RESOLVE_EXAMPLES,
    UPDATE_EXAMPLES,
    BannerPublic,
    IncidentCreate,
    MaintenanceCreate,
    NoticeList,
    NoticePatch,
    NoticePublic,
    OutboxStatus,
    ResolveBody,
    UpdateCreate,
)
from status_board.service import Board
from status_board.snapshot import CACHE_CONTROL, Rendered

_STATES = ("open", "closed", "all")
_GET = ["GET", "HEAD"]
Responses = dict[int | str, dict[str, Any]]


# --- public routes ------------------------------------------------------------------------


class AtomResponse(Response):
    """An Atom document (its media type, for the OpenAPI document)."""

    media_type = "application/atom+xml"


def _ok(media_type: str, example: object, model: type | None = None) -> Responses:
    answer: dict[str, Any] = {"content": {media_type: {"example": example}}}
    return {200: answer | ({"model": model} if model else {})}


_PAGE_EXAMPLE = "<!doctype html><html lang='en'>…<h1>Notifications</h1>…</html>"
_NOTICE_PAGE_EXAMPLE = (
    "<!doctype html><html lang='en'>…<title>Digicert Incident · Support Portal status</title>"
    "…<h2><a href='/notices/digicert'>Digicert Incident</a></h2>…</html>"
)
_ATOM_EXAMPLE = (
    "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
    "<title>Support Portal notifications</title>…<entry><title>Incident: Digicert Incident"
    " (Resolved)</title>…</entry></feed>"
)
# (path, summary, description, 200 answer, its class)
_PUBLIC = [
    (
        "/notifications",
        "Notifications page",
        "The Open (`tab=open`, the default) or Closed (`tab=closed`) notifications tab as HTML.",
        _ok("text/html", _PAGE_EXAMPLE),
        HTMLResponse,
    ),
    (
        "/notices/{notice_id}",
        "One notice's page",
        "The HTML page of one public notice with its timestamped updates, newest first.",
        _ok("text/html", _NOTICE_PAGE_EXAMPLE),
        HTMLResponse,
    ),
    (
        "/feed.atom",
        "Atom feed",
        "An Atom feed (RFC 4287) with one entry per open or recently closed notification.",
        _ok(AtomResponse.media_type, _ATOM_EXAMPLE),
        AtomResponse,
    ),
    (
        "/api/banner",
        "Banner for the portal",
        "The banner's colour, label, link and counts of open notices, and whether it is stale.",
        _ok("application/json", BANNER_EXAMPLE, BannerPublic),
        JSONResponse,
    ),
    (
        "/api/notices",
        "Notices as JSON",
        "The public notices of one tab (`state=open|closed`) or both (`state=all`, the default).",
        _ok("application/json", NOTICE_LIST_EXAMPLE, NoticeList),
        JSONResponse,
    ),
    (
        "/api/notices/{notice_id}",
        "One notice as JSON",
        "One public notice with its updates; district notices answer 404 like unknown ids.",
        _ok("application/json", NOTICE_PUBLIC_EXAMPLE, NoticePublic),
        JSONResponse,
    ),
]


def public_router(board: Board) -> APIRouter:
    """The public routes, for the OpenAPI document and as the slow path behind FastPath.

    Every one serves precomputed bytes from the snapshot (`Snapshot.at`); FastPath answers
    the same hits before routing, so these run only for misses (404s, bad query values).
    """
    router = APIRouter(tags=["public"])

    async def serve(request: Request) -> Response:
        rendered = board.snapshot().at(request.url.path, request.query_params)
        if rendered is None:
            raise _missing(request)
        return respond(request, rendered)

    router.add_api_route("/", serve, methods=_GET, include_in_schema=False)
    for path, summary, description, ok, response_class in _PUBLIC:
        errors = _API_ERRORS if path.startswith("/api/") else _PAGE_ERRORS
        router.add_api_route(  # one route for GET and HEAD: a 405 answers `Allow: GET, HEAD`
            path,
            serve,
            methods=_GET,
            summary=summary,
            description=description,
            responses=ok | errors,
            response_class=response_class,
            generate_unique_id_function=_path_id,
        )
    return router


def _path_id(route: APIRoute) -> str:
    """`public_api_notices__notice_id_`: the path's id; each method's operation adds its own."""
    return "public" + re.sub(r"\W", "_", route.path_format)


def one_operation_per_method(app: FastAPI) -> None:
    """Give each operation of a route of several methods its own id (`..._get`, `..._head`).

    FastAPI gives a route one operation id for all its methods (and warns that GET and HEAD
    of one route share it); here the id of every operation that shares one gets its method
    appended. Call it before anything else wraps `app.openapi`.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Duplicate Operation ID", UserWarning)
            spec = generate()
        return with_method_ids(spec)

    app.openapi = openapi  # type: ignore[method-assign]


def with_method_ids(spec: dict[str, Any]) -> dict[str, Any]:
    """The document with each shared operation id made unique by its method."""
    operations = [
        (method, operation)
        for item in spec.get("paths", {}).values()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    ]
    counts = Counter(operation["operationId"] for _, operation in operations)
    for method, operation in operations:
        if counts[operation["operationId"]] > 1:
            operation["operationId"] += f"_{method}"
    return spec


_NOT_MODIFIED: Responses = {
    304: {"description": "Not modified since the ETag sent in If-None-Match"}
}
_API_ERRORS = _NOT_MODIFIED | problem_responses(
    (404, "No notice has this id"), (422, "A query value is not allowed")
)
_PAGE_ERRORS = _NOT_MODIFIED | {
    404: {"description": "No such page (an HTML page)", "content": {"text/html": {}}}
}


def _missing(request: Request) -> HTTPException:
    state = request.query_params.get("state", "all")
    if request.url.path == "/api/notices" and state not in _STATES:
        return HTTPException(422, f"state must be one of {', '.join(_STATES)}, not {state!r}")
    notice_id = request.path_params.get("notice_id")
    if notice_id is not None:
        return HTTPException(404, str(NoticeNotFound(notice_id)))
    return HTTPException(404, f"nothing at {request.url.path}; see /notifications")


def respond(request: Request, rendered: Rendered) -> Response:
    """The body with its ETag and a short public cache life; 304 when the client has it."""
    headers = {"ETag": rendered.etag, "Cache-Control": CACHE_CONTROL}
    if request.url.path.startswith("/api/"):
        headers["Access-Control-Allow-Origin"] = "*"
    if _matches(request.headers.get("if-none-match"), rendered.etag):
        return Response(status_code=304, headers=headers)
    return Response(rendered.body, media_type=rendered.media_type, headers=headers)


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag in tags or "*" in tags


# --- admin routes -------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
ERRORS = problem_responses(
    (401, "Missing or wrong admin token"),
    (422, "A field breaks a rule, or the change does not fit the notice"),
)
EXISTS = problem_responses((409, "A notice with this id exists; change it with PATCH"))
UNKNOWN = problem_responses((404, "No notice has this id"))


def _notice(code: int = 200) -> Responses:
    return {code: {"content": {"application/json": {"example": NOTICE_EXAMPLE}}}}


def admin_router(board: Board) -> APIRouter:
    """Routes under /admin, each requiring the admin bearer token."""
    expected = board.settings.admin_token.get_secret_value().encode()

    def authorized(credentials: Credentials) -> None:
        given = (credentials.credentials if credentials else "").encode()
        if not (given and expected and hmac.compare_digest(given, expected)):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "send the status board admin token as 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    router = APIRouter(
        prefix="/admin", tags=["admin"], dependencies=[Depends(authorized)], responses=ERRORS
    )
    _add_creates(router, board)
    _add_changes(router, board)
    _add_reads(router, board)
    return router


def _add_creates(router: APIRouter, board: Board) -> None:
    @router.post(
        "/incidents",
        status_code=201,
        summary="Open an incident",
        responses=_notice(201) | EXISTS,
    )
    async def create_incident(
        body: Annotated[IncidentCreate, Body(openapi_examples=INCIDENT_EXAMPLES)],
    ) -> Notice:
        """Open an incident: it shows at once and reaches Kafka when Kafka is reachable."""
        return board.open_incident(body)

    @router.post(
        "/maintenance",
        status_code=201,
        summary="Announce maintenance",
        responses=_notice(201) | EXISTS,
    )
    async def create_maintenance(
        body: Annotated[MaintenanceCreate, Body(openapi_examples=MAINTENANCE_EXAMPLES)],
    ) -> Notice:
        """Announce maintenance; it moves to In Progress and Completed on its own at its times."""
        return board.announce_maintenance(body)


def _add_changes(router: APIRouter, board: Board) -> None:
    @router.post(
        "/notices/{notice_id}/updates",
        summary="Post a timestamped update",
        responses=_notice() | UNKNOWN,
    )
    async def post_update(
        notice_id: str, body: Annotated[UpdateCreate, Body(openapi_examples=UPDATE_EXAMPLES)]
    ) -> Notice:
        """Post a timestamped update on a notice; it may change the notice's status."""
        return board.post_update(notice_id, body)

    @router.patch(
        "/notices/{notice_id}",
        summary="Change title, body, status or times",
        responses=_notice() | UNKNOWN,
    )
    async def patch_notice(
        notice_id: str, body: Annotated[NoticePatch, Body(openapi_examples=PATCH_EXAMPLES)]
    ) -> Notice:
        """Change the fields sent (title, body, status, times, districts); others keep theirs."""
        return board.revise(notice_id, body)

    @router.post(
        "/notices/{notice_id}/resolve",
        summary="Resolve an incident / complete maintenance",
        responses=_notice() | UNKNOWN,
    )
    async def resolve(
        notice_id: str, body: Annotated[ResolveBody, Body(openapi_examples=RESOLVE_EXAMPLES)]
    ) -> Notice:
        """Resolve an open incident or complete open maintenance, with a closing update."""
        return board.resolve(notice_id, body)


def _add_reads(router: APIRouter, board: Board) -> None:
    @router.get(
        "/notices",
        summary="Every notice held, open and closed",
        responses={200: {"content": {"application/json": {"example": [NOTICE_EXAMPLE]}}}},
    )
    async def list_notices() -> list[Notice]:
        """Every notice this board holds, district notices included with their districts."""
        return board.notices()

    @router.get("/notices/{notice_id}", summary="One notice", responses=_notice() | UNKNOWN)
    async def get_notice(notice_id: str) -> Notice:
        """One notice with its districts and updates, whatever its audience."""
        return board.current(notice_id)

    @router.get(
        "/outbox",
        summary="What the relay still has to publish to Kafka",
        responses={200: {"content": {"application/json": {"example": OUTBOX_EXAMPLE}}}},
    )
    async def outbox() -> OutboxStatus:
        """Outbox rows pending and sent, rows Kafka refused, and when Kafka last answered."""
        return board.outbox()


# --- errors -------------------------------------------------------------------------------


def add_error_handlers(app: FastAPI, board: Board, *, html_pages: bool) -> None:
    """Problem details for every error; 404s outside /api/ are HTML pages on the public app."""
    install_problems(app)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if html_pages and exc.status_code == 404 and not request.url.path.startswith("/api/"):
            body = board.snapshot().not_found(str(exc.detail))
            return HTMLResponse(body, status_code=404)
        return await on_http_error(request, exc)

    async def board_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StatusBoardError)
        return problem_response(request, problem(exc.status, str(exc)))

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(StatusBoardError, board_error)
