"""The feed's OpenAPI document: every operation described, with examples of the served shape."""

from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from feed.app import create_app
from feed.models import (
    BannerPublic,
    CasePagePublic,
    CasePublic,
    CommandOutcomePublic,
    FeedPagePublic,
)
from feed.settings import Settings
from tests.openapi_checks import DOCS_LINKS, Spec, missing, operations


async def _spec(settings: Settings) -> Spec:
    """The OpenAPI document the app serves (nothing connects: the lifespan is not run)."""
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        found: Spec = (await client.get("/openapi.json")).raise_for_status().json()
        return found


@pytest.fixture
async def spec() -> Spec:
    """The feed's OpenAPI document on local default settings."""
    return await _spec(Settings())


def _response_examples(spec: Spec, path: str) -> list[Any]:
    media = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    if "example" in media:
        return [media["example"]]
    return [example["value"] for example in media["examples"].values()]


def test_every_operation_has_a_description_and_examples(spec: Spec) -> None:
    """Each operation, the case reads and the operations routes alike, is described with a
    2xx example."""
    assert missing(spec) == []


def test_the_check_finds_an_operation_without_examples(spec: Spec) -> None:
    """An operation stripped of its description and example is reported twice."""
    operation = spec["paths"]["/cases"]["get"]
    del operation["description"]
    operation["responses"]["200"]["content"]["application/json"].pop("example")
    assert missing(spec) == ["GET /cases: description", "GET /cases: 200 example"]


def test_the_document_lists_every_feed_operation(spec: Spec) -> None:
    """The case reads, the command outcome, the banner and the operations routes."""
    assert {name for name, _ in operations(spec)} == {
        "GET /cases",
        "GET /cases/{case_ref}",
        "GET /cases/{case_ref}/feed",
        "GET /cases/{case_ref}/commands/{command_id}",
        "GET /banner",
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
        "GET /asyncapi.json",
        "GET /asyncapi",
    }


def test_the_case_list_documents_a_filter_query(spec: Spec) -> None:
    """The list's filters each show an example value a contact would send."""
    parameters = spec["paths"]["/cases"]["get"]["parameters"]
    shown = {
        p["name"]: [e["value"] for e in p["examples"].values()]
        for p in parameters
        if "examples" in p
    }
    assert shown["status"] == ["Pending Customer Input"]
    assert shown["contact"] == ["zack-morris", "Zack"]
    assert shown["subject_op"] == ["contains"]
    assert shown["last_modified"] == ["2021-09-15"]


def test_response_examples_have_the_served_shape(spec: Spec) -> None:
    """Every documented answer validates against the model the route answers with, and is
    what that model serves (the document leaves out null fields)."""
    models: dict[str, type[BaseModel]] = {
        "/cases": CasePagePublic,
        "/cases/{case_ref}": CasePublic,
        "/cases/{case_ref}/feed": FeedPagePublic,
        "/cases/{case_ref}/commands/{command_id}": CommandOutcomePublic,
        "/banner": BannerPublic,
    }
    for path, model in models.items():
        for example in _response_examples(spec, path):
            assert (
                model.model_validate(example).model_dump(mode="json", exclude_none=True) == example
            )


def test_outcome_examples_show_each_outcome(spec: Spec) -> None:
    """Pending, applied and rejected are each shown; the rejection says why."""
    examples = _response_examples(spec, "/cases/{case_ref}/commands/{command_id}")
    assert [e["outcome"] for e in examples] == ["pending", "applied", "rejected"]
    assert "60 days" in examples[2]["reason"]


def test_the_docs_page_links_every_service_docs(spec: Spec) -> None:
    """The description links intake, routing, feed, the board and the board admin docs."""
    assert all(link in spec["info"]["description"] for link in DOCS_LINKS)


async def test_docs_links_follow_the_settings() -> None:
    """FEED_DOCS_URLS replaces the links."""
    spec = await _spec(Settings(docs_urls={"intake": "https://intake.example/docs"}))
    assert "https://intake.example/docs" in spec["info"]["description"]
    assert "8001" not in spec["info"]["description"]


async def test_the_docs_page_is_served() -> None:
    """Swagger UI answers at /docs."""
    transport = httpx.ASGITransport(app=create_app(Settings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/docs")
    assert response.status_code == 200
    assert "swagger-ui" in response.text
