"""The ASGI half of shared.http: security headers on every answer, 408 for a slow body."""

import asyncio
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from shared.http import CSP, BodyDeadline, HttpLimits, SecurityHeaders

SCOPE: Scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
FAST = HttpLimits(body_timeout_s=0.05, body_min_rate=1_000_000)


async def _call(app: Any, messages: list[Message], *, stall: bool = False) -> list[Message]:
    """Run the app with these request messages (then silence, or stall for ever)."""
    sent: list[Message] = []
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        await asyncio.sleep(3600 if stall else 0)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(dict(SCOPE), receive, send)
    return sent


async def _reader(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that reads the whole body, then answers 200 with its length."""
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    headers = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": str(size).encode()})


def _headers(sent: list[Message]) -> dict[bytes, bytes]:
    return dict(sent[0]["headers"])


async def test_every_answer_gets_the_security_headers() -> None:
    """CSP, nosniff, frame and referrer headers are added to a plain answer."""
    sent = await _call(SecurityHeaders(_reader), [{"type": "http.request", "body": b"ab"}])
    headers = _headers(sent)
    assert headers[b"content-security-policy"] == CSP.encode()
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert headers[b"x-frame-options"] == b"DENY"
    assert headers[b"referrer-policy"] == b"no-referrer"
    assert "script-src 'self';" in CSP
    assert "frame-ancestors 'none'" in CSP


async def test_a_csp_the_app_set_itself_is_kept() -> None:
    """A stricter policy of the app (e.g. a sandboxed download) is not overwritten."""

    async def sandboxed(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-security-policy", b"sandbox")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    sent = await _call(SecurityHeaders(sandboxed), [])
    assert [v for k, v in sent[0]["headers"] if k == b"content-security-policy"] == [b"sandbox"]


async def test_a_body_that_stops_arriving_gets_408_and_closes() -> None:
    """The first chunk comes, the rest never does: 408, `connection: close`, no 500."""
    first = {"type": "http.request", "body": b"x", "more_body": True}
    sent = await _call(BodyDeadline(_reader, FAST), [first], stall=True)
    assert sent[0]["status"] == 408
    assert _headers(sent)[b"connection"] == b"close"
    assert b"did not arrive in time" in sent[1]["body"]


async def test_a_body_in_time_is_untouched_and_the_wait_after_it_unlimited() -> None:
    """A complete body passes; waiting for the disconnect afterwards is not timed."""

    async def waits(scope: Scope, receive: Receive, send: Send) -> None:
        await _reader(scope, receive, send)
        assert (await receive())["type"] == "http.disconnect"

    chunks: list[Message] = [
        {"type": "http.request", "body": b"a" * 10, "more_body": True},
        {"type": "http.request", "body": b"b" * 5},
    ]
    sent = await _call(BodyDeadline(waits, FAST), chunks)
    assert (sent[0]["status"], sent[1]["body"]) == (200, b"15")
    assert b"connection" not in _headers(sent)
