"""HTTP routes of intake, body-size limits, and the one error shape every answer uses."""

import math
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import (
    APIRouter,
    Body,
    Depends,
    FastAPI,
    File,
    Form,
    Header,
    Query,
    Request,
    UploadFile,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException

from intake import logic
from intake.logic import IntakeError, Problem, RateLimited, TokenBucket, problem
from intake.models import (
    AttachmentPublic,
    CaseCreate,
    CasePublic,
    CloseCreate,
    CommandAccepted,
    ErrorPublic,
    PostPublic,
    RecipientsCreate,
    RecipientsPublic,
    ReopenCreate,
)
from intake.service import Answer, Intake, Upload
from shared.directory import Principal, bearer_auth
from shared.enums import CaseType

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
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorPublic, "description": text}
    for code, text in {
        401: "Missing or unknown bearer token",
        403: "Not allowed for this contact type",
        404: "No such case in your districts",
        413: "Body or file over its size limit",
        422: "A field breaks a rule; `errors` names it",
        429: "Rate limit; see Retry-After",
        503: "Kafka did not acknowledge; nothing recorded; see Retry-After",
    }.items()
}
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
        case_id: UUID,
        principal: Caller,
        body: Annotated[str, Form(max_length=100_000, description="Rich text (HTML subset).")],
        files: Annotated[list[UploadFile] | None, File(description=f"Up to {limit} files.")] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        uploads = [
            Upload(f.filename or "", f.content_type, f.size or 0, f.file) for f in files or []
        ]
        return _json(await intake.add_post(principal, case_id, body, uploads, idempotency_key))

    @router.get("/cases/{case_id}/attachments", summary="List the case's attachments")
    async def list_attachments(case_id: UUID, principal: Caller) -> list[AttachmentPublic]:
        return await intake.list_attachments(principal, case_id)

    @router.get(
        "/cases/{case_id}/attachments/{attachment_id}",
        summary="Download an attachment",
        response_class=StreamingResponse,
        responses={200: {"content": {"application/octet-stream": {}}}},
    )
    async def download(case_id: UUID, attachment_id: str, principal: Caller) -> StreamingResponse:
        found = await intake.attachment(principal, case_id, attachment_id)
        headers = {
            "Content-Disposition": _disposition(found.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Length": str(found.size),
        }
        stream = intake.attachments.stream(found.attachment_id)
        return StreamingResponse(stream, media_type=found.content_type, headers=headers)


def _commands(router: APIRouter, intake: Intake, Caller: Any) -> None:
    @router.post("/cases/{case_id}/close", status_code=202, response_model=CommandAccepted)
    async def close_case(
        case_id: UUID, body: CloseCreate, principal: Caller, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        """Ask the workflow to close the case; 202 with the command id."""
        request = {"path": f"/cases/{case_id}/close", "body": body.model_dump(mode="json")}
        run = lambda: intake.close(principal, case_id, body.note)  # noqa: E731
        return _json(await intake.idempotent(principal, idempotency_key, request, run))

    @router.post("/cases/{case_id}/reopen", status_code=202, response_model=CommandAccepted)
    async def reopen_case(
        case_id: UUID, body: ReopenCreate, principal: Caller, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        """Ask the workflow to reopen a case closed within 60 days; details are required."""
        request = {"path": f"/cases/{case_id}/reopen", "body": body.model_dump(mode="json")}
        run = lambda: intake.reopen(principal, case_id, body.details)  # noqa: E731
        return _json(await intake.idempotent(principal, idempotency_key, request, run))


def _recipients(router: APIRouter, intake: Intake, Caller: Any) -> None:
    @router.get("/cases/{case_id}/recipients", summary="Notification recipients")
    async def recipients(case_id: UUID, principal: Caller) -> RecipientsPublic:
        return await intake.recipients(principal, case_id)

    @router.post("/cases/{case_id}/recipients", summary="Add notification recipients")
    async def add_recipients(
        case_id: UUID, body: RecipientsCreate, principal: Caller
    ) -> RecipientsPublic:
        return await intake.add_recipients(principal, case_id, body.contact_ids)

    @router.delete("/cases/{case_id}/recipients", summary="Remove notification recipients")
    async def remove_recipients(
        case_id: UUID,
        principal: Caller,
        contact_id: Annotated[list[str], Query(min_length=1, max_length=100)],
    ) -> RecipientsPublic:
        return await intake.remove_recipients(principal, case_id, contact_id)


def _json(answer: Answer) -> JSONResponse:
    return JSONResponse(answer[1], status_code=answer[0])


def _disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


# --- errors: one shape for every refusal -------------------------------------------------


def error_body(code: str, problems: list[Problem], message: str | None = None) -> dict[str, Any]:
    """The JSON of every error answer."""
    items = [{"field": p.field, "rule": p.rule, "message": p.message} for p in problems]
    return {
        "error": code,
        "message": message or "; ".join(i["message"] for i in items),
        "errors": items,
    }


def install_error_handlers(app: FastAPI) -> None:
    """Map intake's exceptions, validation errors and HTTP errors to the one error shape."""
    app.add_exception_handler(IntakeError, _on_intake_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _on_http_error)  # type: ignore[arg-type]


async def _on_intake_error(_: Request, exc: IntakeError) -> JSONResponse:
    status = STATUS_OF.get(type(exc), 400)
    headers = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, logic.Unavailable):
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return JSONResponse(error_body(exc.code, exc.problems), status_code=status, headers=headers)


async def _on_validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    problems = [_problem_of(error) for error in exc.errors()]
    return JSONResponse(error_body("validation_failed", problems), status_code=422)


async def _on_http_error(_: Request, exc: HTTPException) -> JSONResponse:
    field = "Authorization" if exc.status_code == 401 else "request"
    rule = {401: "bearer_token", 404: "route", 405: "method", 413: "max_size"}.get(
        exc.status_code, "http"
    )
    code = {
        401: "unauthorized",
        404: "not_found",
        405: "method_not_allowed",
        413: "payload_too_large",
    }
    body = error_body(
        code.get(exc.status_code, "bad_request"), [problem(field, rule, str(exc.detail))]
    )
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


_TAGS = {t.value for t in CaseType}
_FIELD_IN_TEXT = re.compile(r"\b([a-z]+(?:_[a-z0-9]+)+)\b")
_HINTS = {
    "missing": "it is required: add it",
    "extra_forbidden": "unknown field: remove it (each case type's fields are in /docs)",
    "union_tag_not_found": f"add case_type, one of {sorted(_TAGS)}",
    "union_tag_invalid": f"case_type must be one of {sorted(_TAGS)}",
}


def _problem_of(error: Any) -> Problem:
    loc = [str(part) for part in error.get("loc", ()) if str(part) not in _TAGS]
    kind = str(error.get("type", "invalid"))
    where = loc[1:] if loc and loc[0] in {"body", "query", "path", "header", "cookie"} else loc
    field = ".".join(p if not p.isdigit() else f"[{p}]" for p in where).replace(".[", "[")
    message = str(error.get("msg", "invalid"))
    if kind.startswith("union_tag"):
        field = "case_type"
    if not field:
        found = _FIELD_IN_TEXT.search(message)
        field = found.group(1) if found else "body"
    if field == "idempotency-key":
        field = "Idempotency-Key"
    hint = _HINTS.get(kind)
    return problem(field, kind, f"{field}: {message}" + (f"; {hint}" if hint else ""))


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
    body = JSONResponse(
        error_body("payload_too_large", [problem("body", "max_size", message)]), 413
    )
    await send({"type": "http.response.start", "status": 413, "headers": body.raw_headers})
    await send({"type": "http.response.body", "body": body.body})
