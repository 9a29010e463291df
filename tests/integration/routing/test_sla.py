"""SLA clocks on the real stack: warning and breach exactly once across a replay and a restart."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from routing.app import create_app
from routing.clock import FixedClock
from routing.logic import derived_id
from routing.models import SlaCheck
from routing.settings import Settings
from shared.commands import CloseCase
from shared.directory import directory_key, hash_token, new_token
from shared.enums import ActorKind, Department, Priority
from shared.events import ApiToken, StaffMember, StaffUpserted, TokenIssued
from shared.messages import SYSTEM
from tests.integration.routing.conftest import CONTACT, Bus, submitted

pytestmark = pytest.mark.integration

# Friday 2026-09-04 16:30 in Chicago; Monday is Labor Day. High: four business hours of
# 8:00 to 17:00, so three are used by Tuesday 10:30 and all four by 11:30 (Chicago).
SUBMITTED = datetime(2026, 9, 4, 21, 30, tzinfo=UTC)
PAST_WARNING = datetime(2026, 9, 8, 15, 31, tzinfo=UTC)
PAST_DUE = datetime(2026, 9, 8, 16, 31, tzinfo=UTC)
DUE = "2026-09-08T16:30:00Z"
PAT = StaffMember(
    id="s-pat", name="Pat Support", email="pat@example.com", departments=[Department.CAMPUS_SUPPORT]
)


class CrashOnce:
    """The fault seam: once armed, the next batch fails after its Mongo write, before its
    Kafka commit, so Kafka delivers it again and routing replays what it recorded."""

    def __init__(self) -> None:
        self.armed = False
        self.crashed = 0

    def __call__(self, written: int) -> None:
        if self.armed:
            self.armed = False
            self.crashed += 1
            raise RuntimeError("fault drill: the batch dies before its commit")


async def _token(bus: Bus, member: StaffMember) -> dict[str, str]:
    token = new_token()
    upsert = StaffUpserted(staff=member)
    await bus.send(bus.topics.directory, upsert, directory_key(upsert))
    record = ApiToken(
        token_id=f"tok-{member.id}",
        sha256=hash_token(token),
        subject_kind=ActorKind.STAFF,
        subject_id=member.id,
    )
    issued = TokenIssued(token=record)
    await bus.send(bus.topics.directory, issued, directory_key(issued))
    return {"Authorization": f"Bearer {token}"}


async def _get(app: FastAPI, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://routing") as client:
        return await client.get(url, headers=headers)


async def _queue(app: FastAPI, headers: dict[str, str], sort: str, bus: Bus) -> list[Any]:
    """The Campus Support queue once the directory knows the token."""
    found: list[Any] = []

    async def answered() -> Any:
        response = await _get(app, f"/queues/campus-support?sort={sort}", headers)
        found[:] = response.json() if response.status_code == 200 else []
        return found or None

    await bus.wait_async(answered, "the staff token and the queue")
    return found


async def test_a_breach_fires_exactly_once_across_a_replay_and_a_restart(
    fresh_settings: Settings, make_bus: Callable[[Settings], Awaitable[Bus]]
) -> None:
    """The breach's batch dies before its commit and is replayed, routing restarts and the
    timer repeats its check: one warning, one breach, and the queue marks it most urgent."""
    settings = fresh_settings.model_copy(
        update={"timer_interval_seconds": 3600.0, "poll_timeout_ms": 50}
    )
    clock, crash = FixedClock(SUBMITTED), CrashOnce()
    case = submitted(priority=Priority.HIGH, occurred_at=SUBMITTED)
    first = create_app(settings, clock=clock, after_write=crash)
    async with first.router.lifespan_context(first):
        bus = await make_bus(settings)  # once routing has created the topics
        await bus.submit(case)
        await bus.wait_for(case.case_id, "case.routed")
        clock.set(PAST_WARNING)
        await first.state.timers.run_due(PAST_WARNING)
        [warning] = await bus.wait_for(case.case_id, "case.sla_warning")
        crash.armed = True
        clock.set(PAST_DUE)
        await first.state.timers.run_due(PAST_DUE)
        [breach] = await bus.wait_for(case.case_id, "case.sla_breached")
    assert crash.crashed == 1
    assert (warning["target"], warning["percent_elapsed"], warning["due_at"]) == (
        "first_response",
        75,
        DUE,
    )
    assert (breach["target"], breach["priority"], breach["department"]) == (
        "first_response",
        "High",
        "Campus Support",
    )

    again = create_app(settings, clock=clock)
    async with again.router.lifespan_context(again):
        await again.state.timers.run_due(PAST_DUE)
        repeat = SlaCheck(
            event_id=derived_id(case.case_id, "sla-check:2026-09-08T16:30:00+00:00"),
            case_id=case.case_id,
            actor=SYSTEM,
            due_at=datetime(2026, 9, 8, 16, 30, tzinfo=UTC),
        )
        await bus.command(repeat)
        # A later command on the same partition: once it is decided, so was the repeat.
        close = CloseCase(case_id=case.case_id, actor=CONTACT, note="Solved it myself.")
        await bus.command(close)
        await bus.wait(
            lambda: any(
                m.get("command_id") == str(close.event_id) for m in bus.of_case(case.case_id)
            ),
            what="the close decided",
        )
        await again.state.timers.run_due(PAST_DUE)
        metrics = (await _get(again, "/metrics")).text
    assert len(bus.of_case(case.case_id, "case.sla_warning")) == 1
    assert len(bus.of_case(case.case_id, "case.sla_breached")) == 1
    labels = 'department="Campus Support",priority="High",target="first_response"'
    assert f"routing_sla_breached{{{labels}}} 1.0" in metrics


async def test_the_queue_sorts_by_urgency_and_marks_breaches(
    fresh_settings: Settings, make_bus: Callable[[Settings], Awaitable[Bus]]
) -> None:
    """A breached High case leads the urgency order; the Critical case leads the work order."""
    settings = fresh_settings.model_copy(
        update={"timer_interval_seconds": 3600.0, "poll_timeout_ms": 50}
    )
    clock = FixedClock(SUBMITTED)
    high = submitted(priority=Priority.HIGH, occurred_at=SUBMITTED)
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        bus = await make_bus(settings)  # once routing has created the topics
        headers = await _token(bus, PAT)
        await bus.submit(high)
        await bus.wait_for(high.case_id, "case.routed")
        clock.set(PAST_DUE)
        await app.state.timers.run_due(PAST_DUE)
        await bus.wait_for(high.case_id, "case.sla_breached")
        critical = submitted(priority=Priority.CRITICAL, occurred_at=PAST_DUE, case_number=1002)
        await bus.submit(critical)
        await bus.wait_for(critical.case_id, "case.routed")
        urgent = await _queue(app, headers, "urgency", bus)
        work = await _queue(app, headers, "work", bus)
        view = (await _get(app, f"/cases/{high.case_id}", headers)).json()
    assert [item["case_number"] for item in urgent] == [1001, 1002]
    assert [item["case_number"] for item in work] == [1002, 1001]
    assert (urgent[0]["breached"], urgent[0]["due_in"], urgent[0]["sla_breached"]) == (
        True,
        "overdue by 1 min",
        ["first_response"],
    )
    assert view["sla"]["first_response"] == {
        "due_at": DUE,
        "met_at": None,
        "warned": False,  # the breach came first: a late warning is moot
        "breached": True,
    }
    assert view["sla"]["paused"] is False
    # Critical runs around the clock: an hour from its submission.
    assert (urgent[1]["breached"], urgent[1]["next_due_at"]) == (False, "2026-09-08T17:31:00Z")
