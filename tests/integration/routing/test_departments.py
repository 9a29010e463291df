"""Departments on the real stack: staff act on their departments' cases (supervisors on all),
through the staff API and over Kafka; transfers carry a reason; blank texts are 422; queue
offsets stay within Mongo's 64 bits."""

import asyncio
import json
from collections.abc import Callable
from functools import partial
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from routing.api import MAX_OFFSET
from routing.settings import Settings
from shared.commands import AssignCase, ChangeStatus
from shared.directory import directory_key, hash_token, new_token
from shared.enums import ActorKind, CaseType, Department, Status
from shared.events import (
    ApiToken,
    CaseSubmitted,
    StaffMember,
    StaffUpserted,
    TokenIssued,
)
from shared.messages import Actor, StaffRef
from tests.integration.routing.conftest import CONTACT, Bus

Headers = dict[str, str]
pytestmark = pytest.mark.timeout(300)
STAFF = {
    "pat": StaffMember(
        id="d-pat",
        name="Pat Support",
        email="pat@example.com",
        departments=[Department.CAMPUS_SUPPORT],
        on_duty=False,
    ),
    "hal": StaffMember(
        id="d-hal",
        name="Hal Hosting",
        email="hal@example.com",
        departments=[Department.HOSTING],
        on_duty=False,
    ),
    "sky": StaffMember(
        id="d-sky",
        name="Sky Supervisor",
        email="sky@example.com",
        departments=[Department.TRAINING],
        on_duty=False,
        supervisor=True,
    ),
}
REASON = "The district's server is down: this is a hosting matter"
BLANK = "   \n\t "


def actor(name: str) -> Actor:
    """A staff member of STAFF as the actor of a command."""
    member = STAFF[name]
    return Actor(kind=ActorKind.STAFF, id=member.id, name=member.name)


@pytest.fixture(scope="module")
async def staff(bus: Bus, api: httpx.AsyncClient, routing_settings: Settings) -> dict[str, Headers]:
    """Bearer headers of Pat (Campus Support), Hal (Hosting) and Sky (a supervisor)."""
    topic = routing_settings.topics.directory
    headers: dict[str, Headers] = {}
    for name, member in STAFF.items():
        token = new_token()
        upsert = StaffUpserted(staff=member)
        await bus.send(topic, upsert, directory_key(upsert))
        record = ApiToken(
            token_id=f"tok-{member.id}",
            sha256=hash_token(token),
            subject_kind=ActorKind.STAFF,
            subject_id=member.id,
        )
        issued = TokenIssued(token=record)
        await bus.send(topic, issued, directory_key(issued))
        headers[name] = {"Authorization": f"Bearer {token}"}
    for name in headers:
        await _until(partial(api.get, "/queues/hosting", headers=headers[name]), {200})
    return headers


async def _until(call: Callable[[], Any], codes: set[int], within: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await call()
        if response.status_code in codes or asyncio.get_running_loop().time() > deadline:
            return response
        await asyncio.sleep(0.1)


async def _campus_case(bus: Bus, api: httpx.AsyncClient, headers: Headers, new_case: Any) -> UUID:
    case: CaseSubmitted = new_case(CaseType.ASK_A_QUESTION)
    await bus.submit(case)
    view = await _until(lambda: api.get(f"/cases/{case.case_id}", headers=headers), {200})
    assert view.json()["department"] == Department.CAMPUS_SUPPORT.value
    return case.case_id


async def _outcome(api: httpx.AsyncClient, headers: Headers, accepted: httpx.Response) -> Any:
    assert accepted.status_code == 202, accepted.text
    url = accepted.json()["outcome_url"]
    for _ in range(300):
        body = (await api.get(url, headers=headers)).json()
        if body["outcome"] != "pending":
            return body
        await asyncio.sleep(0.1)
    pytest.fail(f"command {url} stayed pending")


async def test_hosting_staff_cannot_act_on_a_campus_support_case(
    bus: Bus, api: httpx.AsyncClient, staff: dict[str, Headers], new_case: Any
) -> None:
    """Hal of Hosting gets 403 naming the department for every change to a Campus Support
    case, nothing is published, and the case stays as it was."""
    case_id = await _campus_case(bus, api, staff["hal"], new_case)
    url = f"/cases/{case_id}"
    attempts = [
        ("assign", {"assignee_id": STAFF["hal"].id}),
        ("assign", {}),
        ("status", {"to_status": "Assigned"}),
        ("escalate", {"development_issue": "DEV-1", "note": "escalating"}),
        ("resolution", {"note": "fixed it"}),
        ("transfer", {"department": "Hosting / Technical Support", "reason": REASON}),
    ]
    for path, body in attempts:
        response = await api.post(f"{url}/{path}", headers=staff["hal"], json=body)
        assert response.status_code == 403, (path, response.text)
        assert "Campus Support" in response.text
    taken = await api.post("/queues/campus-support/take", headers=staff["hal"])
    assert taken.status_code == 403
    view = (await api.get(url, headers=staff["hal"])).json()
    assert (view["status"], view["assignee"], view["department"]) == ("New", None, "Campus Support")
    assert bus.of_case(case_id, "case.assign") == []
    assert bus.of_case(case_id, "case.change_status") == []


async def test_commands_over_kafka_from_another_department_are_rejected(
    bus: Bus, api: httpx.AsyncClient, staff: dict[str, Headers], new_case: Any
) -> None:
    """An assignment and a status change by Hal sent straight to case.commands are rejected
    by the workflow with the reason; the case is untouched."""
    case_id = await _campus_case(bus, api, staff["pat"], new_case)
    hal = actor("hal")
    assign = AssignCase(case_id=case_id, actor=hal, assignee=StaffRef(id=hal.id, name=hal.name))
    change = ChangeStatus(case_id=case_id, actor=hal, to_status=Status.ASSIGNED)
    for command in (assign, change):
        await bus.command(command)
    rejected = await bus.wait_for(case_id, "case.command_rejected", count=2)
    for item in rejected:
        assert "routed to Campus Support" in item["reason"]
        assert "Hal Hosting is staff of Hosting / Technical Support" in item["reason"]
    outcome = (await api.get(f"/commands/{change.event_id}", headers=staff["pat"])).json()
    assert outcome["outcome"] == "rejected"
    view = (await api.get(f"/cases/{case_id}", headers=staff["pat"])).json()
    assert (view["status"], view["assignee"]) == ("New", None)
    assert bus.of_case(case_id, "case.status_changed") == []


async def test_a_supervisor_acts_on_any_department_case(
    bus: Bus, api: httpx.AsyncClient, staff: dict[str, Headers], new_case: Any
) -> None:
    """Sky, a Training supervisor, assigns a Campus Support case to Pat and moves it on."""
    case_id = await _campus_case(bus, api, staff["sky"], new_case)
    url, sky = f"/cases/{case_id}", staff["sky"]
    assigned = await api.post(f"{url}/assign", headers=sky, json={"assignee_id": STAFF["pat"].id})
    assert (await _outcome(api, sky, assigned))["outcome"] == "applied"
    moved = await api.post(f"{url}/status", headers=sky, json={"to_status": "Assist Request"})
    assert (await _outcome(api, sky, moved))["outcome"] == "applied"
    view = (await api.get(url, headers=sky)).json()
    assert (view["status"], view["assignee"]["id"]) == ("Assist Request", STAFF["pat"].id)


async def test_assignee_from_another_department_is_422(
    bus: Bus, api: httpx.AsyncClient, staff: dict[str, Headers], new_case: Any
) -> None:
    """Pat cannot hand a Campus Support case to Hal of Hosting: transfer it first."""
    case_id = await _campus_case(bus, api, staff["pat"], new_case)
    response = await api.post(
        f"/cases/{case_id}/assign", headers=staff["pat"], json={"assignee_id": STAFF["hal"].id}
    )
    assert response.status_code == 422
    assert "assignee_id" in response.text
    assert "transfer" in response.text


async def test_transfer_moves_the_case_with_its_reason(
    bus: Bus,
    api: httpx.AsyncClient,
    staff: dict[str, Headers],
    new_case: Any,
    routing_settings: Settings,
) -> None:
    """Pat transfers an assigned case to Hosting with a reason: routing announces it with the
    reason, queues it unassigned on Hosting's queue; then Hal may act on it and Pat may not."""
    case_id = await _campus_case(bus, api, staff["pat"], new_case)
    url, pat, hal = f"/cases/{case_id}", staff["pat"], staff["hal"]
    taken = await api.post(f"{url}/assign", headers=pat, json={"assignee_id": STAFF["pat"].id})
    assert (await _outcome(api, pat, taken))["outcome"] == "applied"
    body = {"department": "Hosting / Technical Support", "reason": REASON}
    moved = await api.post(f"{url}/transfer", headers=pat, json=body)
    assert (await _outcome(api, pat, moved))["outcome"] == "applied"
    view = (await api.get(url, headers=hal)).json()
    assert (view["department"], view["assignee"], view["status"]) == (
        "Hosting / Technical Support",
        None,
        "Assigned",
    )
    routed = (await bus.wait_for(case_id, "case.routed", count=2))[-1]
    assert (routed["reason"], routed["actor"]["id"]) == (REASON, STAFF["pat"].id)
    assert routed["previous_department"] == "Campus Support"
    await bus.wait(
        lambda: (
            routing_settings.topics.queue(Department.HOSTING)
            in bus.topics_of(case_id, "work.queued")
        ),
        what="the item on Hosting's queue",
    )
    queue = (await api.get("/queues/hosting?unassigned=true&limit=200", headers=hal)).json()
    assert str(case_id) in {item["case_id"] for item in queue}
    again = await api.post(f"{url}/status", headers=pat, json={"to_status": "Assist Request"})
    assert again.status_code == 403
    mine = await api.post(f"{url}/assign", headers=hal, json={"assignee_id": STAFF["hal"].id})
    assert (await _outcome(api, hal, mine))["outcome"] == "applied"


@pytest.mark.parametrize(
    ("body", "status_code", "field"),
    [
        ({"department": "Hosting / Technical Support"}, 422, "reason"),
        ({"department": "Hosting / Technical Support", "reason": BLANK}, 422, "reason"),
        ({"department": "Hosting / Technical Support", "reason": "\u200b"}, 422, "reason"),
        ({"department": "Nowhere", "reason": REASON}, 422, "department"),
        ({"department": "Campus Support", "reason": REASON}, 409, "department"),
    ],
)
async def test_transfer_needs_another_department_and_a_reason(
    bus: Bus,
    api: httpx.AsyncClient,
    staff: dict[str, Headers],
    new_case: Any,
    body: dict[str, str],
    status_code: int,
    field: str,
) -> None:
    """A transfer without a reason, with a blank one, to an unknown or the same department
    is refused at once, naming the field."""
    case_id = await _campus_case(bus, api, staff["pat"], new_case)
    response = await api.post(f"/cases/{case_id}/transfer", headers=staff["pat"], json=body)
    assert response.status_code == status_code, response.text
    assert field in response.text


async def test_blank_required_texts_are_422_naming_the_field(
    bus: Bus, api: httpx.AsyncClient, staff: dict[str, Headers], new_case: Any
) -> None:
    """Resolutions, questions, escalation notes, issue numbers and release names that are
    blank after trimming get 422 naming the field, and nothing is sent to the workflow."""
    case_id = await _campus_case(bus, api, staff["pat"], new_case)
    url, pat = f"/cases/{case_id}", staff["pat"]
    taken = await api.post(f"{url}/assign", headers=pat, json={"assignee_id": STAFF["pat"].id})
    assert (await _outcome(api, pat, taken))["outcome"] == "applied"
    attempts = [
        ("resolution", {"note": BLANK}, "note"),
        ("resolution", {"note": ""}, "note"),
        ("escalate", {"development_issue": "DEV-9", "note": BLANK}, "note"),
        ("escalate", {"development_issue": BLANK, "note": "needs a fix"}, "development_issue"),
        ("status", {"to_status": "Pending Customer Input", "note": BLANK}, "note"),
        ("status", {"to_status": "Pending Customer Verification", "note": "\u200b \u3000"}, "note"),
        ("status", {"to_status": "Assist Request", "note": BLANK}, "note"),
    ]
    for path, body, field in attempts:
        response = await api.post(f"{url}/{path}", headers=pat, json=body)
        assert response.status_code == 422, (path, body, response.text)
        assert field in response.text, (path, response.text)
    escalated = await api.post(
        f"{url}/escalate", headers=pat, json={"development_issue": "DEV-9", "note": "needs a fix"}
    )
    assert (await _outcome(api, pat, escalated))["outcome"] == "applied"
    release = {"to_status": "Available in Release", "note": "fixed", "release_name": BLANK}
    response = await api.post(f"{url}/status", headers=pat, json=release)
    assert (response.status_code, "release_name" in response.text) == (422, True)
    assert bus.of_case(case_id, "case.command_rejected") == []


async def test_blank_reopen_details_over_kafka_are_rejected_naming_the_field(
    bus: Bus, api: httpx.AsyncClient, staff: dict[str, Headers], new_case: Any
) -> None:
    """A reopen command whose details are blank, from any sender, is rejected with a reason
    naming `details` (never dead-lettered, never pending)."""
    case_id = await _campus_case(bus, api, staff["pat"], new_case)
    command_id = uuid4()
    raw = {
        "type": "case.reopen",
        "event_id": str(command_id),
        "case_id": str(case_id),
        "actor": CONTACT.model_dump(mode="json"),
        "details": BLANK,
    }
    value = json.dumps(raw).encode()
    await bus.producer.send_and_wait(bus.topics.case_commands, value, key=str(case_id).encode())
    rejected = await bus.wait_for(case_id, "case.command_rejected")
    assert rejected[0]["command_id"] == str(command_id)
    assert rejected[0]["reason"].startswith("details: must not be blank")
    outcome = (await api.get(f"/commands/{command_id}", headers=staff["pat"])).json()
    assert outcome["outcome"] == "rejected"


@pytest.mark.usefixtures("staff")
@pytest.mark.parametrize("offset", ["9223372036854775808", str(MAX_OFFSET + 1), "1" + "0" * 40])
async def test_queue_offset_beyond_64_bits_is_422_naming_offset(
    api: httpx.AsyncClient, staff: dict[str, Headers], offset: str
) -> None:
    """An offset Mongo's skip cannot take is 422 naming `offset`, never a 500."""
    response = await api.get(f"/queues/campus-support?offset={offset}", headers=staff["pat"])
    assert response.status_code == 422, response.text
    assert "offset" in response.text


async def test_the_largest_queue_offset_answers_an_empty_page(
    api: httpx.AsyncClient, staff: dict[str, Headers]
) -> None:
    """The highest offset allowed, with the largest limit, is an empty page."""
    url = f"/queues/campus-support?offset={MAX_OFFSET}&limit=200"
    response = await api.get(url, headers=staff["pat"])
    assert (response.status_code, response.json()) == (200, [])


async def test_an_overlong_department_slug_is_404_without_an_echo(
    api: httpx.AsyncClient, staff: dict[str, Headers]
) -> None:
    """An unknown department slug is 404 naming the field and the known slugs, not the input."""
    response = await api.get("/queues/" + "x" * 5000, headers=staff["pat"])
    assert response.status_code == 404
    assert "department_slug" in response.text
    assert "campus-support" in response.text
    assert "x" * 100 not in response.json()["detail"]
