"""ASGI fast path: public GETs answered straight from the snapshot's bytes, before any routing."""

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from status_board.service import Board
from status_board.snapshot import Rendered

_CORS = (b"access-control-allow-origin", b"*")


class FastPath:
    """Serve a snapshot hit (200 or 304) itself; anything else goes on to the FastAPI app."""

    def __init__(self, app: ASGIApp, board: Board) -> None:
        self.app, self.board = app, board

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        query = (
            dict(parse_qsl(scope["query_string"].decode("latin-1")))
            if scope["query_string"]
            else {}
        )
        rendered = self.board.snapshot().at(scope["path"], query)
        if rendered is None:
            return await self.app(scope, receive, send)
        await _answer(scope, send, rendered)
        return None


async def _answer(scope: Scope, send: Send, rendered: Rendered) -> None:
    headers = list(rendered.headers)
    if scope["path"].startswith("/api/"):
        headers.append(_CORS)
    fresh = _matches(scope["headers"], rendered.etag.encode())
    body = b"" if fresh or scope["method"] == "HEAD" else rendered.body
    if not fresh:
        headers.append((b"content-length", str(len(rendered.body)).encode()))
    await send({"type": "http.response.start", "status": 304 if fresh else 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _matches(headers: list[tuple[bytes, bytes]], etag: bytes) -> bool:
    for name, value in headers:
        if name == b"if-none-match":
            tags = {tag.strip().removeprefix(b"W/") for tag in value.split(b",")}
            return etag in tags or b"*" in tags
    return False
