"""The seeds' stories, end to end, through public APIs of the system `make up` starts."""

from datetime import timedelta
from typing import Any
from uuid import uuid4

import httpx

import devstack
from tests.e2e.conftest import System, eventually, json_of

ZACK, SUPPORT_STAFF = "dev-zack-morris", "dev-staff-support"
ZACK_EMAIL = "zack.morris@bayside.example"

GRADES = {
    "case_type": "Application Issue",
    "subject": "Teachers unable to post grades",
    "description": (
        "None of the English Literature teachers at 21-22 Campus High School are able to post "
        "grades. When they try to click the Post button in their grade books, it is greyed out."
    ),
    "application_type": "Campus Application",
    "module": "Grade Book",
    "steps_to_reproduce": "1. Log in as teacher Anne Shirley\n2. Grade Book for 1100-1\n"
    "3. Select Q1, Quarter grade task\n4. Click Post: it is greyed out.",
    "environment_changes": "None",
    "who_is_impacted": "English Lit 1100 teachers",
    "issue_began": "2021-09-07",
    "expected_results": "Post button to be active",
}
SNOW_DAY = {
    "case_type": "Ask a Question",
    "subject": "Snow Day",
    "description": "How do I add a snow day to the calendar?",
    "module": "Calendar (terms, periods, days)",
    "location_within_product": "System Admin > Calendar > Calendar > Days",
}


async def submit(system: System, body: dict[str, Any]) -> dict[str, Any]:
    """Zack submits a case; the subject gets a unique suffix so reruns stay distinct."""
    unique = {**body, "subject": f"{body['subject']} [{uuid4().hex[:6]}]"}
    response = await system.http.post(
        f"{system.intake}/cases", json=unique, headers=system.auth(ZACK)
    )
    return dict(json_of(response, 201))


async def routing_view(system: System, case_id: str) -> dict[str, Any] | None:
    """Routing's view of a case, once routing has it."""
    response = await system.http.get(
        f"{system.routing}/cases/{case_id}", headers=system.auth(SUPPORT_STAFF)
    )
    return dict(response.json()) if response.status_code == 200 else None


async def reaches_status(system: System, case_id: str, status: str, within: float = 60) -> None:
    """Wait until routing reports the case in `status`."""

    async def probe() -> bool:
        view = await routing_view(system, case_id)
        return bool(view and view["status"] == status)

    await eventually(probe, f"case {case_id} reaches {status}", within)


async def staff(system: System, path: str, body: dict[str, Any] | None = None) -> Any:
    """A staff request that the workflow must accept (202, then applied)."""
    response = await system.http.post(
        f"{system.routing}{path}", json=body or {}, headers=system.auth(SUPPORT_STAFF)
    )
    accepted = json_of(response, 202)
    outcome = await eventually(
        lambda: _outcome(system, accepted["command_id"]), f"command {path} decided"
    )
    assert outcome["outcome"] == "applied", outcome
    return accepted


async def _outcome(system: System, command_id: str) -> dict[str, Any] | None:
    response = await system.http.get(
        f"{system.routing}/commands/{command_id}", headers=system.auth(SUPPORT_STAFF)
    )
    body = response.json() if response.status_code == 200 else None
    return body if body and body.get("outcome") in ("applied", "rejected") else None


async def mails_about(system: System, case_number: int) -> list[dict[str, Any]]:
    """Every email Zack received about one case (subject, Message-ID, ...): one thread, whose
    subject is always "[Case N] <subject>"."""
    response = await system.http.get(f"{system.mailbox}/api/messages", params={"to": ZACK_EMAIL})
    tag = f"[Case {case_number}] "
    return [m for m in response.json() if m["subject"].startswith(tag)]


async def template_of(system: System, mail: dict[str, Any]) -> str:
    """The template that wrote a mail (its X-Support-Template header)."""
    response = await system.http.get(f"{system.mailbox}/api/messages/{mail['id']}")
    headers = json_of(response, 200)["headers"]
    return str(next(h["value"] for h in headers if h["name"] == "X-Support-Template"))


async def zack_post(system: System, case_id: str, text: str) -> None:
    """Zack posts to the case feed (multipart, as the portal sends it)."""
    response = await system.http.post(
        f"{system.intake}/cases/{case_id}/posts",
        data={"body": f"<p>{text}</p>"},
        headers=system.auth(ZACK),
    )
    json_of(response, 201)


async def test_grades_issue_is_worked_resolved_auto_closed_and_reopened(system: System) -> None:
    """The well-written Application Issue goes through its whole life with every email sent."""
    case = await submit(system, GRADES)
    case_id, number = case["case_id"], case["case_number"]
    view = await eventually(lambda: routing_view(system, case_id), "routing knows the case")
    assert view["department"] == "Campus Support"

    await staff(system, f"/cases/{case_id}/assign", {"assignee_id": "staff-support"})
    await reaches_status(system, case_id, "Assigned")
    await staff(
        system,
        f"/cases/{case_id}/status",
        {"to_status": "Pending Customer Input", "note": "Which grading task is affected?"},
    )
    await reaches_status(system, case_id, "Pending Customer Input")
    await zack_post(system, case_id, "The Quarter grading task, section 1100-1.")
    await reaches_status(system, case_id, "Assigned")
    await staff(
        system,
        f"/cases/{case_id}/resolution",
        {"note": "The posting window for Q1 was closed; it is open again."},
    )
    await reaches_status(system, case_id, "Pending Customer Verification")

    set_routing_clock_offset(timedelta(days=20))  # past the 10th business day
    try:
        await reaches_status(system, case_id, "Closed", within=90)
    finally:
        set_routing_clock_offset(timedelta(0))

    # Intake learns of the close from case.events a moment after routing: retry on 409.
    await eventually(lambda: _reopen(system, case_id), "intake accepts the reopen")
    await reaches_status(system, case_id, "Re-Opened")

    # Zack's own reopen mails him nothing; the workflow's moves and the auto-close do.
    expected = {
        "case_received",
        "status_pending_customer_input",
        "status_pending_customer_verification",
        "status_auto_closed",
    }
    mails = await eventually(
        lambda: _all_arrived(system, number, expected), f"every email of case {number}"
    )
    message_ids = [m["message_id"] for m in mails]
    assert len(message_ids) == len(set(message_ids)), f"an email arrived twice: {mails}"
    assert "status_re_opened" not in {await template_of(system, m) for m in mails}


async def _reopen(system: System, case_id: str) -> bool:
    response = await system.http.post(
        f"{system.intake}/cases/{case_id}/reopen",
        json={"details": "Teachers of 1100-2 still cannot post."},
        headers=system.auth(ZACK),
    )
    assert response.status_code in (202, 409), response.text
    return response.status_code == 202


async def _all_arrived(
    system: System, number: int, expected: set[str]
) -> list[dict[str, Any]] | None:
    mails = await mails_about(system, number)
    templates = {await template_of(system, m) for m in mails}
    return mails if expected <= templates else None


async def test_snow_day_question_is_taken_answered_and_closed(system: System) -> None:
    """The Snow Day question is taken from the Campus Support queue, answered and closed."""
    case = await submit(system, SNOW_DAY)
    case_id, number = case["case_id"], case["case_number"]
    await eventually(lambda: routing_view(system, case_id), "routing knows the question")
    head = await eventually(lambda: _queue_head(system), "the Campus Support queue has work")

    taken = await staff(system, "/queues/campus-support/take")
    assert taken["case_id"] == head, "take assigns the case at the head of the queue"
    if head != case_id:  # an older case from an earlier run was first in line
        await staff(system, f"/cases/{case_id}/assign", {"assignee_id": "staff-support"})
    await reaches_status(system, case_id, "Assigned")
    await staff(
        system,
        f"/cases/{case_id}/resolution",
        {"note": "System Admin > Calendar > Days: mark the day as a non-school day."},
    )
    await reaches_status(system, case_id, "Pending Customer Verification")
    response = await system.http.post(
        f"{system.intake}/cases/{case_id}/close", json={}, headers=system.auth(ZACK)
    )
    json_of(response, 202)
    await reaches_status(system, case_id, "Closed")

    # He closed it himself, so the close mails him nothing.
    expected = {"case_received", "status_pending_customer_verification"}
    mails = await eventually(
        lambda: _all_arrived(system, number, expected), f"emails of case {number}"
    )
    assert "status_closed" not in {await template_of(system, m) for m in mails}
    feed = await eventually(lambda: _feed_of(system, case_id), "the case in the feed")
    assert feed["number"] == number


async def _queue_head(system: System) -> str | None:
    response = await system.http.get(
        f"{system.routing}/queues/campus-support",
        params={"unassigned": "true"},
        headers=system.auth(SUPPORT_STAFF),
    )
    items = [i for i in response.json() if i["status"] in ("New", "Re-Opened")]
    return str(items[0]["case_id"]) if items else None


async def _feed_of(system: System, case_id: str) -> dict[str, Any] | None:
    response = await system.http.get(f"{system.feed}/cases/{case_id}", headers=system.auth(ZACK))
    body = response.json() if response.status_code == 200 else None
    return body if body and body["status"] == "Closed" else None


async def test_outage_is_announced_while_the_portal_is_down(system: System) -> None:
    """With the portal services stopped, an incident posted on the board is readable at once."""
    portal = ["intake", "routing", "feed", "notify"]
    devstack.stop(portal)
    try:
        incident = await _post_incident(system)
        page = await system.http.get(f"{system.board}/")
        assert page.status_code == 200
        assert incident["title"] in page.text
        banner = json_of(await system.http.get(f"{system.board}/api/banner"), 200)
        assert banner["colour"] == "orange"
    finally:
        devstack.ensure(tuple(portal))
    feed_banner = await eventually(
        lambda: _feed_banner(system, incident["title"]), "the portal banner shows the incident"
    )
    assert feed_banner


async def _post_incident(system: System) -> dict[str, Any]:
    body = {
        "title": f"Campus unavailable for some districts [{uuid4().hex[:6]}]",
        "body": "We are investigating reports that Campus is unavailable.",
    }
    response = await system.http.post(
        f"{system.board_admin}/admin/incidents",
        json=body,
        headers={"Authorization": "Bearer local-status-admin-token"},
    )
    return dict(json_of(response, 201))


async def _feed_banner(system: System, title: str) -> bool:
    try:
        response = await system.http.get(f"{system.feed}/banner", headers=system.auth(ZACK))
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and title in response.text


def set_routing_clock_offset(offset: timedelta) -> None:
    """Move the running routing service's clock (the local stack's injectable clock)."""
    path = devstack.settings().stack_home / "run" / "routing-clock-offset"
    path.write_text(str(offset.total_seconds()), encoding="utf-8")
