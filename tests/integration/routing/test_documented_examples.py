"""Every request body routing's OpenAPI documents is applied by the real app on the real stack."""

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from routing.settings import Settings
from shared.directory import directory_key, hash_token, new_token
from shared.enums import ActorKind, Department
from shared.events import ApiToken, CaseSubmitted, StaffMember, TokenIssued
from tests.integration.routing.conftest import Bus

Headers = dict[str, str]
PAT = StaffMember(
    id="staff-support",
    name="Pat Support",
    email="pat.support@vendor.example",
    departments=[Department.CAMPUS_SUPPORT],
)
ASSIGN_PAT = ("/assign", {"assignee_id": "staff-support"})
ESCALATE = ("/escalate", {"development_issue": "DEV-1", "note": "needs a fix"})
# The moves that bring a new Campus Support case to where each documented body applies.
BEFORE: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {
    ("/cases/{case_id}/assign", "named"): [],
    ("/cases/{case_id}/assign", "policy"): [],
    ("/cases/{case_id}/transfer", "hosting"): [],
    ("/cases/{case_id}/status", "take"): [],
    ("/cases/{case_id}/status", "ask"): [ASSIGN_PAT],
    ("/cases/{case_id}/status", "release"): [ASSIGN_PAT, ESCALATE],
    ("/cases/{case_id}/escalate", "escalate"): [ASSIGN_PAT],
    ("/cases/{case_id}/resolution", "resolve"): [ASSIGN_PAT],
    ("/cases/{case_id}/triage", "grades"): [],
    ("/cases/{case_id}/triage", "defect"): [],
    ("/cases/{case_id}/priority", "raise"): [],
    ("/cases/{case_id}/incidents", "outage"): [],
}


@pytest.fixture(scope="module")
async def pat(bus: Bus, routing_settings: Settings) -> Headers:
    """Pat Support of Campus Support, on duty, known to routing, with a bearer token."""
    await bus.enlist(PAT)
    token = new_token()
    record = ApiToken(
        token_id=f"tok-{PAT.id}",
        sha256=hash_token(token),
        subject_kind=ActorKind.STAFF,
        subject_id=PAT.id,
    )
    issued = TokenIssued(token=record)
    await bus.send(routing_settings.topics.directory, issued, directory_key(issued))
    return {"Authorization": f"Bearer {token}"}


async def _answer(api: httpx.AsyncClient, headers: Headers, url: str, want: int) -> Any:
    """Ask until the answer has status `want` (the directory and the case arrive by Kafka)."""
    for _ in range(300):
        response = await api.get(url, headers=headers)
        if response.status_code == want:
            return response.json()
        await asyncio.sleep(0.1)
    pytest.fail(f"{url} never answered {want}")


async def _applied(api: httpx.AsyncClient, headers: Headers, path: str, body: Any) -> str:
    """POST a command and wait for its outcome."""
    accepted = await api.post(path, headers=headers, json=body)
    assert accepted.status_code == 202, (path, body, accepted.text)
    url = accepted.json()["outcome_url"]
    for _ in range(300):
        outcome = (await api.get(url, headers=headers)).json()
        if outcome["outcome"] != "pending":
            return f"{outcome['outcome']} {outcome.get('reason') or ''}".strip()
        await asyncio.sleep(0.1)
    pytest.fail(f"{path}: {url} stayed pending")


def _documented(spec: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """Every documented request body, by path and example name."""
    found = {}
    for path, item in spec["paths"].items():
        body = item.get("post", {}).get("requestBody", {}).get("content", {})
        for name, example in body.get("application/json", {}).get("examples", {}).items():
            found[(path, name)] = example["value"]
    return found


async def test_every_documented_body_is_applied(
    bus: Bus, api: httpx.AsyncClient, pat: Headers, new_case: Callable[..., CaseSubmitted]
) -> None:
    """Each documented body, sent by Pat on a case in the state it is for, answers 202 and
    the workflow applies it."""
    spec = (await api.get("/openapi.json")).json()
    documented = _documented(spec)
    assert set(documented) == set(BEFORE)
    await _answer(api, pat, "/queues/campus-support", 200)  # Pat's token is known
    results = {}
    for (path, name), body in documented.items():
        case = new_case()
        await bus.submit(case)
        await _answer(api, pat, f"/cases/{case.case_id}", 200)
        base = f"/cases/{case.case_id}"
        for step, step_body in BEFORE[(path, name)]:
            assert await _applied(api, pat, base + step, step_body) == "applied"
        results[(path, name)] = await _applied(api, pat, path.format(case_id=case.case_id), body)
    assert results == dict.fromkeys(BEFORE, "applied")
