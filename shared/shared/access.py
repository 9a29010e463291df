"""The HTTP access log: one JSON line per request, under a request id bound and echoed."""

import logging
import time
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import tracing

log = logging.getLogger("shared.access")

# Where a request's entry lives in the ASGI scope: authentication notes the caller there, and
# a second AccessLog around the same request (the server's and the app's) steps aside.
SCOPE_KEY = "shared.access"
_HEADER = tracing.HEADER.lower().encode("ascii")


@dataclass
class Entry:
    """What the access line says of one request besides its method, route and status."""

    request_id: str
    caller_kind: str | None = None
    caller_id: str | None = None


def note_caller(scope: Scope, kind: str, caller_id: str) -> None:
    """Record the authenticated caller of this request (its kind and id, never its token)."""
    entry = scope.get(SCOPE_KEY)
    if isinstance(entry, Entry):
        entry.caller_kind, entry.caller_id = kind, caller_id


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's X-Request-ID if it is a plain one, else a fresh id."""
    for name, value in headers:
        if name.lower() == _HEADER:
            return tracing.accepted(value.decode("latin-1")) or tracing.new_id()
    return tracing.new_id()


def route_of(scope: Scope) -> str | None:
    """The route template that served the request (`/cases/{case_id}`), None when none matched."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else None


def log_request(method: str, route: str | None, status: int, started: float, entry: Entry) -> None:
    """Write the access line of one request (started: its time.perf_counter())."""
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    fields: dict[str, Any] = {
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": duration_ms,
        "caller_kind": entry.caller_kind,
        "caller_id": entry.caller_id,
        "request_id": entry.request_id,
    }
    log.info("%s %s %d %.1f ms", method, route, status, duration_ms, extra=fields)


class AccessLog:
    """Pure ASGI middleware: takes or makes the request id, binds it while the request is
    handled, echoes it on the answer and logs one access line when the request is done.

    Outermost, so every answer (a problem document, a 500, a limit's 408) carries the id. The
    line names the route template, not the path, and no query, header or body: those may
    hold tokens or personal data.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or SCOPE_KEY in scope:
            return await self.app(scope, receive, send)
        entry = Entry(request_id_of(scope.get("headers", [])))
        scope[SCOPE_KEY] = entry
        started = time.perf_counter()
        status = 500  # what the server answers when the app raised before answering
        echo = (_HEADER, entry.request_id.encode("ascii"))

        async def tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if all(name.lower() != _HEADER for name, _ in headers):
                    message = {**message, "headers": [*headers, echo]}
            await send(message)

        try:
            with tracing.bound(entry.request_id):
                await self.app(scope, receive, tagged)
        finally:
            log_request(scope["method"], route_of(scope), status, started, entry)
