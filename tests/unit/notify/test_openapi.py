"""Notify's OpenAPI: every operation described with an example, served as documented."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from notify.app import create_app
from notify.settings import Settings
from tests.openapi_checks import DOCS_LINKS, Spec, missing, operations


@pytest.fixture
def app() -> FastAPI:
    """Notify on local default settings, its lifespan not run (nothing connects)."""
    return create_app(Settings())


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the in-process app."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notify") as client:
        yield client


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> Spec:
    """The OpenAPI document the app serves."""
    return dict((await client.get("/openapi.json")).raise_for_status().json())


def _example(spec: Spec, path: str, status: str, media: str) -> Any:
    return spec["paths"][path]["get"]["responses"][status]["content"][media]["example"]


def test_notify_documents_only_its_operations_routes(spec: Spec) -> None:
    """Notify has no API of its own: health, readiness, metrics and its AsyncAPI document."""
    assert {name for name, _ in operations(spec)} == {
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
        "GET /asyncapi.json",
        "GET /asyncapi",
    }


def test_every_operation_has_a_description_and_an_example(spec: Spec) -> None:
    """Each operation has a one-sentence description and an example of its 2xx answer."""
    assert missing(spec) == []
    for name, operation in operations(spec):
        assert operation["description"].count(". ") == 0, name
        assert operation["description"].endswith("."), name


def test_the_check_finds_an_operation_without_description_or_example(spec: Spec) -> None:
    """An operation stripped of its description and example is reported twice."""
    operation = spec["paths"]["/healthz"]["get"]
    del operation["description"]
    operation["responses"]["200"]["content"]["application/json"].pop("example")
    assert missing(spec) == ["GET /healthz: description", "GET /healthz: 200 example"]


def test_the_docs_page_links_every_service_docs(spec: Spec) -> None:
    """The description links intake, routing, feed, the status board and its admin docs."""
    description = spec["info"]["description"]
    assert [link for link in DOCS_LINKS if f"<{link}>" not in description] == []


def test_docs_links_follow_the_settings() -> None:
    """NOTIFY_DOCS_URLS replaces the local links."""
    settings = Settings(docs_urls={"intake": "https://intake.example/docs"})
    description = str(create_app(settings).description)
    assert "- intake: <https://intake.example/docs>" in description
    assert "8002" not in description


async def test_health_answers_as_documented(spec: Spec, client: httpx.AsyncClient) -> None:
    """GET /healthz answers exactly its documented example."""
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == _example(spec, "/healthz", "200", "application/json")


async def test_readiness_answers_in_the_documented_shape(
    spec: Spec, client: httpx.AsyncClient
) -> None:
    """Before the broker connects, /readyz answers 503 naming the same checks as its examples."""
    response = await client.get("/readyz")
    ready = _example(spec, "/readyz", "200", "application/json")
    not_ready = _example(spec, "/readyz", "503", "application/json")
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["checks"]["kafka"]) == ("not ready", False)
    assert set(body) == set(ready) == set(not_ready)
    assert (
        set(body["checks"])
        == set(ready["checks"])
        == set(not_ready["checks"])
        == {
            "kafka",
            "mongo",
        }
    )


async def test_metrics_are_served_in_the_documented_media_type(
    spec: Spec, client: httpx.AsyncClient
) -> None:
    """/metrics answers in the media type its example is documented under, with notify's
    mail counter in it."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert _example(spec, "/metrics", "200", response.headers["content-type"])
    assert "# TYPE notify_mails_total counter" in response.text


async def test_asyncapi_answers_as_documented(spec: Spec, client: httpx.AsyncClient) -> None:
    """/asyncapi.json serves an AsyncAPI document of the documented version with notify's
    case events in it; /asyncapi serves the page as HTML."""
    served = (await client.get("/asyncapi.json")).json()
    example = _example(spec, "/asyncapi.json", "200", "application/json")
    assert served["asyncapi"] == example["asyncapi"] == "3.0.0"
    assert served["info"]["title"] == "Notify"
    addresses = [channel["address"] for channel in served["channels"].values()]
    assert any(address.endswith("case.events") for address in addresses)
    page = await client.get("/asyncapi")
    assert page.headers["content-type"].startswith("text/html")
    assert _example(spec, "/asyncapi", "200", "text/html")
