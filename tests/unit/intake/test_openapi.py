"""Intake's OpenAPI document: every operation described, with examples that intake accepts."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import BaseModel, TypeAdapter

from intake import logic
from intake.app import create_app
from intake.models import (
    CaseCreate,
    CasePublic,
    CloseCreate,
    CommandAccepted,
    ContactsPublic,
    PostPublic,
    RecipientsCreate,
    RecipientsPublic,
    ReopenCreate,
    StaffListPublic,
)
from intake.settings import Settings
from shared.cases import DETAILS_BY_TYPE
from shared.enums import CaseType
from tests.openapi_checks import DOCS_LINKS, Spec, missing, operations

# The seeds' ten case types (001's Case Types tables), written out.
CASE_TYPES = {
    "Application Issue",
    "Ask a Question",
    "Report an Outage",
    "Request Training",
    "Data Restore",
    "Server Issue",
    "Server Access",
    "Modify Support Contacts",
    "Request Consulting",
    "Request Technical Services",
}
# Operations every service serves (shared.ops and shared.service).
OPS = {"GET /healthz", "GET /readyz", "GET /metrics", "GET /asyncapi.json", "GET /asyncapi"}
OPERATIONS = {
    "POST /cases",
    "POST /cases/{case_id}/posts",
    "GET /cases/{case_id}/attachments",
    "GET /cases/{case_id}/attachments/{attachment_id}",
    "POST /cases/{case_id}/close",
    "POST /cases/{case_id}/reopen",
    "GET /cases/{case_id}/recipients",
    "POST /cases/{case_id}/recipients",
    "DELETE /cases/{case_id}/recipients",
    "GET /directory/contacts",
    "POST /directory/contacts",
    "PATCH /directory/contacts/{contact_id}",
    "GET /directory/departments/{department_slug}/staff",
}


async def spec_of(settings: Settings) -> Spec:
    """The OpenAPI document intake serves with these settings (nothing connects)."""
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer: Spec = (await client.get("/openapi.json")).raise_for_status().json()
        return answer


@pytest.fixture(scope="module")
async def spec() -> Spec:
    """The document on local default settings."""
    return await spec_of(Settings(seed_file=""))


def _body_examples(spec: Spec, path: str, media: str = "application/json") -> dict[str, Any]:
    content = spec["paths"][path]["post"]["requestBody"]["content"][media]
    return {name: example["value"] for name, example in content["examples"].items()}


def _answer_example(spec: Spec, path: str, method: str, status: str) -> Any:
    return spec["paths"][path][method]["responses"][status]["content"]["application/json"][
        "example"
    ]


def test_intake_serves_every_operation(spec: Spec) -> None:
    """The document lists intake's case, post, command, recipient, directory and ops routes."""
    assert {name for name, _ in operations(spec)} == OPERATIONS | OPS


def test_every_operation_has_a_description_and_examples(spec: Spec) -> None:
    """Each operation has a description, a request body example and a 2xx example."""
    assert missing(spec) == []


def test_the_check_finds_an_operation_without_examples(spec: Spec) -> None:
    """An operation stripped of its description and examples is reported three times."""
    operation = spec["paths"]["/cases/{case_id}/close"]["post"]
    stripped = {**operation, "description": ""}
    stripped["requestBody"] = {"content": {"application/json": {"schema": {}}}}
    stripped["responses"] = {"202": {"content": {"application/json": {"schema": {}}}}}
    broken = {**spec, "paths": {"/cases/{case_id}/close": {"post": stripped}}}
    assert missing(broken) == [
        "POST /cases/{case_id}/close: description",
        "POST /cases/{case_id}/close: request example",
        "POST /cases/{case_id}/close: 202 example",
    ]


def test_a_submission_is_documented_per_case_type(spec: Spec) -> None:
    """The submit operation shows one example of each of the seeds' ten case types."""
    examples = _body_examples(spec, "/cases")
    assert {body["case_type"] for body in examples.values()} == CASE_TYPES
    assert len(examples) == 10


def test_the_application_issue_example_is_the_seeds_case(spec: Spec) -> None:
    """The Application Issue example is 001's well-written case (Teachers unable to post)."""
    example = _body_examples(spec, "/cases")["Application Issue"]
    assert example["subject"] == "Teachers unable to post grades"
    assert example["module"] == "Grade Book"
    assert example["who_is_impacted"] == "English Lit 1100 teachers"
    assert example["issue_began"] == "2021-09-07"
    assert example["expected_results"] == "Post button to be active"


def test_documented_submissions_pass_intakes_checks(spec: Spec) -> None:
    """Every documented submission parses, and passes the priority and date rules today."""
    today = datetime.now(ZoneInfo("America/Chicago")).date()  # Bayside's zone (the seed)
    for name, body in _body_examples(spec, "/cases").items():
        case = TypeAdapter(CaseCreate).validate_python(body)
        case_type = CaseType(case.case_type)
        logic.check_priority(case_type, case.priority)
        details = DETAILS_BY_TYPE[case_type].model_validate(body)
        assert logic.date_problems(details, case.due_date, today) == [], name


def test_documented_command_and_recipient_bodies_parse(spec: Spec) -> None:
    """The close, reopen and recipient examples are bodies those routes accept."""
    bodies: dict[str, type[BaseModel]] = {
        "/cases/{case_id}/close": CloseCreate,
        "/cases/{case_id}/reopen": ReopenCreate,
        "/cases/{case_id}/recipients": RecipientsCreate,
    }
    for path, model in bodies.items():
        for body in _body_examples(spec, path).values():
            model.model_validate(body)


def test_the_post_is_documented_with_an_attachment(spec: Spec) -> None:
    """The post example is multipart: a body and a file."""
    operation = spec["paths"]["/cases/{case_id}/posts"]["post"]
    form = operation["requestBody"]["content"]["multipart/form-data"]
    assert form["example"]["files"] == ["snow-day.txt"]
    assert form["example"]["body"].strip()


def test_the_post_form_documents_internal_notes(spec: Spec) -> None:
    """The post form offers visibility public (the default) or internal, staff only."""
    operation = spec["paths"]["/cases/{case_id}/posts"]["post"]
    ref = operation["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    form = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    field = form["properties"]["visibility"]
    named = spec["components"]["schemas"][field["$ref"].rsplit("/", 1)[-1]]
    assert set(named["enum"]) == {"public", "internal"}
    assert field["default"] == "public"
    assert "staff" in field["description"]


def test_answer_examples_have_the_served_shape(spec: Spec) -> None:
    """Each JSON answer example validates against the model the route answers with."""
    answers: list[tuple[str, str, str, type[BaseModel]]] = [
        ("/cases", "post", "201", CasePublic),
        ("/cases/{case_id}/posts", "post", "201", PostPublic),
        ("/cases/{case_id}/close", "post", "202", CommandAccepted),
        ("/cases/{case_id}/reopen", "post", "202", CommandAccepted),
        ("/cases/{case_id}/recipients", "get", "200", RecipientsPublic),
        ("/cases/{case_id}/recipients", "post", "200", RecipientsPublic),
        ("/cases/{case_id}/recipients", "delete", "200", RecipientsPublic),
        ("/directory/contacts", "get", "200", ContactsPublic),
        ("/directory/departments/{department_slug}/staff", "get", "200", StaffListPublic),
    ]
    for path, method, status, model in answers:
        model.model_validate(_answer_example(spec, path, method, status))


def test_the_docs_page_links_every_service_docs(spec: Spec) -> None:
    """The description links intake, routing, feed, the board and the board admin docs."""
    assert all(link in spec["info"]["description"] for link in DOCS_LINKS)


async def test_docs_links_follow_the_settings() -> None:
    """INTAKE_DOCS_URLS changes the links."""
    settings = Settings(seed_file="", docs_urls={"feed": "https://feed.example/docs"})
    description = (await spec_of(settings))["info"]["description"]
    assert "https://feed.example/docs" in description
    assert "8002" not in description


@pytest.mark.parametrize(
    "path", ["/directory/contacts", "/directory/departments/{department_slug}/staff"]
)
def test_directory_reads_document_only_their_own_refusals(spec: Spec, path: str) -> None:
    """A directory read has no body and changes nothing: no 400, 409 or 413 in its answers."""
    answers = set(spec["paths"][path]["get"]["responses"])
    assert answers == {"200", "401", "403", "404", "422", "429", "503"}
