"""Business-day timers: due reminders and auto-closes become system commands on case.commands."""

import asyncio
import logging
from datetime import datetime

from routing.clock import Clock
from routing.logic import AUTO_CLOSE_NOTE, BusinessCalendar, business_days_left, derived_id
from routing.models import CaseState
from routing.service import Publish
from routing.store import CaseStore
from shared import tracing
from shared.commands import AnyCaseCommand, CloseCase, FollowUpCase
from shared.messages import SYSTEM

log = logging.getLogger("routing.timers")


class TimerService:
    """Finds due timers in Mongo and asks the single writer to act on them.

    Commands get ids derived from the case and its closing time, and the workflow drops a
    timer command whose moment has passed, so publishing one twice is harmless.
    """

    def __init__(
        self, cases: CaseStore, publish: Publish, clock: Clock, calendar: BusinessCalendar
    ) -> None:
        self.cases = cases
        self.publish = publish
        self.clock = clock
        self.calendar = calendar

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
        return published

    async def _send(self, command: AnyCaseCommand) -> None:
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
