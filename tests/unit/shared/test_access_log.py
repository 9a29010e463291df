"""The access log: one line per request with route template, caller and id, never a token."""

import asyncio
import json
import logging
import re
import socket
from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
import uvicorn
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse

from shared import tracing
from shared.access import AccessLog
from shared.directory import DirectoryStore, Principal, bearer_auth
from shared.enums import ActorKind, ContactType
from shared.http import HttpLimits, harden, server_config
from shared.logs import JsonFormatter
from shared.service import new_app

HEX = "0af7651916cd43dd8448eb211c80319c"
TOKEN = "local-dev-only-kelly-kapowski-token"
KELLY = Principal(
    kind=ActorKind.CONTACT,
    id="kelly",
    name="Kelly Kapowski",
    email="kelly@bayside.example",
    contact_type=ContactType.AUTHORIZED_SUPPORT,
    account_ids=["bayside"],
)


class OneToken(DirectoryStore):
    """A directory that knows one token, Kelly's, and no database."""

    def __init__(self) -> None:
        pass

    async def principal_for(self, token: str) -> Principal | None:
        return KELLY if token == TOKEN else None


def cases_app() -> FastAPI:
    """An app built like the services', with a case route behind bearer auth and a fault."""
    app = new_app("Cases", "test", None)
    directory = OneToken()
    Caller = Annotated[Principal, Depends(bearer_auth(lambda: directory))]

    @app.post("/cases/{case_id}/posts", status_code=201)
    async def post(case_id: str, caller: Caller) -> JSONResponse:
        body = {"case": case_id, "by": caller.id, "request_id": tracing.current()}
        return JSONResponse(body, status_code=201)

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("a defect")

    return app


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """What the test logs, from INFO up."""
    caplog.set_level(logging.INFO)
    return caplog


def access(logged: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    """The access lines (shared.access) as the JSON log prints them."""
    formatter = JsonFormatter("cases")
    chosen = [r for r in logged.records if r.name == "shared.access"]
    return [json.loads(formatter.format(r)) for r in chosen]


async def call(app: FastAPI, method: str, url: str, **options: object) -> httpx.Response:
    """One request to the app in-process."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://cases") as client:
        return await client.request(method, url, **options)  # type: ignore[arg-type]


async def test_an_authenticated_post_logs_its_route_caller_and_id(
    lines: pytest.LogCaptureFixture,
) -> None:
    """One line: POST, the route template, 201, a duration, contact kelly, the caller's id."""
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Request-ID": HEX}
    answer = await call(cases_app(), "POST", "/cases/1000003/posts?token=s3cret", headers=headers)
    assert answer.status_code == 201
    assert answer.headers["X-Request-ID"] == HEX
    [line] = access(lines)
    assert line["method"] == "POST"
    assert line["route"] == "/cases/{case_id}/posts"
    assert line["status"] == 201
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert (line["caller_kind"], line["caller_id"]) == ("contact", "kelly")
    assert line["request_id"] == HEX
    printed = json.dumps(line)
    for secret in (TOKEN, "s3cret", "1000003", "Kelly Kapowski"):
        assert secret not in printed


async def test_the_id_is_current_while_the_route_runs(lines: pytest.LogCaptureFixture) -> None:
    """The route (and so each line it logs, and each record it publishes) sees the caller's id."""
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Request-ID": HEX}
    answer = await call(cases_app(), "POST", "/cases/7/posts", headers=headers)
    assert answer.json()["request_id"] == HEX
    assert tracing.current() is None


async def test_an_unplain_id_is_replaced_by_a_fresh_one(lines: pytest.LogCaptureFixture) -> None:
    """A caller's id with spaces is not echoed: the answer and the line get a new 32-hex id."""
    answer = await call(cases_app(), "POST", "/cases/7/posts", headers={"X-Request-ID": "a b"})
    assert answer.status_code == 401
    fresh = answer.headers["X-Request-ID"]
    assert re.fullmatch("[0-9a-f]{32}", fresh)
    [line] = access(lines)
    assert line["request_id"] == fresh
    assert (line["status"], line["caller_kind"], line["caller_id"]) == (401, None, None)


async def test_problem_answers_and_500s_carry_the_id(lines: pytest.LogCaptureFixture) -> None:
    """A 404 problem and a 500 from a defect both echo the id and are logged once each."""
    app = cases_app()
    missing = await call(app, "GET", "/nowhere", headers={"X-Request-ID": "req-404"})
    broken = await call(app, "GET", "/broken", headers={"X-Request-ID": "req-500"})
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.headers["X-Request-ID"] == "req-404"
    assert broken.status_code == 500
    assert broken.headers["content-type"] == "application/problem+json"
    assert broken.headers["X-Request-ID"] == "req-500"
    logged = [(line["route"], line["status"], line["request_id"]) for line in access(lines)]
    assert logged == [(None, 404, "req-404"), ("/broken", 500, "req-500")]


async def test_the_server_and_the_app_log_a_request_once(lines: pytest.LogCaptureFixture) -> None:
    """Served hardened (the server's AccessLog around the app's), one line, one echo."""
    app = harden(cases_app(), HttpLimits())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cases") as client:
        answer = await client.get("/broken", headers={"X-Request-ID": HEX})
    assert answer.headers.get_list("X-Request-ID") == [HEX]
    assert [line["request_id"] for line in access(lines)] == [HEX]


async def test_a_plain_asgi_app_gets_the_id_too(lines: pytest.LogCaptureFixture) -> None:
    """AccessLog around any ASGI app (the status board's) logs it with no route template."""

    async def hello(scope: object, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    transport = httpx.ASGITransport(app=AccessLog(hello))
    async with httpx.AsyncClient(transport=transport, base_url="http://board") as client:
        answer = await client.get("/status", headers={"X-Request-ID": HEX})
    assert answer.headers["X-Request-ID"] == HEX
    [line] = access(lines)
    assert (line["method"], line["route"], line["status"]) == ("GET", None, 204)


@pytest.fixture
async def served() -> AsyncIterator[int]:
    """The cases app behind the guarded HTTP protocol on a free local port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = server_config(cases_app(), host="127.0.0.1", port=port, log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.01)
    yield port
    server.should_exit = True
    await task


async def test_an_oversized_head_gets_431_with_the_id(
    served: int, lines: pytest.LogCaptureFixture
) -> None:
    """The protocol's own 431 echoes the id sent before the padding, and is logged."""
    headers = {"X-Request-ID": HEX, "X-Padding": "a" * 40_000}
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"http://127.0.0.1:{served}/broken", headers=headers)
    assert answer.status_code == 431
    assert answer.headers["X-Request-ID"] == HEX
    [line] = access(lines)
    assert (line["method"], line["route"], line["status"]) == ("GET", None, 431)
    assert line["request_id"] == HEX
