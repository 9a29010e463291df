"""Problem details from shared.problems: the shape, clear validation messages, the 500, OpenAPI."""

import logging
import socket
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, File, HTTPException, UploadFile
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pymongo import AsyncMongoClient

from shared.cases import AnyDetails
from shared.enums import CaseType
from shared.problems import PROBLEM_JSON, problem_responses
from shared.service import new_app
from tests.seed_facts import SEED_CASE_TYPES


class NoteCreate(BaseModel):
    """A body with the kinds of fields the services take."""

    model_config = ConfigDict(extra="forbid")
    case_type: CaseType
    text: Annotated[str, Field(max_length=100)]
    due: date | None = None
    starts_at: AwareDatetime | None = None


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def build() -> FastAPI:
    """An app made like every service's, with routes that fail in each way."""
    app = new_app("Test", "Problems under test.", None)

    @app.post("/notes", responses=problem_responses(409))
    async def add_note(body: NoteCreate) -> dict[str, str]:
        return {"ok": "yes"}

    @app.post("/forms")
    async def add_form(body: AnyDetails) -> dict[str, str]:
        return {"ok": "yes"}

    @app.post("/files")
    async def add_file(file: Annotated[UploadFile, File()]) -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("NodeNotReadyError: secret-host:9092 password=hunter2")

    @app.get("/stored")
    async def stored() -> None:
        # A real client asking a port where no database listens: the outage of a Mongo server.
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            f"mongodb://127.0.0.1:{closed_port()}/?directConnection=true",
            serverSelectionTimeoutMS=200,
        )
        try:
            await mongo["db"]["cases"].find_one({})
        finally:
            await mongo.close()

    @app.get("/guarded")
    async def guarded() -> None:
        raise HTTPException(401, "send a bearer token", headers={"WWW-Authenticate": "Bearer"})

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app in this process."""
    transport = httpx.ASGITransport(app=build())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def problem_of(answer: httpx.Response, status: int) -> dict[str, Any]:
    """The answer's problem document, after checking its status, media type and members."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = answer.json()
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(body)
    assert body["status"] == status
    return body


async def test_enum_typo_lists_the_values_and_the_closest(client: httpx.AsyncClient) -> None:
    """A misspelt case type names every allowed value and suggests the closest one."""
    body = {"case_type": "Aplication Issue", "text": "hello"}
    found = problem_of(await client.post("/notes", json=body), 422)
    issue = found["errors"][0]
    assert (issue["field"], issue["rule"]) == ("case_type", "enum")
    assert all(f"'{value}'" in issue["message"] for value in SEED_CASE_TYPES)
    assert "did you mean 'Application Issue'?" in issue["message"]


async def test_discriminator_typo_shows_values_not_reprs(client: httpx.AsyncClient) -> None:
    """A misspelt case type of a form union lists values, never `<CaseType.X: ...>` reprs."""
    answer = await client.post("/forms", json={"case_type": "Server Isue", "module": "Hosting"})
    found = problem_of(answer, 422)
    assert "<" not in answer.text
    assert found["errors"][0]["field"] == "case_type"
    assert "did you mean 'Server Issue'?" in found["errors"][0]["message"]


async def test_missing_discriminator_lists_the_values(client: httpx.AsyncClient) -> None:
    """A form without case_type says it is required and lists the values."""
    found = problem_of(await client.post("/forms", json={"module": "Hosting"}), 422)
    assert found["errors"][0]["field"] == "case_type"
    assert "'Report an Outage'" in found["errors"][0]["message"]


async def test_date_errors_name_the_format(client: httpx.AsyncClient) -> None:
    """Bad dates and date-times name ISO 8601 and the expected layout."""
    body = {"case_type": "Server Issue", "text": "x", "due": "05/01/2026", "starts_at": "noon"}
    found = problem_of(await client.post("/notes", json=body), 422)
    messages = {issue["field"]: issue["message"] for issue in found["errors"]}
    assert "ISO 8601" in messages["due"]
    assert "YYYY-MM-DD" in messages["due"]
    assert "ISO 8601" in messages["starts_at"]
    assert "time zone" in messages["starts_at"]


async def test_naive_datetime_asks_for_a_time_zone(client: httpx.AsyncClient) -> None:
    """A date-time without a zone is refused, saying a time zone is needed."""
    body = {"case_type": "Server Issue", "text": "x", "starts_at": "2026-05-01T10:00:00"}
    found = problem_of(await client.post("/notes", json=body), 422)
    assert "time zone" in found["errors"][0]["message"]


async def test_huge_input_is_never_echoed(client: httpx.AsyncClient) -> None:
    """A 1 MiB value over its limit is refused without being repeated back."""
    body = {"case_type": "Aplication Issue" + "x" * 1_048_576, "text": "y" * 1_048_576}
    answer = await client.post("/notes", json=body)
    problem_of(answer, 422)
    assert len(answer.content) < 4_000


async def test_unknown_field_and_missing_field_are_named(client: httpx.AsyncClient) -> None:
    """Each broken rule is one issue naming its field and rule."""
    found = problem_of(await client.post("/notes", json={"case_type": "Data Restore", "x": 1}), 422)
    rules = {(issue["field"], issue["rule"]) for issue in found["errors"]}
    assert rules == {("text", "missing"), ("x", "extra_forbidden")}


async def test_upload_given_as_text_has_no_python_repr(client: httpx.AsyncClient) -> None:
    """A file field sent as a plain form field says to send a file, without a class repr."""
    answer = await client.post("/files", data={"file": "not a file"})
    found = problem_of(answer, 422)
    assert "<class" not in answer.text
    assert "file" in found["errors"][0]["message"]


async def test_unexpected_error_is_a_500_problem_without_internals(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected exception answers a problem+json 500 naming nothing internal; the log
    keeps the traceback."""
    with caplog.at_level(logging.ERROR):
        answer = await client.get("/crash")
    problem_of(answer, 500)
    assert not any(word in answer.text for word in ("NodeNotReady", "RuntimeError", "hunter2"))
    assert any(r.exc_info and "hunter2" in str(r.exc_info[1]) for r in caplog.records)


async def test_http_errors_keep_their_headers(client: httpx.AsyncClient) -> None:
    """A 401 is a problem that keeps WWW-Authenticate and names the Authorization header."""
    answer = await client.get("/guarded")
    found = problem_of(answer, 401)
    assert answer.headers["www-authenticate"] == "Bearer"
    assert found["errors"][0]["field"] == "Authorization"


async def test_unknown_route_and_method_are_problems(client: httpx.AsyncClient) -> None:
    """Routing's own 404 and 405 are problems too."""
    problem_of(await client.get("/nowhere"), 404)
    problem_of(await client.delete("/notes"), 405)


async def test_openapi_documents_errors_as_problems(client: httpx.AsyncClient) -> None:
    """The OpenAPI lists 422 (and declared statuses) as application/problem+json Problems."""
    spec = (await client.get("/openapi.json")).json()
    responses = spec["paths"]["/notes"]["post"]["responses"]
    for status in ("409", "422"):
        assert responses[status]["content"] == {
            PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert {"title", "status", "detail"} <= set(schemas["Problem"]["required"])


async def test_unparsable_body_is_a_documented_400(client: httpx.AsyncClient) -> None:
    """A body that is not UTF-8 gets a 400 problem saying what to send, and the OpenAPI of
    every operation that takes a body lists that 400."""
    headers = {"Content-Type": "application/json"}
    found = problem_of(await client.post("/notes", content=b"\xff\xfe{", headers=headers), 400)
    assert found["errors"][0]["field"] == "body"
    assert "UTF-8 JSON" in found["detail"]
    spec = (await client.get("/openapi.json")).json()
    assert "400" in spec["paths"]["/notes"]["post"]["responses"]
    assert "400" not in spec["paths"]["/crash"]["get"]["responses"]


async def test_a_database_outage_is_a_503_with_retry_after(client: httpx.AsyncClient) -> None:
    """A database that does not answer gives 503 with Retry-After, never a 500."""
    answer = await client.get("/stored")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert int(answer.headers["retry-after"]) > 0
    body = answer.json()
    assert "retry" in body["detail"]
    assert "127.0.0.1" not in answer.text
    assert "ServerSelection" not in answer.text


def test_every_operation_documents_the_503() -> None:
    """The OpenAPI lists 503 on every operation, as any of them can meet a database outage."""
    spec = build().openapi()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            assert "503" in operation["responses"], f"{method} {path}"
