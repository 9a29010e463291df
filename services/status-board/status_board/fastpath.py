"""ASGI fast path: public GETs answered straight from the snapshot's bytes, before any routing.

Inside the app (`create_public_app`) it answers hits before FastAPI routes them. The process
also puts one in front of the whole served stack (`front`): there it answers hits before the
access log, security-header and body-deadline middleware too, so it adds their part itself
(the security headers, the X-Request-ID echo) and writes the access line through AccessLines:
the access log's JSON line, preformatted and written in batches instead of through a logging
record per request. Everything else (misses, other methods, errors) goes on to the full stack
and its access log.
"""

import asyncio
import logging
import sys
import time
from typing import TextIO
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.access import Entry, log_request, request_id_of
from shared.http import SECURITY_HEADERS
from shared.tracing import HEADER
from status_board.service import Board
from status_board.snapshot import Rendered

_CORS = (b"access-control-allow-origin", b"*")
_REQUEST_ID = HEADER.lower().encode("ascii")
_ACCESS = logging.getLogger("shared.access")  # the access log's logger, for its level
# The route templates of the access line (the access log names templates, never paths).
_ROUTES = {"/": "/", "/notifications": "/notifications", "/feed.atom": "/feed.atom"}
_ROUTES |= {"/api/banner": "/api/banner", "/api/notices": "/api/notices"}
_PREFIXES = (("/notices/", "/notices/{notice_id}"), ("/api/notices/", "/api/notices/{notice_id}"))


class AccessLines:
    """The fast path's access lines, as the JSON log formatter writes the access log's.

    Each answered request adds one preformatted line (the same fields: method, route,
    status, duration_ms, caller, request_id); lines go to the log stream together, at most
    `flush_s` after the first one or every `batch` lines, and at shutdown (`flush`).
    """

    def __init__(
        self,
        service: str,
        *,
        stream: TextIO | None = None,
        flush_s: float = 0.2,
        batch: int = 256,
    ) -> None:
        self.service, self.flush_s, self.batch = service, flush_s, batch
        self._stream = stream
        self._lines: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        self._second = -1
        self._stamp = ""

    def add(self, method: str, route: str, status: int, started: float, request_id: str) -> None:
        """One answered request (started: its time.perf_counter())."""
        if not _ACCESS.isEnabledFor(logging.INFO):
            return
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        now = time.time()
        if int(now) != self._second:
            self._second = int(now)
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now))
        self._lines.append(
            f'{{"ts": "{self._stamp}.{int(now % 1 * 1000):03d}Z", "level": "INFO",'
            f' "service": "{self.service}", "logger": "shared.access",'
            f' "msg": "{method} {route} {status} {duration_ms:.1f} ms", "method": "{method}",'
            f' "route": "{route}", "status": {status}, "duration_ms": {duration_ms},'
            f' "caller_kind": null, "caller_id": null, "request_id": "{request_id}"}}\n'
        )
        if len(self._lines) >= self.batch:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.flush_s, self.flush)

    def flush(self) -> None:
        """Write the lines held so far."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._lines:
            stream = self._stream or sys.stderr
            stream.write("".join(self._lines))
            stream.flush()
            self._lines.clear()


class FastPath:
    """Serve a snapshot hit (200 or 304) itself; anything else goes on to the app it wraps.

    With `front` it stands in front of the served stack (see the module docstring) and
    writes each answer's access line through `access`, or through the access log's logger
    when there is none (a log format other than JSON).
    """

    def __init__(
        self, app: ASGIApp, board: Board, *, front: bool = False, access: AccessLines | None = None
    ) -> None:
        self.app, self.board, self.front, self.access = app, board, front, access
        self._extra: tuple[tuple[bytes, bytes], ...] = SECURITY_HEADERS if front else ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        query = (
            dict(parse_qsl(scope["query_string"].decode("latin-1")))
            if scope["query_string"]
            else {}
        )
        path = scope["path"]
        rendered = self.board.snapshot().at(path, query)
        if rendered is None:
            return await self.app(scope, receive, send)
        headers = [*rendered.headers, *self._extra]
        if path.startswith("/api/"):
            headers.append(_CORS)
        if not self.front:
            await _answer(scope, send, rendered, headers)
            return None
        request_id = request_id_of(scope["headers"])
        headers.append((_REQUEST_ID, request_id.encode("ascii")))
        status = await _answer(scope, send, rendered, headers)
        if self.access is not None:
            self.access.add(scope["method"], _route(path), status, started, request_id)
        else:
            log_request(scope["method"], _route(path), status, started, Entry(request_id))
        return None


async def _answer(
    scope: Scope, send: Send, rendered: Rendered, headers: list[tuple[bytes, bytes]]
) -> int:
    fresh = _matches(scope["headers"], rendered.etag_bytes)
    body = b"" if fresh or scope["method"] == "HEAD" else rendered.body
    if not fresh:
        headers.append(rendered.length)
    status = 304 if fresh else 200
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status


def _route(path: str) -> str:
    route = _ROUTES.get(path)
    if route is not None:
        return route
    for prefix, template in _PREFIXES:
        if path.startswith(prefix):
            return template
    return path  # not reached: the snapshot answers only the paths above


def _matches(headers: list[tuple[bytes, bytes]], etag: bytes) -> bool:
    for name, value in headers:
        if name == b"if-none-match":
            tags = {tag.strip().removeprefix(b"W/") for tag in value.split(b",")}
            return etag in tags or b"*" in tags
    return False
