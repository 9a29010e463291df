"""One error shape on the real processes: RFC 9457 problem details from every API, with the
clear messages the portal issue asks for (its exact payloads)."""

from typing import Any

import httpx
import pytest

from tests.integration.fuzz.services import FuzzStack
from tests.seed_facts import SEED_CASE_TYPES

PROBLEM_JSON = "application/problem+json"


SECURED = {
    "intake": "/cases/3fa85f64-5717-4562-b3fc-2c963f66afa6/recipients",
    "routing": "/cases/3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "feed": "/cases",
    "admin": "/admin/notices",
}


def problem_of(answer: httpx.Response, status: int) -> dict[str, Any]:
    """The problem document of an answer, after checking status, media type and members."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON, answer.text
    body: dict[str, Any] = answer.json()
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(body), body
    assert body["status"] == status
    return body


def test_a_misspelt_case_type_lists_the_values_and_the_closest(fuzz_stack: FuzzStack) -> None:
    """`"Aplication Issue"` gets a 422 listing every case type and suggesting the closest,
    with no enum repr."""
    body = {"case_type": "Aplication Issue", "subject": "s", "description": "d"}
    with fuzz_stack.intake.client() as client:
        answer = client.post("/cases", json=body)
    issue = problem_of(answer, 422)["errors"][0]
    assert issue["field"] == "case_type"
    assert all(f"'{value}'" in issue["message"] for value in SEED_CASE_TYPES)
    assert "did you mean 'Application Issue'?" in issue["message"]
    assert "<CaseType" not in answer.text


def test_a_bad_date_names_the_format(fuzz_stack: FuzzStack) -> None:
    """A Data Restore with `05/01/2026` as its loss date is told the ISO 8601 format."""
    body = {
        "case_type": "Data Restore",
        "subject": "s",
        "description": "d",
        "module": "Enrollment",
        "approximate_date_of_loss": "05/01/2026",
        "reason_for_restore": "deleted by mistake",
        "written_permission": True,
    }
    with fuzz_stack.intake.client() as client:
        issues = problem_of(client.post("/cases", json=body), 422)["errors"]
    found = {issue["field"]: issue["message"] for issue in issues}
    assert "YYYY-MM-DD" in found["approximate_date_of_loss"]
    assert "ISO 8601" in found["approximate_date_of_loss"]


def test_a_file_sent_as_text_has_no_class_repr(fuzz_stack: FuzzStack) -> None:
    """A post whose `files` is a plain form field is refused without `<class 'str'>`."""
    case_id = fuzz_stack.intake.known["case_id"][0]
    with fuzz_stack.intake.client() as client:
        answer = client.post(f"/cases/{case_id}/posts", data={"body": "x", "files": "text"})
    issue = problem_of(answer, 422)["errors"][0]
    assert issue["field"].startswith("files")
    assert "<class" not in answer.text


def test_a_wrong_notice_status_shows_values_not_reprs(fuzz_stack: FuzzStack) -> None:
    """An incident opened as `Completed` is refused naming the value, never
    `<NoticeStatus.COMPLETED: 'Completed'>`."""
    body = {"title": "t", "body": "b", "status": "Completed"}
    with fuzz_stack.admin.client() as client:
        answer = client.post("/admin/incidents", json=body)
    assert "Completed" in problem_of(answer, 422)["detail"]
    assert "<NoticeStatus" not in answer.text


def test_a_huge_note_is_not_echoed(fuzz_stack: FuzzStack) -> None:
    """A 1 MiB note over its limit is refused without being repeated back."""
    case_id = fuzz_stack.routing.known["case_id"][0]
    body = {"to_status": "Pending Customer Input", "note": "n" * 1_048_576}
    with fuzz_stack.routing.client() as client:
        answer = client.post(f"/cases/{case_id}/status", json=body)
    assert problem_of(answer, 422)["errors"][0]["field"] == "note"
    assert len(answer.content) < 4_000


@pytest.mark.parametrize("name", ["intake", "routing", "feed", "admin"])
def test_refusals_of_every_api_are_problems(fuzz_stack: FuzzStack, name: str) -> None:
    """A missing token (401), an unknown route (404) and an unknown method (405) are problem
    details on every API."""
    api = getattr(fuzz_stack, name)
    with httpx.Client(base_url=api.url, timeout=30) as anonymous:
        problem_of(anonymous.get(SECURED[name]), 401)
    with api.client() as client:
        problem_of(client.get("/no/such/route"), 404)
        problem_of(client.delete("/openapi.json"), 405)


@pytest.mark.parametrize("name", ["intake", "routing", "feed", "admin"])
def test_every_api_documents_errors_as_problems(fuzz_stack: FuzzStack, name: str) -> None:
    """Each OpenAPI documents its 422s as Problem, and has no HTTPValidationError."""
    with getattr(fuzz_stack, name).client() as client:
        spec = client.get("/openapi.json").json()
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    unprocessable = [
        op["responses"]["422"]["content"]
        for item in spec["paths"].values()
        for op in item.values()
        if "422" in op.get("responses", {})
    ]
    assert unprocessable
    assert all(content == problem for content in unprocessable)
    assert "HTTPValidationError" not in spec["components"]["schemas"]
