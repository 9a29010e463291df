"""RFC 9457 problem details: the one error shape of every HTTP service, and its OpenAPI."""

import difflib
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.enums import CaseType

PROBLEM_JSON = "application/problem+json"
EXCERPT_CHARS = 80
MAX_DETAIL_CHARS = 600
MAX_ISSUES = 20
TYPE_BASE = "tag:support-portal,2026:problem:"
SCHEMA_REF = "#/components/schemas/Problem"

log = logging.getLogger("shared.problems")


class ValidationIssue(BaseModel):
    """One rule a request broke: where, which rule, and how to fix it."""

    field: str = Field(description="The field, header or parameter, e.g. `module`, `files[2]`.")
    rule: str = Field(description="The rule broken, e.g. `missing`, `enum`, `max_size`.")
    message: str = Field(description="What was wrong and how to fix it.")


class Problem(BaseModel):
    """RFC 9457 problem details (`application/problem+json`): every error answer's shape."""

    type: str = Field(
        "about:blank",
        description="`about:blank` when the status says it all, else a tag URI naming the kind.",
    )
    title: str = Field(description="Short summary of the kind (the status phrase by default).")
    status: int = Field(ge=400, le=599, description="The HTTP status code.")
    detail: str = Field(description="What was wrong with this request and how to fix it.")
    instance: str | None = Field(None, description="The request path, when short.")
    errors: list[ValidationIssue] = Field(
        default_factory=list, description="Each rule the request broke (validation)."
    )


class ProblemResponse(JSONResponse):
    """A JSON response served as `application/problem+json`."""

    media_type = PROBLEM_JSON


DESCRIPTIONS = {
    400: "The body cannot be parsed (not UTF-8 JSON, or a broken multipart body)",
    401: "Missing or unknown bearer token",
    403: "Not allowed for this caller",
    404: "Not found, or not visible to this caller",
    409: "The current state does not allow this",
    413: "Body or file over its size limit",
    422: "A field breaks a rule; `errors` names each one",
    429: "Too many requests; see Retry-After",
    500: "Unexpected server error; nothing about it is disclosed",
    503: "A dependency is unavailable; see Retry-After",
}


def problem_responses(*statuses: int | tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting each status with the Problem schema."""
    found: dict[int | str, dict[str, Any]] = {}
    for item in statuses:
        status, text = item if isinstance(item, tuple) else (item, DESCRIPTIONS.get(item))
        found[status] = {
            "description": text or _phrase(status),
            "content": {PROBLEM_JSON: {"schema": {"$ref": SCHEMA_REF}}},
        }
    return found


# --- building answers ---------------------------------------------------------------------


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """A short, quoted excerpt of a client's input (never its whole text, never a repr)."""
    if isinstance(value, str):
        text = value if len(value) <= limit else value[: limit - 1] + "…"
        return "'" + json.dumps(text, ensure_ascii=False)[1:-1] + "'"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return excerpt(str(value), limit).strip("'")
    if isinstance(value, dict):
        return "an object"
    return "a list" if isinstance(value, list) else "a value of another type"


_ENUM_REPR = re.compile(r"<[A-Za-z_][\w.]*\.[A-Za-z_]\w*: ('[^'<>]*'|\"[^\"<>]*\"|[^<>]*)>")
_CLASS_REPR = re.compile(r"<class '(?:[\w.]*\.)?(\w+)'>")


def scrub(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    """Text fit for a client: enum and class reprs replaced by their values, length capped."""
    text = _CLASS_REPR.sub(r"\1", _ENUM_REPR.sub(r"\1", text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def problem(
    status: int,
    detail: str,
    *,
    errors: Sequence[ValidationIssue] = (),
    code: str | None = None,
    title: str | None = None,
    instance: str | None = None,
) -> Problem:
    """A Problem; `code` names a kind more precise than the status (a tag URI in `type`)."""
    issues = [_scrubbed(issue) for issue in errors[:MAX_ISSUES]]
    return Problem(
        type=TYPE_BASE + code if code else "about:blank",
        title=title or _phrase(status),
        status=status,
        detail=scrub(detail),
        instance=instance if instance is None or len(instance) <= 200 else None,
        errors=issues,
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(
    request: Request | None, body: Problem, headers: Mapping[str, str] | None = None
) -> ProblemResponse:
    """The HTTP answer of a Problem (its `instance` is the request path when not set)."""
    if request is not None and body.instance is None and len(request.url.path) <= 200:
        body = body.model_copy(update={"instance": request.url.path})
    content = body.model_dump(mode="json")
    return ProblemResponse(content, status_code=body.status, headers=dict(headers or {}))


def _scrubbed(issue: ValidationIssue) -> ValidationIssue:
    return ValidationIssue(
        field=scrub(issue.field, EXCERPT_CHARS),
        rule=issue.rule,
        message=scrub(issue.message, 2 * MAX_DETAIL_CHARS // 3),
    )


# --- translating validation errors -------------------------------------------------------

_SOURCES = {"body", "query", "path", "header", "cookie"}
_PART = re.compile(r"^[A-Za-z_][\w-]*$")
_SNAKE_WORD = re.compile(r"\b([a-z]+(?:_[a-z0-9]+)+)\b")
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")
_DISCRIMINATORS = {"case_type": [t.value for t in CaseType]}
DATE_FORMAT = "an ISO 8601 date, YYYY-MM-DD (e.g. 2026-05-01)"
DATETIME_FORMAT = (
    "an ISO 8601 date and time with a time zone, YYYY-MM-DDTHH:MM:SSZ or "
    "YYYY-MM-DDTHH:MM:SS+HH:MM (e.g. 2026-05-01T14:30:00Z)"
)
_DATE_KINDS = {"date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"}
_DATE_KINDS |= {"date_type"}
_DATETIME_KINDS = {"datetime_parsing", "datetime_from_date_parsing", "datetime_type"}
_DATETIME_KINDS |= {"datetime_object_invalid", "timezone_aware"}
_FIXED = {
    "missing": "is required: add it",
    "extra_forbidden": "is not a known field: remove it (every field is listed in /docs)",
    "json_invalid": "is not valid JSON: send a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "list_type": "must be a JSON array",
    "uuid_parsing": "must be a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "uuid_type": "must be a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "timezone_naive": "must not carry a time zone",
}


def issues_of(errors: Iterable[Mapping[str, Any]]) -> list[ValidationIssue]:
    """Clear issues from pydantic's error dicts: field, rule, and a message with the fix."""
    return [issue_of(error) for error in errors]


def issue_of(error: Mapping[str, Any]) -> ValidationIssue:
    """One pydantic error as a ValidationIssue (allowed values, formats, no reprs)."""
    kind = str(error.get("type", "invalid"))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    field = _field_of(error.get("loc", ()), kind, ctx) or _field_in(str(error.get("msg", "")))
    explained = _explain(kind, error, ctx)
    joint = " " if explained.startswith(("is ", "must ", "has ")) else ": "
    return ValidationIssue(field=field, rule=kind, message=field + joint + explained)


def _field_of(loc: Sequence[Any], kind: str, ctx: Mapping[str, Any]) -> str:
    if kind.startswith("union_tag"):
        return str(ctx.get("discriminator", "type")).strip("'\"")
    parts = list(loc)
    source = parts.pop(0) if parts and parts[0] in _SOURCES else None
    if kind == "json_invalid":
        return "body"
    if source == "header" and parts:
        return "-".join(word.capitalize() for word in str(parts[0]).split("-"))
    kept = [p for p in parts if isinstance(p, int) or _PART.match(str(p))]
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in kept).lstrip(".")
    return field or ("" if source in (None, "body") else str(source))


def _field_in(message: str) -> str:
    """A whole-body rule (a model validator) names its field in its message, if anywhere."""
    found = _SNAKE_WORD.search(message)
    return found.group(1) if found else "body"


def _explain(kind: str, error: Mapping[str, Any], ctx: Mapping[str, Any]) -> str:
    given = error.get("input")
    if kind in ("enum", "literal_error"):
        return _one_of(_quoted(str(ctx.get("expected", ""))), given)
    if kind == "union_tag_invalid":
        return _one_of(_quoted(str(ctx.get("expected_tags", ""))), ctx.get("tag"))
    if kind == "union_tag_not_found":
        field = str(ctx.get("discriminator", "type")).strip("'\"")
        return "is required: add it" + _allowed(_DISCRIMINATORS.get(field, []))
    if kind in _DATE_KINDS:
        return f"must be {DATE_FORMAT}; got {excerpt(given)}"
    if kind in _DATETIME_KINDS:
        return f"must be {DATETIME_FORMAT}; got {excerpt(given)}"
    if kind in _FIXED:
        got = f"; got {excerpt(given)}" if kind.startswith("uuid") else ""
        return _FIXED[kind] + got
    return _pydantic_message(str(error.get("msg", "is invalid")))


def _pydantic_message(message: str) -> str:
    if "UploadFile" in message:
        return "must be a file: send it as a file part of a multipart/form-data body"
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    message = re.sub(r"^Input should\b", "must", message)
    return message[:1].lower() + message[1:]


def _quoted(text: str) -> list[str]:
    return [a or b for a, b in _QUOTED.findall(text)]


def _one_of(allowed: list[str], given: Any) -> str:
    text = "must be one of " + ", ".join(f"'{value}'" for value in allowed) if allowed else ""
    text = text or "has a value that is not allowed (the values are listed in /docs)"
    text += f"; got {excerpt(given)}"
    closest = _closest(given, allowed)
    return text + (f"; did you mean '{closest}'?" if closest else "")


def _allowed(values: list[str]) -> str:
    return "; one of " + ", ".join(f"'{value}'" for value in values) if values else ""


def _closest(given: Any, allowed: list[str]) -> str | None:
    if not isinstance(given, str) or not allowed:
        return None
    lowered = {value.lower(): value for value in allowed}
    found = difflib.get_close_matches(given[:200].lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[found[0]] if found else None


def validation_problem(issues: Sequence[ValidationIssue]) -> Problem:
    """The 422 Problem listing every issue; the detail repeats the first few."""
    shown = "; ".join(issue.message for issue in issues[:3])
    more = f"; and {len(issues) - 3} more (see errors)" if len(issues) > 3 else ""
    return problem(422, shown + more or "the request is not valid", errors=issues)


# --- handlers -----------------------------------------------------------------------------

# FastAPI's words for a body it cannot decode at all (not UTF-8, a broken multipart body).
_UNPARSABLE = "There was an error parsing the body"
_UNPARSABLE_DETAIL = (
    "the body cannot be parsed: send UTF-8 JSON with Content-Type: application/json "
    "(multipart/form-data where the route takes files)"
)
_HTTP_ISSUES = {
    401: ("Authorization", "bearer_token"),
    413: ("body", "max_size"),
    431: ("headers", "max_size"),
}


async def on_http_error(request: Request, exc: Exception) -> Response:
    """Starlette and FastAPI HTTPExceptions (401, 404 routes, 405, ...) as problems."""
    assert isinstance(exc, HTTPException)
    if exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=exc.headers)
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail, default=str)
    where = _HTTP_ISSUES.get(exc.status_code)
    if detail == _UNPARSABLE:
        detail, where = _UNPARSABLE_DETAIL, ("body", "parsable")
    issues = [ValidationIssue(field=where[0], rule=where[1], message=detail)] if where else []
    body = problem(exc.status_code, detail, errors=issues)
    return problem_response(request, body, exc.headers)


async def on_validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's RequestValidationError as a 422 problem with one issue per broken rule."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    issues = issues_of(errors[: MAX_ISSUES + 1])
    return problem_response(request, validation_problem(issues))


def internal_error(request: Request | None = None) -> ProblemResponse:
    """The 500 answer: a problem that names nothing internal."""
    body = problem(
        500,
        "the server failed to answer this request; the failure is logged: "
        "try again, and report it if it persists",
    )
    return problem_response(request, body)


STORAGE_RETRY_AFTER_S = 2


def storage_unavailable(request: Request | None = None) -> ProblemResponse:
    """The 503 answer when the database did not answer in time (down, or overloaded)."""
    body = problem(
        503,
        "the database did not answer in time; retry after the Retry-After seconds "
        "(with the same Idempotency-Key, a retried write is applied once)",
        code="storage-unavailable",
    )
    return problem_response(request, body, {"Retry-After": str(STORAGE_RETRY_AFTER_S)})


def is_storage_outage(exc: Exception) -> bool:
    """A PyMongo connection failure (server down, network or pool wait-queue timeout).

    Looked up in sys.modules, so a process that never loads PyMongo (the status board's
    read path) does not import it here either.
    """
    errors = sys.modules.get("pymongo.errors")
    return errors is not None and isinstance(exc, errors.ConnectionFailure)


def unexpected_error(request: Request, exc: Exception) -> ProblemResponse:
    """The answer to an exception no handler claimed: 503 for a storage outage, else 500."""
    if is_storage_outage(exc):
        log.warning("storage unavailable on %s %s: %s", request.method, request.url.path, exc)
        return storage_unavailable(request)
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return internal_error(request)


async def on_unexpected_error(request: Request, exc: Exception) -> Response:
    """Last resort for errors raised outside the app's routes (e.g. in a middleware)."""
    return unexpected_error(request, exc)


class CatchAll:
    """ASGI middleware: an unexpected exception becomes a logged problem+json 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started:
                log.exception("error after the answer began on %s", scope.get("path"))
                raise  # a response is half sent: only closing the connection is left
            await unexpected_error(Request(scope), exc)(scope, receive, send)


# --- installing ---------------------------------------------------------------------------


def install_problems(app: FastAPI) -> None:
    """Problem details for every error of `app`, and an OpenAPI that documents them."""
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected_error)
    app.add_middleware(CatchAll)
    app.openapi = _problem_openapi(app.openapi)  # type: ignore[method-assign]


def _problem_openapi(generate: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        return with_problem_schema(generate())

    return openapi


def with_problem_schema(spec: dict[str, Any]) -> dict[str, Any]:
    """Document every error with the Problem schema: FastAPI's 422 HTTPValidationError and
    any response using the Problem model become `application/problem+json` Problems, and
    an operation taking a body documents the 400 FastAPI answers when it cannot parse it;
    every operation documents the 503 of a storage outage."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in _problem_schemas().items():
        schemas[name] = schema
    for operation in _operations(spec):
        for status, response in operation.get("responses", {}).items():
            _as_problem(status, response)
        if "requestBody" in operation:
            operation["responses"].setdefault("400", problem_responses(400)[400])
        operation["responses"].setdefault("503", problem_responses(503)[503])
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return spec


def _problem_schemas() -> dict[str, Any]:
    schema = Problem.model_json_schema(
        ref_template="#/components/schemas/{model}", mode="serialization"
    )
    definitions: dict[str, Any] = schema.pop("$defs", {})
    return {**definitions, "Problem": schema}


def _operations(spec: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    for item in spec.get("paths", {}).values():
        yield from (op for op in item.values() if isinstance(op, dict) and "responses" in op)


def _as_problem(status: str, response: dict[str, Any]) -> None:
    content: dict[str, Any] = response.get("content") or {}
    refs = {str(media.get("schema", {}).get("$ref", "")) for media in content.values()}
    if any(ref.endswith(("/HTTPValidationError", "/Problem")) for ref in refs):
        response["content"] = {PROBLEM_JSON: {"schema": {"$ref": SCHEMA_REF}}}
        if status == "422":
            response["description"] = DESCRIPTIONS[422]
