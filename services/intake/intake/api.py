"""HTTP routes of intake (parse, call the service, map the result), and body-size limits."""

from collections.abc import Awaitable, Callable
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
    Response,
    UploadFile,
)
from fastapi.responses import StreamingResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intake import examples, logic
from intake.errors import IntakeError, problem_of
from intake.models import (
    AttachmentPublic,
    CaseCreate,
    CasePublic,
    CloseCreate,
    CommandAccepted,
    ContactChangePublic,
    ContactCreate,
    ContactsPublic,
    ContactUpdate,
    PostPublic,
    RecipientsCreate,
    RecipientsPublic,
    ReopenCreate,
    StaffListPublic,
)
from intake.service import DirectoryChanges, Intake, Upload
from shared import problems
from shared.directory import Principal, bearer_auth
from shared.enums import Visibility
from shared.problems import ValidationIssue, problem_response, problem_responses

Responses = dict[int | str, dict[str, Any]]

ERRORS = problem_responses(
    (400, "The body cannot be parsed (e.g. a malformed multipart body)"),
    401,
    (403, "Not allowed for this contact type (internal notes: staff only)"),
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
VISIBILITY = (
    "public (the default): everyone on the case reads it. internal: an internal note only "
    "staff read (never shown, listed, searched or mailed to contacts); a contact asking for "
    "it gets 403."
)
# What a download can be served as (logic.served_type): its own type if harmless, else bytes.
DOWNLOAD_TYPES: dict[str, Any] = {
    media: {} for media in sorted(logic.SERVABLE_TYPES | {logic.OCTET_STREAM})
}
DOWNLOAD_TYPES["text/plain"] = {"example": examples.DOWNLOAD_TEXT}
ATTACHMENT_ID = {
    "file": {"summary": "An attachment id", "value": examples.ATTACHMENT["attachment_id"]}
}
REMOVED = {"lisa": {"summary": "Remove Lisa Turtle", "value": ["lisa-turtle"]}}
CaseRef = Annotated[
    str,
    Path(
        description="The case number (e.g. 1000003) or the case id (a UUID).",
        openapi_examples={"number": {"summary": "A case number", "value": "1000003"}},
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
        openapi_examples={"lisa": {"summary": "People named Lisa", "value": "lisa"}},
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
# The dependency that authenticates a caller and takes a token from their rate.
Admit = Callable[..., Awaitable[Principal]]


def _ok(status: int, example: object, description: str = "Done") -> Responses:
    return {
        status: {"description": description, "content": {"application/json": {"example": example}}}
    }


# FastAPI documents no example for a multipart form; this one is merged into the operation.
POST_FORM_EXAMPLE = {
    "requestBody": {"content": {"multipart/form-data": {"example": examples.POST_FORM}}}
}


def api_router(intake: Intake) -> APIRouter:
    """The contacts' case API and the directory API, each documenting only its own refusals."""
    cases = APIRouter(tags=["cases"], responses=ERRORS)
    authenticate = bearer_auth(lambda: intake.directory)

    async def caller(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        return intake.admit(principal)

    @cases.post(
        "/cases",
        status_code=201,
        response_model=CasePublic,
        summary="Submit a case",
        responses=_ok(201, examples.CASE_PUBLIC, "The case, numbered"),
    )
    async def submit_case(
        body: Annotated[CaseCreate, Body(openapi_examples=examples.submission_examples())],
        principal: Annotated[Principal, Depends(caller)],
        idempotency_key: IdempotencyKey = None,
    ) -> CasePublic:
        """Submit a case of one of the ten case types, each with its own form fields."""
        return await intake.submit(principal, body, idempotency_key)

    _posts(cases, intake, caller)
    _commands(cases, intake, caller)
    _recipients(cases, intake, caller)
    router = APIRouter()
    router.include_router(cases)
    router.include_router(_directory(intake, caller))
    router.include_router(_directory_changes(intake, caller))
    return router


def _directory(intake: Intake, caller: Admit) -> APIRouter:
    router = APIRouter(prefix="/directory", tags=["directory"], responses=DIRECTORY_ERRORS)

    @router.get(
        "/contacts",
        summary="A district's contacts, for recipient pickers",
        responses=_ok(200, examples.CONTACTS_PUBLIC, "The contacts, by name"),
    )
    async def district_contacts(
        principal: Annotated[Principal, Depends(caller)],
        account_id: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=64,
                description="The district; defaults to yours (required if you have several).",
                openapi_examples={"bayside": {"summary": "Bayside School", "value": "bayside"}},
            ),
        ] = None,
        q: NameQuery = None,
    ) -> ContactsPublic:
        """Active contacts of one of your districts (staff: any), by name, with their id and
        contact type; the email is shown to that district's own contacts only."""
        return await intake.district_contacts(principal, account_id, q)

    @router.get(
        "/departments/{department_slug}/staff",
        summary="A department's staff",
        responses=_ok(200, examples.STAFF_PUBLIC, "The staff, by name"),
    )
    async def department_staff(
        department_slug: Annotated[
            str,
            Path(
                openapi_examples={
                    "campus": {"summary": "Campus Support", "value": "campus-support"}
                }
            ),
        ],
        principal: Annotated[Principal, Depends(caller)],
        q: NameQuery = None,
    ) -> StaffListPublic:
        """Active staff of a department (e.g. campus-support), by name; for staff only."""
        return await intake.department_staff(principal, department_slug, q)

    return router


def _posts(router: APIRouter, intake: Intake, caller: Admit) -> None:
    limit = intake.settings.max_attachments

    @router.post(
        "/cases/{case_id}/posts",
        status_code=201,
        response_model=PostPublic,
        summary="Post to the case feed",
        responses=_ok(201, examples.POST_PUBLIC, "The post as stored, with its attachments"),
        openapi_extra=POST_FORM_EXAMPLE,
    )
    async def add_post(
        case_id: CaseRef,
        principal: Annotated[Principal, Depends(caller)],
        body: Annotated[str, Form(max_length=100_000, description=POST_BODY)],
        files: Annotated[list[UploadFile] | None, File(description=f"Up to {limit} files.")] = None,
        visibility: Annotated[Visibility, Form(description=VISIBILITY)] = Visibility.PUBLIC,
        idempotency_key: IdempotencyKey = None,
    ) -> PostPublic:
        """Add a post (rich text) with up to ten attachments to the case's feed (multipart);
        staff may make it an internal note (`visibility=internal`) that contacts never see."""
        uploads = [
            Upload(f.filename or "", f.content_type, f.size or 0, f.file) for f in files or []
        ]
        return await intake.add_post(principal, case_id, body, uploads, idempotency_key, visibility)

    @router.get(
        "/cases/{case_id}/attachments",
        summary="List the case's attachments",
        responses=_ok(200, examples.ATTACHMENTS_PUBLIC, "The attachments, oldest first"),
    )
    async def list_attachments(
        case_id: CaseRef, principal: Annotated[Principal, Depends(caller)]
    ) -> list[AttachmentPublic]:
        """Every attachment of the case's posts, oldest first (a contact: without those of
        internal notes)."""
        return await intake.list_attachments(principal, case_id)

    @router.get(
        "/cases/{case_id}/attachments/{attachment_id}",
        summary="Download an attachment",
        response_class=StreamingResponse,
        responses={200: {"content": DOWNLOAD_TYPES}},
    )
    async def download(
        case_id: CaseRef,
        attachment_id: Annotated[str, Path(openapi_examples=ATTACHMENT_ID)],
        principal: Annotated[Principal, Depends(caller)],
    ) -> StreamingResponse:
        """The file as uploaded, as a download no browser runs.

        Always `Content-Disposition: attachment`, `nosniff` and a sandbox CSP; images (not
        SVG), PDF, plain text, CSV and office documents keep their type, anything else
        (HTML, XML, SVG, scripts, unknown) is `application/octet-stream`. An internal note's
        attachment is 404 to a contact.
        """
        found = await intake.download(principal, case_id, attachment_id)
        headers = {
            **ATTACHMENT_HEADERS,
            "Content-Disposition": _disposition(found.attachment.filename),
            "Content-Length": str(found.attachment.size),
        }
        media_type = logic.served_type(found.attachment.content_type)
        return StreamingResponse(found.content, media_type=media_type, headers=headers)


def _commands(router: APIRouter, intake: Intake, caller: Admit) -> None:
    accepted = _ok(202, examples.CLOSE_ACCEPTED, "Accepted; its outcome is at `Location`")

    @router.post(
        "/cases/{case_id}/close",
        status_code=202,
        response_model=CommandAccepted,
        summary="Close a case",
        responses=accepted,
    )
    async def close_case(
        case_id: CaseRef,
        body: Annotated[CloseCreate, Body(openapi_examples=examples.CLOSE_EXAMPLES)],
        principal: Annotated[Principal, Depends(caller)],
        response: Response,
        idempotency_key: IdempotencyKey = None,
    ) -> CommandAccepted:
        """Ask the workflow to close the case; 202 with the command id."""
        done = await intake.close(principal, case_id, body.note, idempotency_key)
        response.headers["Location"] = done.outcome_url
        return done

    @router.post(
        "/cases/{case_id}/reopen",
        status_code=202,
        response_model=CommandAccepted,
        summary="Reopen a closed case",
        responses=accepted,
    )
    async def reopen_case(
        case_id: CaseRef,
        body: Annotated[ReopenCreate, Body(openapi_examples=examples.REOPEN_EXAMPLES)],
        principal: Annotated[Principal, Depends(caller)],
        response: Response,
        idempotency_key: IdempotencyKey = None,
    ) -> CommandAccepted:
        """Ask the workflow to reopen a case closed within 60 days; details are required."""
        done = await intake.reopen(principal, case_id, body.details, idempotency_key)
        response.headers["Location"] = done.outcome_url
        return done


def _recipients(router: APIRouter, intake: Intake, caller: Admit) -> None:
    listed = _ok(200, examples.RECIPIENTS_PUBLIC, "The case's recipients, owner first")

    @router.get("/cases/{case_id}/recipients", summary="Notification recipients", responses=listed)
    async def recipients(
        case_id: CaseRef, principal: Annotated[Principal, Depends(caller)]
    ) -> RecipientsPublic:
        """Who gets the case's notifications: its owner and the contacts added to it."""
        return await intake.recipients(principal, case_id)

    @router.post(
        "/cases/{case_id}/recipients", summary="Add notification recipients", responses=listed
    )
    async def add_recipients(
        case_id: CaseRef,
        body: Annotated[RecipientsCreate, Body(openapi_examples=examples.RECIPIENTS_EXAMPLES)],
        principal: Annotated[Principal, Depends(caller)],
    ) -> RecipientsPublic:
        """Add contacts by id (GET /directory/contacts lists them); every id that cannot be
        added is reported at once, one `errors` entry each."""
        return await intake.add_recipients(principal, case_id, body.contact_ids)

    @router.delete(
        "/cases/{case_id}/recipients", summary="Remove notification recipients", responses=listed
    )
    async def remove_recipients(
        case_id: CaseRef,
        principal: Annotated[Principal, Depends(caller)],
        contact_id: Annotated[
            list[str], Query(min_length=1, max_length=100, openapi_examples=REMOVED)
        ],
    ) -> RecipientsPublic:
        """Remove contacts (by id) from the case's recipients; the owner always stays."""
        return await intake.remove_recipients(principal, case_id, contact_id)


def _disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


# --- errors: problem details (errors.problem_of) for every refusal ----------------------


def install_error_handlers(app: FastAPI) -> None:
    """Map intake's refusals to problem details (the app already answers the rest so)."""
    app.add_exception_handler(IntakeError, _on_intake_error)


async def _on_intake_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IntakeError)
    retry = exc.retry_after
    headers = {"Retry-After": str(retry)} if retry is not None else {}
    return problem_response(request, problem_of(exc), headers)


# --- body size limits ---------------------------------------------------------------------


class BodyLimit:
    """413 for a body over its limit: from Content-Length at once, else while streaming."""

    def __init__(self, app: ASGIApp, json_limit: int, multipart_limit: int) -> None:
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


DIRECTORY_CHANGE_ERRORS = problem_responses(
    401,
    (403, "Only staff change the directory (or the token lacks the `write` scope)"),
    (404, "No such district, or no such active contact in it"),
    (409, "The email already belongs to another active contact"),
    422,
    429,
    (503, "Kafka did not acknowledge; see Retry-After"),
)
ContactId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        openapi_examples={"kelly": {"summary": "Kelly Kapowski", "value": "kelly-kapowski"}},
    ),
]


def _directory_changes(intake: Intake, caller: Admit) -> APIRouter:
    router = APIRouter(prefix="/directory", tags=["directory"], responses=DIRECTORY_CHANGE_ERRORS)
    changes = DirectoryChanges(intake)

    @router.post(
        "/contacts",
        status_code=201,
        summary="Add a contact, or replace one (staff)",
        responses=_ok(201, examples.CONTACT_ADDED, "What was changed"),
    )
    async def create_contact(
        body: Annotated[ContactCreate, Body(openapi_examples=examples.CONTACT_CREATE_EXAMPLES)],
        principal: Annotated[Principal, Depends(caller)],
        idempotency_key: IdempotencyKey = None,
    ) -> ContactChangePublic:
        """Add a contact to a district, as a Modify Support Contacts case asks (staff only).

        With `replaces`, that contact of the same district is deactivated and every token of
        theirs revoked in the same change. The email must belong to no other active contact
        (409). An Idempotency-Key is the directory's: whoever sends it again gets the first
        answer with `replayed: true`, and nothing changes twice.
        """
        return await changes.create(principal, body, idempotency_key)

    @router.patch(
        "/contacts/{contact_id}",
        summary="Modify a contact (staff)",
        responses=_ok(200, examples.CONTACT_MODIFIED, "The contact now, and what changed"),
    )
    async def update_contact(
        contact_id: ContactId,
        body: Annotated[ContactUpdate, Body(openapi_examples=examples.CONTACT_UPDATE_EXAMPLES)],
        principal: Annotated[Principal, Depends(caller)],
        idempotency_key: IdempotencyKey = None,
    ) -> ContactChangePublic:
        """Change the fields given of an active contact of `account_id` (staff only); a field
        left out keeps its value. `changed_fields` names those whose value changed."""
        return await changes.update(principal, contact_id, body, idempotency_key)

    return router
