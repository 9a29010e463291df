"""GET /reports/sla on the real stack: a breached first response lands in its ISO week."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from routing.app import create_app
from routing.clock import FixedClock
from routing.settings import Settings
from shared.enums import Department, Priority
from shared.events import StaffMember
from tests.integration.routing.conftest import Bus, submitted
from tests.integration.routing.test_sla import _get, _token

pytestmark = pytest.mark.integration

# Friday 2026-09-04 16:30 Chicago (ISO week from Monday 2026-08-31); High's first response
# (four business hours; Monday is Labor Day) falls due Tuesday 2026-09-08 16:30 UTC.
SUBMITTED = datetime(2026, 9, 4, 21, 30, tzinfo=UTC)
PAST_DUE = datetime(2026, 9, 8, 16, 31, tzinfo=UTC)
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
    }
    assert (first["resolution"]["met"], first["resolution"]["breached"]) == (0, 0)
    assert first["resolution"]["percent_met"] is None
    assert (second["week"], second["cases"]) == ("2026-09-07", 1)
    assert outsider["departments"] == []
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert anonymous.status_code == 401
