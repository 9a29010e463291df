"""Timers: due reminders, auto-closes and SLA checks become system commands on case.commands."""

import asyncio
import logging
from datetime import datetime

from prometheus_client import CollectorRegistry, Gauge

from routing.clock import Clock
from routing.logic import AUTO_CLOSE_NOTE, BusinessCalendar, business_days_left, derived_id
from routing.models import CaseState, SlaCheck
from routing.service import Publish
from routing.store import CaseStore
from shared import tracing
from shared.commands import CaseCommand, CloseCase, FollowUpCase
from shared.enums import Department, Priority
from shared.messages import SYSTEM

log = logging.getLogger("routing.timers")


class TimerService:
    """Finds due timers in Mongo and asks the single writer to act on them.

    Commands get ids derived from the case and its closing time, and the workflow drops a
    timer command whose moment has passed, so publishing one twice is harmless.
    """

    def __init__(
        self,
        cases: CaseStore,
        publish: Publish,
        clock: Clock,
        calendar: BusinessCalendar,
        gauges: "SlaGauges | None" = None,
    ) -> None:
        self.cases = cases
        self.publish = publish
        self.clock = clock
        self.calendar = calendar
        self.gauges = gauges

    async def run_due(self, now: datetime) -> int:
        """Publish every reminder and auto-close due at `now`; the number published."""
        published = 0
        for state in await self.cases.due("remind_at", ("remind_requested", "reminded"), now):
            await self._send(self.reminder(state, now))
            await self._mark(state, "remind_requested")
            published += 1
        for state in await self.cases.due("close_at", ("close_requested",), now):
            await self._send(self.auto_close(state, now))
            await self._mark(state, "close_requested")
            published += 1
        return published + await self.run_sla(now)

    async def run_sla(self, now: datetime) -> int:
        """Ask the single writer to announce every SLA warning and breach due at `now`; the
        number of checks published. The writer announces each once, whatever the repeats."""
        published = 0
        for state in await self.cases.sla_due(now):
            assert state.sla is not None
            assert state.sla.next_at is not None
            await self._send(self.sla_check(state, state.sla.next_at, now))
            await self.cases.mark_sla(state.case_id, state.sla.next_at)
            published += 1
        if self.gauges is not None:
            self.gauges.show(await self.cases.sla_counts())
        return published

    def sla_check(self, state: CaseState, due_at: datetime, now: datetime) -> SlaCheck:
        """The system's check of a case's SLA clocks, for the moment `due_at`."""
        return SlaCheck(
            event_id=derived_id(state.case_id, f"sla-check:{due_at.isoformat()}"),
            occurred_at=now,
            case_id=state.case_id,
            actor=SYSTEM,
            due_at=due_at,
        )

    async def _send(self, command: CaseCommand) -> None:
        """Publish with a request id of its own (the command id's hex, the same on a repeat),
        so the reminder or auto-close and the mail it causes are found by one grep."""
        with tracing.bound(command.event_id.hex):
            await self.publish(command)

    async def _mark(self, state: CaseState, flag: str) -> None:
        assert state.timers is not None
        await self.cases.mark_timer(state.case_id, flag, state.timers.close_at)

    def reminder(self, state: CaseState, now: datetime) -> FollowUpCase:
        """The system's follow-up reminder for a case awaiting verification."""
        assert state.timers is not None
        timers = state.timers
        return FollowUpCase(
            event_id=derived_id(state.case_id, f"remind:{timers.close_at.isoformat()}"),
            occurred_at=now,
            case_id=state.case_id,
            actor=SYSTEM,
            closes_on=timers.closes_on,
            business_days_left=business_days_left(timers, now, state.time_zone, self.calendar),
        )

    def auto_close(self, state: CaseState, now: datetime) -> CloseCase:
        """The system's close of a case nobody verified in time."""
        assert state.timers is not None
        return CloseCase(
            event_id=derived_id(state.case_id, f"close:{state.timers.close_at.isoformat()}"),
            occurred_at=now,
            case_id=state.case_id,
            actor=SYSTEM,
            note=AUTO_CLOSE_NOTE,
        )

    async def run(self, interval: float) -> None:
        """Tick every `interval` seconds until cancelled; a failed tick is retried next time."""
        while True:
            try:
                count = await self.run_due(self.clock.now())
                if count:
                    log.info("published %d timer commands", count)
            except Exception:
                log.exception("timer tick failed; retrying in %.0f s", interval)
            await asyncio.sleep(interval)


class SlaGauges:
    """Prometheus gauges of SLA targets per department, priority and target, from the store
    (so restarts and replays never count twice): open and unmet, met in time, breached."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("department", "priority", "target")
        self.gauges = {
            "due": Gauge(
                "routing_sla_due", "SLA targets still to meet.", labels, registry=registry
            ),
            "met": Gauge("routing_sla_met", "SLA targets met in time.", labels, registry=registry),
            "breached": Gauge(
                "routing_sla_breached", "SLA targets breached.", labels, registry=registry
            ),
        }

    def show(self, counts: dict[tuple[str, str, str, str], int]) -> None:
        """Set every gauge from the counts (zero where none)."""
        for department in Department:
            for priority in Priority:
                for target in ("first_response", "resolution"):
                    for standing, gauge in self.gauges.items():
                        n = counts.get((department.value, priority.value, target, standing), 0)
                        gauge.labels(department.value, priority.value, target).set(n)
