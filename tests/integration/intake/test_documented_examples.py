"""The request examples of intake's OpenAPI document, sent to intake on the real stack."""

from typing import Any

import httpx
import pytest

from intake.settings import Settings
from shared.enums import Status

Spec = dict[str, Any]


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> Spec:
    """The OpenAPI document the in-process intake serves."""
    answer: Spec = (await client.get("/openapi.json")).raise_for_status().json()
    return answer


def _examples(spec: Spec, path: str) -> dict[str, Any]:
    content = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return {name: example["value"] for name, example in content["examples"].items()}


async def test_every_documented_submission_is_accepted(
    client: httpx.AsyncClient, spec: Spec, kit: Any
) -> None:
    """Each of the ten documented submissions gets a 201 with a case number and its type."""
    examples = _examples(spec, "/cases")
    assert len(examples) == 10
    for name, body in examples.items():
        answer = await client.post("/cases", json=body, headers=kit.auth(kit.ZACK))
        assert answer.status_code == 201, (name, answer.text)
        shown = answer.json()
        assert shown["case_number"] >= 1000000
        assert (shown["case_type"], shown["status"]) == (body["case_type"], "New")


async def test_the_documented_post_with_an_attachment_is_accepted(
    client: httpx.AsyncClient, spec: Spec, kit: Any
) -> None:
    """The documented multipart post (a body and snow-day.txt) stores the file on the case."""
    case = await kit.submit(client)
    form = spec["paths"]["/cases/{case_id}/posts"]["post"]["requestBody"]["content"]
    example = form["multipart/form-data"]["example"]
    files = [("files", (name, b"Snow day: Tuesday.\n", "text/plain")) for name in example["files"]]
    answer = await client.post(
        f"/cases/{case['case_number']}/posts",
        data={"body": example["body"]},
        files=files,
        headers=kit.auth(kit.ZACK),
    )
    assert answer.status_code == 201, answer.text
    assert [a["filename"] for a in answer.json()["attachments"]] == ["snow-day.txt"]
    listed = await client.get(
        f"/cases/{case['case_number']}/attachments", headers=kit.auth(kit.ZACK)
    )
    assert [a["filename"] for a in listed.json()] == ["snow-day.txt"]


async def test_the_documented_recipient_change_is_accepted(
    client: httpx.AsyncClient, spec: Spec, kit: Any
) -> None:
    """The documented body adds Lisa Turtle to the case's recipients, after its owner."""
    case = await kit.submit(client)
    for body in _examples(spec, "/cases/{case_id}/recipients").values():
        path = f"/cases/{case['case_id']}/recipients"
        answer = await client.post(path, json=body, headers=kit.auth(kit.ZACK))
        assert answer.status_code == 200, answer.text
        ids = [r["contact_id"] for r in answer.json()["recipients"]]
        assert ids == ["zack-morris", "lisa-turtle"]


async def test_the_documented_close_and_reopen_are_accepted(
    client: httpx.AsyncClient, spec: Spec, kit: Any, intake_settings: Settings
) -> None:
    """Each documented close answers 202 with its outcome link; the reopen, once closed, too."""
    for body in _examples(spec, "/cases/{case_id}/close").values():
        case = await kit.submit(client)
        answer = await client.post(
            f"/cases/{case['case_id']}/close", json=body, headers=kit.auth(kit.ZACK)
        )
        assert answer.status_code == 202, answer.text
        assert answer.headers["location"] == answer.json()["outcome_url"]
    await kit.set_status(client, intake_settings, case["case_id"], Status.CLOSED)
    for body in _examples(spec, "/cases/{case_id}/reopen").values():
        answer = await client.post(
            f"/cases/{case['case_id']}/reopen", json=body, headers=kit.auth(kit.ZACK)
        )
        assert answer.status_code == 202, answer.text
        assert answer.json()["command"] == "case.reopen"


async def test_the_documented_directory_queries_answer(
    client: httpx.AsyncClient, spec: Spec, kit: Any
) -> None:
    """Bayside's contacts named Lisa, and Campus Support's staff, as the examples ask."""
    query = spec["paths"]["/directory/contacts"]["get"]["parameters"]
    params = {p["name"]: next(e["value"] for e in p["examples"].values()) for p in query}
    assert params == {"account_id": "bayside", "q": "lisa"}
    contacts = await client.get("/directory/contacts", params=params, headers=kit.auth(kit.LISA))
    assert contacts.status_code == 200, contacts.text
    assert [c["contact_id"] for c in contacts.json()["contacts"]] == ["lisa-turtle"]
    staff = await client.get(
        "/directory/departments/campus-support/staff", headers=kit.auth(kit.STAFF)
    )
    assert staff.status_code == 200, staff.text
    assert "staff-support" in [s["staff_id"] for s in staff.json()["staff"]]
