"""The staff HTTP API on the real stack: tokens from the directory topic, commands via Kafka."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date
from functools import partial
from typing import Any

import httpx
import pytest

from routing.settings import Settings
from shared.directory import directory_key, hash_token, new_token
from shared.enums import ActorKind, CaseType, Department, NoticeKind, NoticeStatus, Priority, Status
from shared.events import (
    ApiToken,
    CaseSubmitted,
    Contact,
    ContactUpserted,
    Notice,
    NoticeResolved,
    NoticeUpdate,
    StaffMember,
    StaffUpserted,
    TokenIssued,
)

Headers = dict[str, str]


async def _issue(bus: Any, topic: str, subject: StaffMember | Contact, kind: ActorKind) -> Headers:
    token = new_token()
    upsert: StaffUpserted | ContactUpserted = (
        StaffUpserted(staff=subject)
        if isinstance(subject, StaffMember)
        else ContactUpserted(contact=subject)
    )
    await bus.send(topic, upsert, directory_key(upsert))
    record = ApiToken(
        token_id=f"tok-{subject.id}",
        sha256=hash_token(token),
        subject_kind=kind,
        subject_id=subject.id,
    )
    issued = TokenIssued(token=record)
    await bus.send(topic, issued, directory_key(issued))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def tokens(
    bus: Any, api: httpx.AsyncClient, routing_settings: Settings
) -> dict[str, Headers]:
    """Two on-duty trainers, a hosting engineer and a contact, with their bearer headers."""
    topic = routing_settings.topics.directory
    staff = {
        "anna": StaffMember(
            id="t-anna",
            name="Anna Trainer",
            email="anna@example.com",
            departments=[Department.TRAINING],
        ),
        "bert": StaffMember(
            id="t-bert",
            name="Bert Trainer",
            email="bert@example.com",
            departments=[Department.TRAINING],
        ),
        "hugo": StaffMember(
            id="h-hugo",
            name="Hugo Host",
            email="hugo@example.com",
            departments=[Department.HOSTING],
        ),
    }
    headers = {name: await _issue(bus, topic, s, ActorKind.STAFF) for name, s in staff.items()}
    contact = Contact(
        id="c-9",
        first_name="Zack",
        last_name="Morris",
        email="zack@example.org",
        contact_type="Authorized Support",
        account_ids=["a-1"],
    )
    headers["contact"] = await _issue(bus, topic, contact, ActorKind.CONTACT)
    for name in headers:
        await _until(partial(api.get, "/queues/training", headers=headers[name]), {200, 403})
    return headers


async def _until(
    call: Callable[[], Awaitable[httpx.Response]], codes: set[int], within: float = 30.0
) -> httpx.Response:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await call()
        if response.status_code in codes or asyncio.get_running_loop().time() > deadline:
            return response
        await asyncio.sleep(0.1)


async def _outcome(
    api: httpx.AsyncClient, headers: Headers, accepted: httpx.Response
) -> dict[str, Any]:
    assert accepted.status_code == 202, accepted.text
    url = accepted.json()["outcome_url"]
    for _ in range(300):
        body = (await api.get(url, headers=headers)).json()
        if body["outcome"] != "pending":
            return dict(body)
        await asyncio.sleep(0.1)
    pytest.fail(f"command {url} stayed pending")


async def _routed(bus: Any, api: httpx.AsyncClient, headers: Headers, case: CaseSubmitted) -> None:
    await bus.submit(case)
    await _until(lambda: api.get(f"/cases/{case.case_id}", headers=headers), {200})


async def test_queue_lists_in_work_order_with_filters(
    bus: Any,
    api: httpx.AsyncClient,
    tokens: dict[str, Headers],
    new_case: Callable[..., CaseSubmitted],
) -> None:
    """The training queue orders by priority, due date (none last), then age, and filters."""
    cases = [
        new_case(CaseType.REQUEST_TRAINING, priority=Priority.LOW, subject="low"),
        new_case(CaseType.REQUEST_TRAINING, priority=Priority.HIGH, subject="high, no due date"),
        new_case(
            CaseType.REQUEST_TRAINING,
            priority=Priority.HIGH,
            due_date=date(2026, 12, 1),
            subject="high, due",
        ),
    ]
    for case in cases:
        await _routed(bus, api, tokens["anna"], case)
    ours = {str(c.case_id) for c in cases}
    listed = (
        await api.get("/queues/training", headers=tokens["anna"], params={"limit": 200})
    ).json()
    assert [i["subject"] for i in listed if i["case_id"] in ours] == [
        "high, due",
        "high, no due date",
        "low",
    ]
    lows = (
        await api.get(
            "/queues/training", headers=tokens["anna"], params={"priority": "Low", "limit": 200}
        )
    ).json()
    assert {i["priority"] for i in lows} == {"Low"}
    assert str(cases[0].case_id) in {i["case_id"] for i in lows}


async def test_take_escalate_release_and_resolve(
    bus: Any,
    api: httpx.AsyncClient,
    tokens: dict[str, Headers],
    new_case: Callable[..., CaseSubmitted],
) -> None:
    """Taking assigns the caller; escalation, release and resolution apply in turn."""
    anna = tokens["anna"]
    training = new_case(CaseType.REQUEST_TRAINING, priority=Priority.CRITICAL)
    await _routed(bus, api, anna, training)
    taken = await _outcome(api, anna, await api.post("/queues/training/take", headers=anna))
    assert taken["outcome"] == "applied"
    assert taken["case_id"] == str(training.case_id)
    view = (await api.get(f"/cases/{training.case_id}", headers=anna)).json()
    assert (view["status"], view["assignee"]["id"]) == ("Assigned", "t-anna")
    case_url = f"/cases/{training.case_id}"
    escalation = {"development_issue": "DEV-77", "note": "escalated to development"}
    assert (
        await _outcome(
            api, anna, await api.post(f"{case_url}/escalate", headers=anna, json=escalation)
        )
    )["outcome"] == "applied"
    release = {"to_status": "Available in Release", "note": "fixed in 2547", "release_name": "2547"}
    assert (
        await _outcome(api, anna, await api.post(f"{case_url}/status", headers=anna, json=release))
    )["outcome"] == "applied"
    resolution = {"note": "the fix is live; please verify"}
    assert (
        await _outcome(
            api, anna, await api.post(f"{case_url}/resolution", headers=anna, json=resolution)
        )
    )["outcome"] == "applied"
    view = (await api.get(case_url, headers=anna)).json()
    assert (view["status"], view["development_issue"], view["release_name"]) == (
        Status.PENDING_CUSTOMER_VERIFICATION.value,
        "DEV-77",
        "2547",
    )
    assert view["timers"]["closes_on"]


async def test_policy_assignment_takes_turns_among_staff_on_duty(
    bus: Any,
    api: httpx.AsyncClient,
    tokens: dict[str, Headers],
    new_case: Callable[..., CaseSubmitted],
) -> None:
    """Two assignments by policy go to the two trainers on duty, one each (round robin)."""
    cases = [new_case(CaseType.REQUEST_TRAINING) for _ in range(2)]
    assignees = set()
    for case in cases:
        await _routed(bus, api, tokens["bert"], case)
        accepted = await api.post(f"/cases/{case.case_id}/assign", headers=tokens["bert"], json={})
        assert (await _outcome(api, tokens["bert"], accepted))["outcome"] == "applied"
        view = (await api.get(f"/cases/{case.case_id}", headers=tokens["bert"])).json()
        assignees.add(view["assignee"]["id"])
    assert assignees == {"t-anna", "t-bert"}


async def test_errors_name_the_field_and_the_rule(
    bus: Any,
    api: httpx.AsyncClient,
    tokens: dict[str, Headers],
    new_case: Callable[..., CaseSubmitted],
) -> None:
    """401 without a token, 403 for contacts and other departments; 404, 409, 422 with reasons."""
    case = new_case(CaseType.REQUEST_TRAINING)
    await _routed(bus, api, tokens["anna"], case)
    url = f"/cases/{case.case_id}"
    assert (await api.get("/queues/training")).status_code == 401
    contact = await api.get("/queues/training", headers=tokens["contact"])
    assert (contact.status_code, "staff token" in contact.json()["detail"]) == (403, True)
    other = await api.post("/queues/training/take", headers=tokens["hugo"])
    assert other.status_code == 403
    unknown = await api.get("/queues/nowhere", headers=tokens["anna"])
    assert (unknown.status_code, "department_slug" in unknown.json()["detail"]) == (404, True)
    missing = await api.get("/cases/00000000-0000-4000-8000-000000000000", headers=tokens["anna"])
    assert missing.status_code == 404
    refused = await api.post(
        f"{url}/status",
        headers=tokens["anna"],
        json={"to_status": "Available in Release", "release_name": "1"},
    )
    assert (refused.status_code, "to_status" in refused.json()["detail"]) == (409, True)
    no_note = await api.post(
        f"{url}/status", headers=tokens["anna"], json={"to_status": "Pending Customer Input"}
    )
    assert no_note.status_code == 409  # a New case must be assigned first
    assigned = await api.post(
        f"{url}/assign", headers=tokens["anna"], json={"assignee_id": "t-anna"}
    )
    assert (await _outcome(api, tokens["anna"], assigned))["outcome"] == "applied"
    no_note = await api.post(
        f"{url}/status", headers=tokens["anna"], json={"to_status": "Pending Customer Input"}
    )
    assert (no_note.status_code, "requires a note" in no_note.json()["detail"]) == (422, True)
    staff_less = await api.post(
        f"{url}/assign", headers=tokens["anna"], json={"assignee_id": "nobody"}
    )
    assert (staff_less.status_code, "assignee_id" in staff_less.json()["detail"]) == (422, True)
    bad_body = await api.post(f"{url}/escalate", headers=tokens["anna"], json={"note": "x"})
    assert bad_body.status_code == 422
    command = await api.get(f"/commands/{case.case_id}", headers=tokens["anna"])
    assert command.status_code == 404


async def test_triage_suggests_a_priority_and_staff_change_it_with_a_reason(
    bus: Any,
    api: httpx.AsyncClient,
    tokens: dict[str, Headers],
    new_case: Callable[..., CaseSubmitted],
) -> None:
    """Anna records the seeds' impact assessment (daily functions blocked, no workaround,
    several users): routing shows it with High suggested and the queue filters by it; she
    raises the priority to High with a reason; Critical on a training case, a defect without
    its issue and a contact's assessment are refused, each saying why."""
    anna = tokens["anna"]
    case = new_case(CaseType.REQUEST_TRAINING, priority=Priority.MEDIUM, subject="triage")
    await _routed(bus, api, anna, case)
    url, ours = f"/cases/{case.case_id}", str(case.case_id)
    triage = {
        "disruption": "Significant",
        "daily_functions_blocked": True,
        "workaround_exists": False,
        "several_sites": False,
        "several_users": True,
    }
    recorded = await api.post(f"{url}/triage", headers=anna, json=triage)
    assert (await _outcome(api, anna, recorded))["outcome"] == "applied"
    view = (await api.get(url, headers=anna)).json()
    assert (view["triage"]["daily_functions_blocked"], view["suggested_priority"]) == (True, "High")
    assert view["priority"] == "Medium"  # the suggestion is only a suggestion

    async def listed(**params: str) -> set[str]:
        query = {"limit": "200", **params}
        answer = await api.get("/queues/training", headers=anna, params=query)
        return {item["case_id"] for item in answer.json()}

    assert ours in await listed(blocked="true", workaround="false")
    assert ours not in await listed(triaged="false")
    assert ours not in await listed(disruption="Minimal")

    critical = await api.post(
        f"{url}/priority", headers=anna, json={"priority": "Critical", "reason": "urgent"}
    )
    assert critical.status_code == 422
    assert "Critical is limited to 'Report an Outage'" in critical.json()["detail"]
    raised = await api.post(
        f"{url}/priority",
        headers=anna,
        json={"priority": "High", "reason": "All teachers blocked."},
    )
    assert (await _outcome(api, anna, raised))["outcome"] == "applied"
    view = (await api.get(url, headers=anna)).json()
    assert view["priority"] == "High"
    highs = (await api.get("/queues/training", headers=anna, params={"priority": "High"})).json()
    assert ours in {item["case_id"] for item in highs}
    again = await api.post(
        f"{url}/priority", headers=anna, json={"priority": "High", "reason": "x"}
    )
    assert (again.status_code, "already High" in again.json()["detail"]) == (409, True)

    defect = {**triage, "defect_qualified": True}
    no_issue = await api.post(f"{url}/triage", headers=anna, json=defect)
    assert no_issue.status_code == 422
    assert "development_issue is required" in no_issue.text
    contact = await api.post(f"{url}/triage", headers=tokens["contact"], json=triage)
    assert contact.status_code == 403


async def test_staff_link_an_outage_to_an_incident_and_its_resolution_is_noted_once(
    bus: Any,
    api: httpx.AsyncClient,
    tokens: dict[str, Headers],
    new_case: Callable[..., CaseSubmitted],
) -> None:
    """Hugo (Hosting) links an outage report to the board's incident: the case shows the link,
    the incident lists the case, Bert (Training) can neither link it nor see it listed. The
    board resolves the incident, twice on the topic: one note on the case, with the board's
    last update. Unlinking then works once, and a bad notice id is a 422."""
    hugo, bert = tokens["hugo"], tokens["bert"]
    case = new_case(CaseType.REPORT_AN_OUTAGE, subject="gradebook down")
    await _routed(bus, api, hugo, case)
    url, notice_id = f"/cases/{case.case_id}", f"inc-{case.case_id.hex[:12]}"
    link = {"notice_id": notice_id, "title": "Gradebook unavailable"}
    refused = await api.post(f"{url}/incidents", headers=bert, json=link)
    assert refused.status_code == 403
    assert "routed to Hosting / Technical Support" in refused.json()["detail"]
    linked = await api.post(f"{url}/incidents", headers=hugo, json=link)
    assert (await _outcome(api, hugo, linked))["outcome"] == "applied"
    [announced] = await bus.wait_for(case.case_id, "case.incident_linked")
    assert (announced["notice_id"], announced["linked"]) == (notice_id, True)
    view = (await api.get(url, headers=hugo)).json()
    assert [(i["notice_id"], i["resolved_at"]) for i in view["incidents"]] == [(notice_id, None)]
    status_before = view["status"]
    listed = (await api.get(f"/incidents/{notice_id}/cases", headers=hugo)).json()
    assert [c["case_id"] for c in listed] == [str(case.case_id)]
    assert (await api.get(f"/incidents/{notice_id}/cases", headers=bert)).json() == []

    notice = Notice(
        id=notice_id,
        kind=NoticeKind.INCIDENT,
        title="Gradebook unavailable",
        body="Teachers cannot open the gradebook.",
        status=NoticeStatus.RESOLVED,
        starts_at=case.occurred_at,
        updates=[
            NoticeUpdate(
                at=case.occurred_at, status=NoticeStatus.RESOLVED, body="Restored at 10:40."
            )
        ],
        revision=3,
    )
    for _ in range(2):  # the board, or a replica of it, publishing the resolution again
        resolved = NoticeResolved(notice=notice)
        await bus.send(bus.topics.incident_events, resolved, notice_id)
    [noted] = await bus.wait_for(case.case_id, "case.linked_incident_resolved")
    assert (noted["title"], noted["resolution"]) == ("Gradebook unavailable", "Restored at 10:40.")
    for _ in range(50):
        view = (await api.get(url, headers=hugo)).json()
        if view["incidents"][0]["resolved_at"] is not None:
            break
        await asyncio.sleep(0.1)
    assert view["incidents"][0]["resolved_at"] is not None
    assert view["status"] == status_before  # staff resolve the case, through the workflow
    await asyncio.sleep(2)  # time for a second note, if there were one
    assert len(bus.of_case(case.case_id, "case.linked_incident_resolved")) == 1

    unlinked = await api.delete(f"{url}/incidents/{notice_id}", headers=hugo)
    assert (await _outcome(api, hugo, unlinked))["outcome"] == "applied"
    again = await api.delete(f"{url}/incidents/{notice_id}", headers=hugo)
    assert again.status_code == 404
    assert "is not linked to incident" in again.json()["detail"]
    bad = await api.post(f"{url}/incidents", headers=hugo, json={**link, "notice_id": "../x"})
    assert bad.status_code == 422
