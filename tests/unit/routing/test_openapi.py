"""Routing's OpenAPI: every operation described, with examples of the shapes it serves."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, TypeAdapter

from routing.app import create_app
from routing.models import (
    AssignmentCreate,
    CasePublic,
    CommandAccepted,
    CommandPublic,
    EscalationCreate,
    IncidentLinkCreate,
    PriorityCreate,
    QueueCounts,
    ResolutionCreate,
    StatusChangeCreate,
    TransferCreate,
    WorkItemPublic,
)
from routing.settings import Settings
from shared.messages import Triage
from tests.openapi_checks import DOCS_LINKS, Spec, missing, operations

STAFF_OPERATIONS = {
    "GET /queues/{department_slug}",
    "GET /queues/{department_slug}/counts",
    "POST /queues/{department_slug}/take",
    "GET /cases/{case_id}",
    "POST /cases/{case_id}/assign",
    "POST /cases/{case_id}/transfer",
    "POST /cases/{case_id}/status",
    "POST /cases/{case_id}/escalate",
    "POST /cases/{case_id}/resolution",
    "POST /cases/{case_id}/triage",
    "POST /cases/{case_id}/priority",
    "POST /cases/{case_id}/incidents",
    "DELETE /cases/{case_id}/incidents/{notice_id}",
    "GET /incidents/{notice_id}/cases",
    "GET /commands/{command_id}",
    "GET /reports/sla",
}
BODIES: dict[str, type[BaseModel]] = {
    "/cases/{case_id}/assign": AssignmentCreate,
    "/cases/{case_id}/transfer": TransferCreate,
    "/cases/{case_id}/status": StatusChangeCreate,
    "/cases/{case_id}/escalate": EscalationCreate,
    "/cases/{case_id}/resolution": ResolutionCreate,
    "/cases/{case_id}/triage": Triage,
    "/cases/{case_id}/priority": PriorityCreate,
    "/cases/{case_id}/incidents": IncidentLinkCreate,
}


@pytest.fixture
async def spec() -> AsyncIterator[Spec]:
    """The OpenAPI document routing serves, on local default settings (nothing connects)."""
    transport = httpx.ASGITransport(app=create_app(Settings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield (await client.get("/openapi.json")).raise_for_status().json()


def test_every_operation_has_a_description_and_examples(spec: Spec) -> None:
    """Each operation has a description, a body example (if it takes one) and a 2xx example."""
    assert missing(spec) == []


def test_the_check_finds_an_operation_without_examples(spec: Spec) -> None:
    """A status change stripped of its description and examples is reported three times."""
    operation = spec["paths"]["/cases/{case_id}/status"]["post"]
    del operation["description"]
    for media in operation["requestBody"]["content"].values():
        media.pop("examples", None)
    for media in operation["responses"]["202"]["content"].values():
        media.pop("example", None)
    assert missing(spec) == [
        "POST /cases/{case_id}/status: description",
        "POST /cases/{case_id}/status: request example",
        "POST /cases/{case_id}/status: 202 example",
    ]


def test_the_staff_api_is_documented(spec: Spec) -> None:
    """The document lists the queue, case, command and outcome operations of the staff API."""
    staff = {name for name, operation in operations(spec) if "staff" in operation["tags"]}
    assert staff == STAFF_OPERATIONS


def test_descriptions_are_one_sentence(spec: Spec) -> None:
    """Each staff operation's description is a single sentence ending in a full stop."""
    longer = []
    for name, operation in operations(spec):
        text = " ".join(operation.get("description", "").split()).replace("e.g. ", "")
        if name in STAFF_OPERATIONS and (not text.endswith(".") or ". " in text):
            longer.append(name)
    assert longer == []


def test_the_docs_page_links_every_service_docs(spec: Spec) -> None:
    """The description links intake, routing, feed, the status board and its admin docs."""
    assert [link for link in DOCS_LINKS if link not in spec["info"]["description"]] == []


def test_docs_links_follow_the_settings() -> None:
    """ROUTING_DOCS_URLS replaces the links of the docs page."""
    settings = Settings(docs_urls={"intake": "https://intake.example/docs"})
    description = str(create_app(settings).description)
    assert "https://intake.example/docs" in description
    assert "http://127.0.0.1:8001/docs" not in description


def _body_examples(spec: Spec, path: str) -> dict[str, Any]:
    content = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return {name: example["value"] for name, example in content["examples"].items()}


def test_documented_bodies_are_valid_requests(spec: Spec) -> None:
    """Every documented body of assign, transfer, status, escalate and resolve validates."""
    for path, model in BODIES.items():
        examples = _body_examples(spec, path)
        assert examples, path
        for body in examples.values():
            model.model_validate(body)


def test_documented_answers_have_the_served_shape(spec: Spec) -> None:
    """The queue, case, command outcome and 202 examples validate against the served models."""
    paths = spec["paths"]

    def example(path: str, method: str, status: str) -> Any:
        return paths[path][method]["responses"][status]["content"]["application/json"]["example"]

    TypeAdapter(list[WorkItemPublic]).validate_python(
        example("/queues/{department_slug}", "get", "200")
    )
    QueueCounts.model_validate(example("/queues/{department_slug}/counts", "get", "200"))
    CasePublic.model_validate(example("/cases/{case_id}", "get", "200"))
    CommandPublic.model_validate(example("/commands/{command_id}", "get", "200"))
    for path in (*BODIES, "/queues/{department_slug}/take"):
        CommandAccepted.model_validate(example(path, "post", "202"))


def test_the_queue_documents_a_filter_query(spec: Spec) -> None:
    """The queue's status, priority, assignee, case type, subject, reply and order parameters
    each carry an example; the counts take the same filters."""
    parameters = spec["paths"]["/queues/{department_slug}"]["get"]["parameters"]
    documented = {p["name"] for p in parameters if p.get("examples") or p.get("example")}
    filters = {"status", "priority", "assignee", "case_type", "subject", "customer_replied"}
    assert {*filters, "sort", "order"} <= documented
    counts = spec["paths"]["/queues/{department_slug}/counts"]["get"]["parameters"]
    listed = {p["name"] for p in parameters} - {"sort", "order", "limit", "offset"}
    assert {p["name"] for p in counts} == listed


async def test_the_docs_page_is_served() -> None:
    """Swagger UI answers at /docs, titled with the service."""
    transport = httpx.ASGITransport(app=create_app(Settings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/docs")
    assert (response.status_code, "swagger-ui" in response.text) == (200, True)
