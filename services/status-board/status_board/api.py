"""Public HTTP routes (page, notice pages, Atom, JSON, banner) and both apps' error mapping."""

from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

from shared.problems import (
    install_problems,
    on_http_error,
    problem,
    problem_response,
    problem_responses,
)
from status_board.board import Board
from status_board.errors import ChangeRejected, NoticeExists, NoticeNotFound, StatusBoardError
from status_board.snapshot import CACHE_CONTROL, Rendered

_STATES = ("open", "closed", "all")
_GET = ["GET", "HEAD"]


def public_router(board: Board) -> APIRouter:
    """The public routes, for the OpenAPI document and as the slow path behind FastPath.

    Every one serves precomputed bytes from the snapshot (`Snapshot.at`); FastPath answers
    the same hits before routing, so these run only for misses (404s, bad query values).
    """
    router = APIRouter()

    async def serve(request: Request) -> Response:
        rendered = board.snapshot().at(request.url.path, request.query_params)
        if rendered is None:
            raise _missing(request)
        return respond(request, rendered)

    pages = [
        ("/notifications", "Notifications page: tab=open|closed"),
        ("/notices/{notice_id}", "One notice's page"),
        ("/feed.atom", "Atom feed, one entry per notification"),
        ("/api/banner", "Banner colour, label, link, counts and stale flag, for the portal"),
        ("/api/notices", "Notices as JSON: state=open|closed|all"),
        ("/api/notices/{notice_id}", "One notice as JSON"),
    ]
    router.add_api_route("/", serve, methods=_GET, include_in_schema=False)
    for path, summary in pages:
        errors = _API_ERRORS if path.startswith("/api/") else _PAGE_ERRORS
        router.add_api_route(path, serve, methods=_GET, summary=summary, responses=errors)
    return router


_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
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
        return problem_response(request, problem(_status_of(exc), str(exc)))

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(StatusBoardError, board_error)


def _status_of(exc: Exception) -> int:
    if isinstance(exc, NoticeNotFound):
        return 404
    if isinstance(exc, NoticeExists):
        return 409
    return 422 if isinstance(exc, ChangeRejected) else 400
