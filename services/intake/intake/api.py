"""HTTP routes of intake, body-size limits, and the one error shape every answer uses."""

import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import (
    APIRouter,
    Body,
    Depends,
    FastAPI,
    File,
    Form,
    Header,
    Path,
    Query,
    Request,
    UploadFile,
)
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException

from intake import logic
from intake.logic import IntakeError, Problem, RateLimited, TokenBucket, problem
from intake.models import (
    AttachmentPublic,
    CaseCreate,
    CasePublic,
    CloseCreate,
    CommandAccepted,
    ContactsPublic,
    PostPublic,
    RecipientsCreate,
    RecipientsPublic,
    ReopenCreate,
    StaffListPublic,
)
from intake.service import Answer, Intake, Upload
from shared import problems
from shared.directory import Principal, bearer_auth
from shared.problems import ValidationIssue, problem_response, problem_responses

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

RETRY_AFTER_SECONDS = 5
STATUS_OF: dict[type[IntakeError], int] = {
    logic.Invalid: 422,
    logic.Forbidden: 403,
    logic.NotFound: 404,
    logic.Conflict: 409,
    logic.TooLarge: 413,
    logic.RateLimited: 429,
    logic.Unavailable: 503,
    logic.InDoubt: 503,
}
ERRORS = problem_responses(
    (400, "The body cannot be parsed (e.g. a malformed multipart body)"),
    401,
    (403, "Not allowed for this contact type"),
    (404, "No such case in your districts"),
    (409, "The case's state does not allow this now"),
    413,
    422,
    429,
    (503, "Kafka did not acknowledge; see Retry-After (and `type` for an in-doubt send)"),
)
# An upload is untrusted: besides `attachment` and a type that cannot execute
# (logic.served_type), the sandbox keeps a browser that opens it anyway from running scripts,
# loading anything or reaching the origin's cookies and storage.
ATTACHMENT_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
}
POST_BODY = (
    "Rich text, cut to an HTML subset (p, br, strong, em, ul, ol, li, a, code, pre, blockquote, "
    "img); must not be blank once sanitized unless files are attached. A remote image "
    "(http/https) never loads by itself: it becomes a link reading `[image: <url>]`; only inline "
    "PNG, JPEG, GIF or WebP images (data: URLs) stay images."
)
# What a download can be served as (logic.served_type): its own type if harmless, else bytes.
DOWNLOAD_TYPES: dict[str, Any] = {
    media: {} for media in sorted(logic.SERVABLE_TYPES | {logic.OCTET_STREAM})
}
CaseRef = Annotated[
    str,
    Path(
        description="The case number (e.g. 1000003) or the case id (a UUID).",
        examples=["1000003"],
    ),
]
DIRECTORY_ERRORS = problem_responses(
    401,
    (403, "Only staff list staff"),
    (404, "No such district or department"),
    422,
    429,
)
NameQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=100,
        description="Only people whose name holds every word of this (case-insensitive).",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=255,
        description="Retries with the same key return the first answer and create nothing new.",
    ),
]


def api_router(intake: Intake, limiter: TokenBucket) -> APIRouter:
    """The contacts' case API."""
    router = APIRouter(tags=["cases"], responses=ERRORS)
    caller = _caller_dependency(intake, limiter)
    Caller = Annotated[Principal, Depends(caller)]

    @router.post("/cases", status_code=201, response_model=CasePublic, summary="Submit a case")
    async def submit_case(
        body: Annotated[CaseCreate, Body()],
        principal: Caller,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        request = {"path": "/cases", "body": body.model_dump(mode="json")}
        return _json(
            await intake.idempotent(
                principal,
                idempotency_key,
                request,
                lambda: intake.submit(
                    principal, body, logic.keyed_case_id(principal, idempotency_key)
                ),
            )
        )

    _posts(router, intake, Caller)
    _commands(router, intake, Caller)
    _recipients(router, intake, Caller)
    router.include_router(_directory(intake, Caller))
    return router


def _directory(intake: Intake, Caller: Any) -> APIRouter:
    router = APIRouter(prefix="/directory", tags=["directory"], responses=DIRECTORY_ERRORS)

    @router.get("/contacts", summary="A district's contacts, for recipient pickers")
    async def district_contacts(
        principal: Caller,
        account_id: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=64,
                description="The district; defaults to yours (required if you have several).",
            ),
        ] = None,
        q: NameQuery = None,
    ) -> ContactsPublic:
        """Active contacts of one of your districts (staff: any), by name, with their id and
        contact type; the email is shown to that district's own contacts only."""
        return await intake.district_contacts(principal, account_id, q)

    @router.get("/departments/{department_slug}/staff", summary="A department's staff")
    async def department_staff(
        department_slug: str, principal: Caller, q: NameQuery = None
    ) -> StaffListPublic:
        """Active staff of a department (e.g. campus-support), by name; for staff only."""
        return await intake.department_staff(principal, department_slug, q)

    return router


def _caller_dependency(intake: Intake, limiter: TokenBucket) -> Callable[..., Awaitable[Principal]]:
    authenticate = bearer_auth(lambda: intake.directory)

    async def caller(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        wait = limiter.take(f"{principal.kind}:{principal.id}")
        if wait:
            rule = f"at most {limiter.rate:g} requests/s per token (burst {limiter.burst})"
            raise RateLimited(
                math.ceil(wait), problem("Authorization", "rate_limit", f"{rule}; slow down")
            )
        return principal

    return caller


def _posts(router: APIRouter, intake: Intake, Caller: Any) -> None:
    limit = intake.settings.max_attachments

    @router.post(
        "/cases/{case_id}/posts",
        status_code=201,
        response_model=PostPublic,
        summary="Post to the case feed",
    )
    async def add_post(
        case_id: CaseRef,
        principal: Caller,
        body: Annotated[str, Form(max_length=100_000, description=POST_BODY)],
        files: Annotated[list[UploadFile] | None, File(description=f"Up to {limit} files.")] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        uploads = [
            Upload(f.filename or "", f.content_type, f.size or 0, f.file) for f in files or []
        ]
        case = await intake.case_id_of(principal, case_id)
        return _json(await intake.add_post(principal, case, body, uploads, idempotency_key))

    @router.get("/cases/{case_id}/attachments", summary="List the case's attachments")
    async def list_attachments(case_id: CaseRef, principal: Caller) -> list[AttachmentPublic]:
        return await intake.list_attachments(principal, await intake.case_id_of(principal, case_id))

    @router.get(
        "/cases/{case_id}/attachments/{attachment_id}",
        summary="Download an attachment",
        response_class=StreamingResponse,
        responses={200: {"content": DOWNLOAD_TYPES}},
    )
    async def download(
        case_id: CaseRef, attachment_id: str, principal: Caller
    ) -> StreamingResponse:
        """The file as uploaded, as a download no browser runs.

        Always `Content-Disposition: attachment`, `nosniff` and a sandbox CSP; images (not
        SVG), PDF, plain text, CSV and office documents keep their type, anything else
        (HTML, XML, SVG, scripts, unknown) is `application/octet-stream`.
        """
        case = await intake.case_id_of(principal, case_id)
        found = await intake.attachment(principal, case, attachment_id)
        headers = {
            **ATTACHMENT_HEADERS,
            "Content-Disposition": _disposition(found.filename),
            "Content-Length": str(found.size),
        }
        stream = intake.attachments.stream(found.attachment_id)
        media_type = logic.served_type(found.content_type)
        return StreamingResponse(stream, media_type=media_type, headers=headers)


def _commands(router: APIRouter, intake: Intake, Caller: Any) -> None:
    @router.post("/cases/{case_id}/close", status_code=202, response_model=CommandAccepted)
    async def close_case(
        case_id: CaseRef,
        body: CloseCreate,
        principal: Caller,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        """Ask the workflow to close the case; 202 with the command id."""
        case = await intake.case_id_of(principal, case_id)
        request = {"path": f"/cases/{case}/close", "body": body.model_dump(mode="json")}
        run = lambda: intake.close(principal, case, body.note)  # noqa: E731
        return _accepted(await intake.idempotent(principal, idempotency_key, request, run))

    @router.post("/cases/{case_id}/reopen", status_code=202, response_model=CommandAccepted)
    async def reopen_case(
        case_id: CaseRef,
        body: ReopenCreate,
        principal: Caller,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        """Ask the workflow to reopen a case closed within 60 days; details are required."""
        case = await intake.case_id_of(principal, case_id)
        request = {"path": f"/cases/{case}/reopen", "body": body.model_dump(mode="json")}
        run = lambda: intake.reopen(principal, case, body.details)  # noqa: E731
        return _accepted(await intake.idempotent(principal, idempotency_key, request, run))


def _accepted(answer: Answer) -> JSONResponse:
    """A command's answer; a 202 points at the command's outcome (Location)."""
    status, body = answer
    url = body.get("outcome_url") if status == 202 and isinstance(body, dict) else None
    return JSONResponse(body, status_code=status, headers={"Location": url} if url else None)


def _recipients(router: APIRouter, intake: Intake, Caller: Any) -> None:
    @router.get("/cases/{case_id}/recipients", summary="Notification recipients")
    async def recipients(case_id: CaseRef, principal: Caller) -> RecipientsPublic:
        return await intake.recipients(principal, await intake.case_id_of(principal, case_id))

    @router.post("/cases/{case_id}/recipients", summary="Add notification recipients")
    async def add_recipients(
        case_id: CaseRef, body: RecipientsCreate, principal: Caller
    ) -> RecipientsPublic:
        """Add contacts by id (GET /directory/contacts lists them); every id that cannot be
        added is reported at once, one `errors` entry each."""
        case = await intake.case_id_of(principal, case_id)
        return await intake.add_recipients(principal, case, body.contact_ids)

    @router.delete("/cases/{case_id}/recipients", summary="Remove notification recipients")
    async def remove_recipients(
        case_id: CaseRef,
        principal: Caller,
        contact_id: Annotated[list[str], Query(min_length=1, max_length=100)],
    ) -> RecipientsPublic:
        case = await intake.case_id_of(principal, case_id)
        return await intake.remove_recipients(principal, case, contact_id)


def _json(answer: Answer) -> JSONResponse:
    return JSONResponse(answer[1], status_code=answer[0])


def _disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


# --- errors: problem details (shared.problems) for every refusal ------------------------


def install_error_handlers(app: FastAPI) -> None:
    """Map intake's refusals to problem details (the app already answers the rest so)."""
    app.add_exception_handler(IntakeError, _on_intake_error)


async def _on_intake_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IntakeError)
    headers = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, logic.Unavailable):
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return problem_response(request, intake_problem(exc), headers)


def intake_problem(exc: IntakeError) -> problems.Problem:
    """The problem details of one of intake's refusals; each of its problems is an issue."""
    issues = [_issue(p) for p in exc.problems]
    detail = "; ".join(issue.message for issue in issues) or exc.__doc__ or "refused"
    code = "in-doubt" if isinstance(exc, logic.InDoubt) else None
    title = "Outcome unknown" if code else None
    status = STATUS_OF.get(type(exc), 400)
    return problems.problem(status, detail, errors=issues, code=code, title=title)


def _issue(found: Problem) -> ValidationIssue:
    return ValidationIssue(field=found.field, rule=found.rule, message=found.message)


# --- body size limits ---------------------------------------------------------------------


class BodyLimit:
    """413 for a body over its limit: from Content-Length at once, else while streaming."""

    def __init__(self, app: Any, json_limit: int, multipart_limit: int) -> None:
        self.app = app
        self.json_limit, self.multipart_limit = json_limit, multipart_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        is_post = str(scope["path"]).endswith("/posts")
        limit, kind = (self.multipart_limit, "multipart") if is_post else (self.json_limit, "JSON")
        message = f"request body over the {limit}-byte limit for {kind} requests; send less"
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_413(send, message)
            return
        await self.app(scope, _counting(receive, limit, message), send)


def _counting(receive: Receive, limit: int, message: str) -> Receive:
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        event = await receive()
        if event["type"] == "http.request":
            seen += len(event.get("body", b""))
            if seen > limit:
                raise HTTPException(413, detail=message)
        return event

    return limited


async def _send_413(send: Send, message: str) -> None:
    issue = ValidationIssue(field="body", rule="max_size", message=message)
    body = problem_response(None, problems.problem(413, message, errors=[issue]))
    await send({"type": "http.response.start", "status": 413, "headers": body.raw_headers})
    await send({"type": "http.response.body", "body": body.body})
