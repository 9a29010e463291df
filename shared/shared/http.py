"""The HTTP server every process runs: security headers, request-head and body limits."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shared import tracing
from shared.access import AccessLog, Entry, log_request
from shared.settings import ServiceSettings

# Scripts, styles, fonts and images only from the service itself (Swagger's icons are data:
# URIs; ReDoc styles itself with <style> elements and searches in a blob: worker). No inline
# or remote script can run, no other site may frame a page, forms post only back here.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


@dataclass(frozen=True)
class HttpLimits:
    """How much and how slowly a client may send before it is answered 4xx and cut off.

    A request head (request line and headers) over `max_head_bytes` gets 431 (414 for the
    URL alone), one not complete `head_timeout_s` after the connection or request started gets
    408. A body gets `body_timeout_s` plus one second per `body_min_rate` bytes received: an
    upload slower than that on average (a trickle) gets 408 instead of holding the connection.
    """

    max_head_bytes: int = 32 * 1024
    head_timeout_s: float = 10.0
    body_timeout_s: float = 20.0
    body_min_rate: int = 8 * 1024


class RequestTimeout(HTTPException):
    """The request body did not arrive in time; the connection is closed after the 408."""

    def __init__(self, limits: HttpLimits) -> None:
        super().__init__(
            408,
            detail=(
                f"the request body did not arrive in time: a body gets {limits.body_timeout_s:g} s"
                f" plus 1 s per {limits.body_min_rate} bytes; send it faster or smaller"
            ),
            headers={"Connection": "close"},
        )


class SecurityHeaders:
    """Pure ASGI middleware: every HTTP response carries the security headers.

    A header the application set itself (e.g. a stricter CSP on a download) is kept.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [pair for pair in SECURITY_HEADERS if pair[0] not in present]
                message = {**message, "headers": headers}
            await send(message)

        return await self.app(scope, receive, with_headers)


class BodyDeadline:
    """Pure ASGI middleware: a body that arrives too slowly ends in 408 and a closed connection.

    The wrapped `receive` raises RequestTimeout (an HTTPException, so the app's own error
    handler answers it); if the app lets it through unanswered, this middleware answers.
    """

    def __init__(self, app: ASGIApp, limits: HttpLimits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        body = _TimedBody(receive, self.limits)
        started = False

        async def closing(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                if body.timed_out and _CLOSE not in [(n.lower(), v.lower()) for n, v in headers]:
                    message = {**message, "headers": [*headers, _CLOSE]}
            await send(message)

        try:
            await self.app(scope, body.receive, closing)
        except Exception:
            if not body.timed_out or started:
                raise
            await _send_problem(send, RequestTimeout(self.limits))


_CLOSE = (b"connection", b"close")


class _TimedBody:
    """An ASGI receive that allows the body `timeout + received / min_rate` seconds."""

    def __init__(self, receive: Receive, limits: HttpLimits) -> None:
        self._receive, self.limits = receive, limits
        self.received = 0
        self.complete = False
        self.timed_out = False
        self._start: float | None = None

    async def receive(self) -> Message:
        if self.complete:  # e.g. waiting for the client to disconnect: no limit
            return await self._receive()
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        allowed = self.limits.body_timeout_s + self.received / self.limits.body_min_rate
        try:
            async with asyncio.timeout_at(self._start + allowed):
                message = await self._receive()
        except TimeoutError:
            self.timed_out = True
            raise RequestTimeout(self.limits) from None
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
        else:
            self.complete = True
        return message


async def _send_problem(send: Send, error: HTTPException) -> None:
    body = _problem_body(error.status_code, str(error.detail))
    headers = [(b"content-type", b"application/problem+json"), _CLOSE]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


TITLES = {408: "Request Timeout", 414: "URI Too Long", 431: "Request Header Fields Too Large"}


def _problem_body(status: int, detail: str) -> bytes:
    problem = {"type": "about:blank", "title": TITLES[status], "status": status, "detail": detail}
    return json.dumps(problem).encode()


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a request head over its limit."""


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a size and time limit on each request head.

    Stock uvicorn reads a head of any size for as long as the client takes (a 1 MB header
    was accepted, a slow one holds the connection). Here a head over the limit gets 431
    (414 for the URL) and one too slow gets 408, each answered before the connection closes.
    """

    limits = HttpLimits()
    linger_s = 2.0  # keep reading (and dropping) what the client still sends, so it sees the answer

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_bytes = 0  # raw bytes of the head being read (may include body bytes)
        self._head_fields = 0  # the head's URL, names and values as parsed
        self._in_head = True
        self._refusal: tuple[int, str] | None = None
        self._closing = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._request_id: str | None = None  # the head's X-Request-ID, if it got that far
        self._began = time.perf_counter()
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return  # an answer went out; what the client still sends is dropped
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and not self._closing and self._head_bytes > self.limits.max_head_bytes:
            self._refuse(431, self._head_detail())

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_fields = True, 0
        self._request_id, self._began = None, time.perf_counter()
        if self._head_timer is None:
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._count(len(url), 414, "the request URL is over the limit of the request head")
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4, 431, self._head_detail())
        if name.lower() == b"x-request-id":
            self._request_id = tracing.accepted(value.decode("latin-1"))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes = False, 0
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0  # the next bytes start the next request

    def send_400_response(self, msg: str) -> None:
        if self._refusal is not None:  # the parser stopped at our callback: say why
            self._refuse(*self._refusal)
        else:
            super().send_400_response(msg)

    def _count(self, size: int, status: int, detail: str) -> None:
        self._head_fields += size
        if self._head_fields > self.limits.max_head_bytes:
            self._refusal = (status, detail)
            raise _HeadTooLarge(detail)

    def _method(self) -> str:
        """The refused request's method, when the parser read that far."""
        try:
            return str(self.parser.get_method().decode("ascii"))
        except Exception:  # httptools raises when the request line is incomplete
            return "-"

    def _head_detail(self) -> str:
        return (
            f"the request line and headers are over {self.limits.max_head_bytes} bytes;"
            " send fewer or shorter headers"
        )

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.limits.head_timeout_s, self._head_timeout)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self._closing or not self._in_head:
            return
        if self._head_bytes == 0 and self.cycle is None:
            self.transport.close()  # a connection that never sent a byte gets no answer
            return
        limit = self.limits.head_timeout_s
        self._refuse(408, f"the request head did not arrive within {limit:g} s; send it at once")

    def _refuse(self, status: int, detail: str) -> None:
        """Answer with a problem document, stop reading requests, close after a short linger.

        The answer carries the request's X-Request-ID (when the head got that far, else a
        fresh one) and gets an access line like any other request.
        """
        self._closing = True
        self._cancel_head_timer()
        request_id = self._request_id or tracing.new_id()
        body = _problem_body(status, detail)
        head = (
            f"HTTP/1.1 {status} {TITLES[status]}\r\n"
            "content-type: application/problem+json\r\n"
            f"content-length: {len(body)}\r\n{tracing.HEADER}: {request_id}\r\n"
            "connection: close\r\n\r\n"
        )
        log_request(self._method(), None, status, self._began, Entry(request_id))
        self.transport.write(head.encode() + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(self.linger_s, self.transport.close)


def limits_of(settings: ServiceSettings) -> HttpLimits:
    """The HTTP limits from a process's settings (ServiceSettings' `http_*` fields)."""
    return HttpLimits(
        max_head_bytes=settings.http_max_head_bytes,
        head_timeout_s=settings.http_head_timeout_s,
        body_timeout_s=settings.http_body_timeout_s,
        body_min_rate=settings.http_body_min_rate,
    )


def harden(app: ASGIApp, limits: HttpLimits) -> ASGIApp:
    """The app behind the access log, the security headers and the body deadline (outermost,
    every response)."""
    return AccessLog(SecurityHeaders(BodyDeadline(app, limits)))


def server_config(
    app: ASGIApp, *, host: str, port: int, limits: HttpLimits | None = None, **options: Any
) -> uvicorn.Config:
    """A uvicorn config serving `app` hardened, with the guarded HTTP protocol.

    Every process (the services, the status board's two ports, the local mailbox) is served
    through this, so each answers with the same headers and limits.
    """
    limits = limits or HttpLimits()
    protocol = type("GuardedHttp", (GuardedHttpProtocol,), {"limits": limits})
    return uvicorn.Config(
        harden(app, limits), host=host, port=port, http=protocol, ws="none", **options
    )
