"""The request id on the real broker: from input headers and staff calls to routing's outputs."""

from typing import Any
from uuid import uuid4

import httpx

from routing.settings import Settings
from shared.directory import directory_key, hash_token, new_token
from shared.enums import ActorKind, Status
from shared.events import ApiToken, TokenIssued
from tests.integration.routing.conftest import KELLY


async def _kelly_token(bus: Any, settings: Settings, api: httpx.AsyncClient) -> dict[str, str]:
    """A staff token for Kelly (Campus Support), once the staff API accepts it."""
    token = new_token()
    issued = TokenIssued(
        token=ApiToken(
            token_id=f"tok-{uuid4().hex[:8]}",
            sha256=hash_token(token),
            subject_kind=ActorKind.STAFF,
            subject_id=KELLY.id,
        )
    )
    await bus.send(settings.topics.directory, issued, directory_key(issued))
    headers = {"Authorization": f"Bearer {token}"}

    async def accepted() -> bool | None:
        answer = await api.get("/queues/campus-support?limit=1", headers=headers)
        return True if answer.status_code == 200 else None

    await bus.wait_async(accepted, "Kelly's token reaching routing")
    return headers


async def test_a_submission_s_request_id_is_on_what_routing_publishes_for_it(
    bus: Any, routing_settings: Settings, new_case: Any
) -> None:
    """A CaseSubmitted with x-request-id: the CaseRouted and the queued work item carry it."""
    request_id = uuid4().hex
    case = new_case(case_number=2_000_001)
    headers = [("x-request-id", request_id.encode())]
    await bus.send(routing_settings.topics.case_events, case, case.case_id, headers)
    await bus.wait_for(case.case_id, "work.queued")
    await bus.wait_for(case.case_id, "case.routed")
    traced = [t for t in bus.traced(case.case_id) if t[1] != "case.submitted"]
    queue = routing_settings.topics.queue(KELLY.departments[0])
    assert (routing_settings.topics.case_events, "case.routed", request_id) in traced
    assert (queue, "work.queued", request_id) in traced


async def test_a_staff_call_s_request_id_follows_its_command_to_the_outputs(
    bus: Any, routing_settings: Settings, api: httpx.AsyncClient, new_case: Any
) -> None:
    """Kelly takes a case with X-Request-ID: the command and every output it causes carry it."""
    auth = await _kelly_token(bus, routing_settings, api)
    case = new_case(case_number=2_000_002)
    await bus.submit(case)
    await bus.wait_for(case.case_id, "work.queued")
    request_id = uuid4().hex
    answer = await api.post(
        f"/cases/{case.case_id}/status",
        json={"to_status": Status.ASSIGNED.value},
        headers={**auth, "X-Request-ID": request_id},
    )
    assert answer.status_code == 202, answer.text
    await bus.wait_for(case.case_id, "case.assigned")
    await bus.wait_for(case.case_id, "work.updated", count=1)
    traced = bus.traced(case.case_id)
    caused = {(topic, type_) for topic, type_, rid in traced if rid == request_id}
    events, commands = routing_settings.topics.case_events, routing_settings.topics.case_commands
    queue = routing_settings.topics.queue(KELLY.departments[0])
    assert (commands, "case.change_status") in caused
    assert (events, "case.status_changed") in caused
    assert (events, "case.assigned") in caused
    assert (queue, "work.updated") in caused
