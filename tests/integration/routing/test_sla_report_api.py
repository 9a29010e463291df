"""GET /reports/sla on the real stack: a breached first response lands in its ISO week; who
sees which departments."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI

from routing.app import create_app
from routing.clock import FixedClock
from routing.settings import Settings
from shared.commands import AssignCase
from shared.directory import directory_key, hash_token, new_token
from shared.enums import ActorKind, CaseType, ContactType, Department, Priority
from shared.events import ApiToken, Contact, ContactUpserted, StaffMember, TokenIssued
from shared.messages import Actor, StaffRef
from tests.integration.routing.conftest import Bus, submitted
from tests.integration.routing.test_sla import _get, _token

pytestmark = pytest.mark.integration

# Friday 2026-09-04 16:30 Chicago (ISO week from Monday 2026-08-31); High's first response
# (four business hours; Monday is Labor Day) falls due Tuesday 2026-09-08 16:30 UTC.
SUBMITTED = datetime(2026, 9, 4, 21, 30, tzinfo=UTC)
PAST_DUE = datetime(2026, 9, 8, 16, 31, tzinfo=UTC)
ANSWERED = datetime(2026, 9, 8, 15, 0, tzinfo=UTC)  # Tuesday 10:00 Chicago
REPORTER = StaffMember(
    id="s-rep-campus",
    name="Robin Reports",
    email="robin@example.com",
    departments=[Department.CAMPUS_SUPPORT],
)
OUTSIDER = StaffMember(
    id="s-rep-training",
    name="Tam Training",
    email="tam@example.com",
    departments=[Department.TRAINING],
)


async def test_the_sla_report_counts_a_breach_in_its_week(
    fresh_settings: Settings, make_bus: Callable[[Settings], Awaitable[Bus]]
) -> None:
    settings = fresh_settings.model_copy(
        update={"timer_interval_seconds": 3600.0, "poll_timeout_ms": 50}
    )
    clock = FixedClock(SUBMITTED)
    late = submitted(priority=Priority.HIGH, occurred_at=SUBMITTED)
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        bus = await make_bus(settings)
        mine = await _token(bus, REPORTER)
        other = await _token(bus, OUTSIDER)
        await bus.submit(late)
        await bus.wait_for(late.case_id, "case.routed")
        clock.set(PAST_DUE)
        await app.state.timers.run_due(PAST_DUE)
        await bus.wait_for(late.case_id, "case.sla_breached")
        fresh = submitted(priority=Priority.HIGH, occurred_at=PAST_DUE, case_number=1002)
        await bus.submit(fresh)
        await bus.wait_for(fresh.case_id, "case.routed")
        found: list[Any] = []

        async def answered() -> Any:
            response = await _get(app, "/reports/sla?weeks=2", mine)
            found[:] = [response.json()] if response.status_code == 200 else []
            return found or None

        await bus.wait_async(answered, "the staff token and the report")
        outsider = (await _get(app, "/reports/sla?weeks=2", other)).json()
        bad = await _get(app, "/reports/sla?weeks=53", mine)
        anonymous = await _get(app, "/reports/sla")
    [report] = found
    assert (report["since"], report["weeks"]) == ("2026-08-31", 2)
    [campus] = report["departments"]
    assert campus["department"] == "Campus Support"
    first, second = campus["weeks"]
    assert (first["week"], first["cases"]) == ("2026-08-31", 1)
    assert first["first_response"] == {
        "met": 0,
        "breached": 1,
        "percent_met": 0.0,
        "median_hours": None,
        "p90_hours": None,
        "median_business_hours": None,
        "p90_business_hours": None,
    }
    assert (first["resolution"]["met"], first["resolution"]["breached"]) == (0, 0)
    assert first["resolution"]["percent_met"] is None
    assert (second["week"], second["cases"]) == ("2026-09-07", 1)
    assert outsider["departments"] == []
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert anonymous.status_code == 401


# The seed's people (deploy/seed/directory.json): Pat works Campus Support only, Hal Hosting
# only, Sky supervises (listed in Campus Support), Zack is a Bayside contact.
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
SKY = StaffMember(
    id="staff-supervisor",
    name="Sky Supervisor",
    email="sky.supervisor@vendor.example",
    departments=[Department.CAMPUS_SUPPORT],
    on_duty=False,
    supervisor=True,
)
ZACK = Contact(
    id="zack-morris",
    first_name="Zack",
    last_name="Morris (TESTING)",
    email="zack.morris@bayside.example",
    contact_type=ContactType.AUTHORIZED_SUPPORT,
    account_ids=["bayside"],
)


async def _contact_token(bus: Bus, contact: Contact) -> dict[str, str]:
    """A bearer token of a district contact, published on the directory topic."""
    token = new_token()
    upsert = ContactUpserted(contact=contact)
    await bus.send(bus.topics.directory, upsert, directory_key(upsert))
    record = ApiToken(
        token_id=f"tok-{contact.id}",
        sha256=hash_token(token),
        subject_kind=ActorKind.CONTACT,
        subject_id=contact.id,
    )
    issued = TokenIssued(token=record)
    await bus.send(bus.topics.directory, issued, directory_key(issued))
    return {"Authorization": f"Bearer {token}"}


async def _known(app: FastAPI, bus: Bus, headers: dict[str, str]) -> Any:
    """GET /reports/sla?weeks=2 once routing knows the token (until then it is a 401)."""
    found: list[Any] = []

    async def answered() -> Any:
        response = await _get(app, "/reports/sla?weeks=2", headers)
        found[:] = [response] if response.status_code != 401 else []
        return found or None

    await bus.wait_async(answered, "routing to know the token")
    return found[0]


async def test_the_sla_report_is_staff_only_and_scoped_to_their_departments(
    fresh_settings: Settings, make_bus: Callable[[Settings], Awaitable[Bus]]
) -> None:
    """A contact's token is a 403 problem; with a Campus Support and a Hosting case in the
    week, the supervisor sees both departments, Pat only Campus Support, Hal only Hosting.
    Pat takes the Campus Support case Tuesday 10:00 Chicago, its first response: 89.5
    wall-clock hours, 2.5 business hours on the shipped calendar (8:00 to 17:00, US
    holidays: half an hour Friday, Labor Day off, two hours Tuesday)."""
    settings = fresh_settings.model_copy(
        update={"timer_interval_seconds": 3600.0, "poll_timeout_ms": 50}
    )
    clock = FixedClock(SUBMITTED)
    app = create_app(settings, clock=clock)
    campus = submitted(occurred_at=SUBMITTED)
    hosting = submitted(CaseType.SERVER_ISSUE, occurred_at=SUBMITTED, case_number=1002)
    async with app.router.lifespan_context(app):
        bus = await make_bus(settings)
        headers = {m.id: await _token(bus, m) for m in (PAT, HAL, SKY)}
        contact = await _contact_token(bus, ZACK)
        for case in (campus, hosting):
            await bus.submit(case)
            await bus.wait_for(case.case_id, "case.routed")
        await bus.enlist(PAT)
        clock.set(ANSWERED)
        pat = Actor(kind=ActorKind.STAFF, id=PAT.id, name=PAT.name)
        assign = AssignCase(
            case_id=campus.case_id, actor=pat, assignee=StaffRef(id=PAT.id, name=PAT.name)
        )
        await bus.command(assign)
        await bus.wait_for(campus.case_id, "case.assigned")
        refused = await _known(app, bus, contact)
        seen = {m: (await _known(app, bus, headers[m])).json() for m in headers}
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["status"] == 403
    assert "staff token" in problem["detail"]
    departments = {m: [d["department"] for d in r["departments"]] for m, r in seen.items()}
    assert departments == {
        "staff-supervisor": ["Campus Support", "Hosting / Technical Support"],
        "staff-support": ["Campus Support"],
        "staff-hosting": ["Hosting / Technical Support"],
    }
    for report in seen.values():
        assert all(d["weeks"][0]["cases"] == 1 for d in report["departments"])
    answered = seen["staff-support"]["departments"][0]["weeks"][0]["first_response"]
    assert answered == {
        "met": 1,
        "breached": 0,
        "percent_met": 100.0,
        "median_hours": 89.5,
        "p90_hours": 89.5,
        "median_business_hours": 2.5,
        "p90_business_hours": 2.5,
    }
