"""The staff API takes a case number wherever it takes a case id, on the real stack."""

import asyncio
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from routing.settings import Settings
from shared.directory import directory_key, hash_token, new_token
from shared.enums import ActorKind, CaseType, Department
from shared.events import ApiToken, CaseSubmitted, StaffMember, TokenIssued
from shared.messages import Actor

Headers = dict[str, str]
ZACK = Actor(kind=ActorKind.CONTACT, id="zack-morris", name="Zack Morris (TESTING)")
# The seed's Campus Support and Hosting staff (deploy/seed/directory.json).
PAT = StaffMember(
    id="staff-support",
    name="Pat Support",
    email="pat.support@vendor.example",
    departments=[Department.CAMPUS_SUPPORT],
)
HAL = StaffMember(
    id="staff-hosting",
    name="Hal Hosting",
    email="hal.hosting@vendor.example",
    departments=[Department.HOSTING],
)


async def _issue(bus: Any, topic: str, member: StaffMember) -> Headers:
    token = new_token()
    await bus.enlist(member)
    record = ApiToken(
        token_id=f"tok-num-{member.id}",
        sha256=hash_token(token),
        subject_kind=ActorKind.STAFF,
        subject_id=member.id,
    )
    issued = TokenIssued(token=record)
    await bus.send(topic, issued, directory_key(issued))
    return {"Authorization": f"Bearer {token}"}


async def _until(api: httpx.AsyncClient, url: str, headers: Headers, code: int) -> httpx.Response:
    for _ in range(300):
        answer = await api.get(url, headers=headers)
        if answer.status_code == code:
            return answer
        await asyncio.sleep(0.1)
    pytest.fail(f"GET {url} never answered {code}")


async def _applied(api: httpx.AsyncClient, headers: Headers, accepted: httpx.Response) -> None:
    assert accepted.status_code == 202, accepted.text
    for _ in range(300):
        outcome = (await api.get(accepted.json()["outcome_url"], headers=headers)).json()
        if outcome["outcome"] != "pending":
            assert outcome["outcome"] == "applied", outcome
            return
        await asyncio.sleep(0.1)
    pytest.fail("the command stayed pending")


@pytest.fixture(scope="module")
async def staff(bus: Any, api: httpx.AsyncClient, routing_settings: Settings) -> dict[str, Headers]:
    """Bearer headers of Pat Support and Hal Hosting, known to routing."""
    topic = routing_settings.topics.directory
    headers = {"pat": await _issue(bus, topic, PAT), "hal": await _issue(bus, topic, HAL)}
    for who in headers.values():
        await _until(api, "/queues/campus-support", who, 200)
    return headers


@pytest.fixture(scope="module")
async def zacks_case(
    bus: Any, api: httpx.AsyncClient, staff: dict[str, Headers], new_case: Callable[..., Any]
) -> CaseSubmitted:
    """Zack Morris's Bayside question, routed to Campus Support under a number of its own."""
    number = random.randrange(10**12, 10**13)  # unique in the session's namespace
    case: CaseSubmitted = new_case(
        CaseType.ASK_A_QUESTION,
        case_number=number,
        account_id="bayside",
        contact_id=ZACK.id,
        submitted_by=ZACK.model_dump(),
        subject="Grade Book will not post",
    )
    await bus.submit(case)
    await _until(api, f"/cases/{case.case_id}", staff["pat"], 200)
    return case


async def test_case_view_by_number(
    api: httpx.AsyncClient, staff: dict[str, Headers], zacks_case: CaseSubmitted
) -> None:
    """GET /cases/<number> is the same case as GET /cases/<id>."""
    by_number = await api.get(f"/cases/{zacks_case.case_number}", headers=staff["pat"])
    by_id = await api.get(f"/cases/{zacks_case.case_id}", headers=staff["pat"])
    assert by_number.status_code == 200, by_number.text
    assert by_number.json() == by_id.json()
    assert by_number.json()["case_id"] == str(zacks_case.case_id)
    assert by_number.json()["subject"] == "Grade Book will not post"


async def test_commands_by_number(
    api: httpx.AsyncClient, staff: dict[str, Headers], zacks_case: CaseSubmitted
) -> None:
    """Assign, escalate and transfer by number act on the case's id."""
    pat, number = staff["pat"], zacks_case.case_number
    assigned = await api.post(
        f"/cases/{number}/assign", json={"assignee_id": "staff-support"}, headers=pat
    )
    assert assigned.json()["case_id"] == str(zacks_case.case_id)
    await _applied(api, pat, assigned)
    view = (await api.get(f"/cases/{number}", headers=pat)).json()
    assert (view["status"], view["assignee"]["id"]) == ("Assigned", "staff-support")
    escalated = await api.post(
        f"/cases/{number}/escalate",
        json={"development_issue": "DEV-1000", "note": "Grade Book posting bug"},
        headers=pat,
    )
    await _applied(api, pat, escalated)
    transfer = {"department": "Hosting / Technical Support", "reason": "The server is at fault"}
    moved = await api.post(f"/cases/{number}/transfer", json=transfer, headers=pat)
    await _applied(api, pat, moved)
    view = (await api.get(f"/cases/{number}", headers=pat)).json()
    assert view["department"] == "Hosting / Technical Support"


async def test_department_scope_holds_by_number(
    api: httpx.AsyncClient,
    staff: dict[str, Headers],
    bus: Any,
    new_case: Callable[..., Any],
) -> None:
    """Hal Hosting is refused a Campus Support case by number exactly as by id (403)."""
    number = random.randrange(10**12, 10**13)
    case: CaseSubmitted = new_case(
        CaseType.ASK_A_QUESTION, case_number=number, account_id="bayside", contact_id=ZACK.id
    )
    await bus.submit(case)
    await _until(api, f"/cases/{number}", staff["pat"], 200)
    for ref in (number, case.case_id):
        answer = await api.post(
            f"/cases/{ref}/assign", json={"assignee_id": "staff-hosting"}, headers=staff["hal"]
        )
        assert answer.status_code == 403, answer.text


@pytest.mark.parametrize(
    "ref",
    [
        "9223372036854775807",
        "9223372036854775808",
        "0",
        "\uff11\uff10\uff10\uff10\uff10\uff10\uff13",
        "case-1000003",
        "7" * 5000,
    ],
)
async def test_unknown_or_malformed_refs_are_404(
    api: httpx.AsyncClient, staff: dict[str, Headers], ref: str
) -> None:
    """Anything but a known number or id is a 404 repeating at most 40 characters of it."""
    pat = staff["pat"]
    for method, tail, body in [
        ("GET", "", None),
        ("POST", "/assign", {}),
        ("POST", "/status", {"to_status": "Scheduled"}),
        ("POST", "/resolution", {"note": "fixed"}),
    ]:
        answer = await api.request(method, f"/cases/{ref}{tail}", json=body, headers=pat)
        assert answer.status_code == 404, (method, tail, answer.text[:300])
        assert len(answer.json()["detail"]) < 250
        assert "use a case number (e.g. 1000003) or a case id (UUID)" in answer.json()["detail"]
