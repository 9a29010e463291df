"""Per-request phase timings, answered in a Server-Timing header (the benchmark reads them)."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_PHASES: ContextVar[dict[str, float] | None] = ContextVar("intake_phases", default=None)


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Time the block as phase `name` of the current request (nothing outside a request)."""
    phases = _PHASES.get()
    started = time.perf_counter()
    try:
        yield
    finally:
        if phases is not None:
            phases[name] = phases.get(name, 0.0) + (time.perf_counter() - started) * 1000


class ServerTiming:
    """ASGI middleware: time each HTTP request and its phases, in a Server-Timing header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        phases: dict[str, float] = {}
        token = _PHASES.set(phases)
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                phases["app"] = (time.perf_counter() - started) * 1000
                value = ", ".join(f"{name};dur={ms:.2f}" for name, ms in phases.items())
                headers = [*message.get("headers", []), (b"server-timing", value.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, timed)
        finally:
            _PHASES.reset(token)
