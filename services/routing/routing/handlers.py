"""Handlers of routing's input: parse, look up what a decision needs, delegate to logic."""

import logging
from dataclasses import dataclass, replace
from typing import Any, Literal

from routing.clock import Clock
from routing.logic import (
    BusinessCalendar,
    Context,
    Decision,
    Malformed,
    RoutingTable,
    on_command,
    on_malformed,
    on_post,
    on_submitted,
    pick_least_loaded,
    pick_round_robin,
)
from routing.models import CaseState
from routing.store import AccountZones, CaseStore, CursorStore
from shared.commands import AnyCaseCommand, AssignCase
from shared.directory import DirectoryStore
from shared.enums import ActorKind, Department
from shared.events import CaseSubmitted, PostAdded
from shared.messages import StaffRef

log = logging.getLogger("routing.handlers")

AssignmentPolicy = Literal["round_robin", "least_loaded"]


@dataclass
class Handlers:
    """What the consume loop calls per message; each returns the decision to persist."""

    table: RoutingTable
    calendar: BusinessCalendar
    clock: Clock
    zones: AccountZones
    directory: DirectoryStore
    cases: CaseStore
    cursors: CursorStore
    policy: AssignmentPolicy = "round_robin"
    remind_before: int = 2

    async def on_case_submitted(self, event: CaseSubmitted, state: CaseState | None) -> Decision:
        """Route a new case; a second CaseSubmitted for a known case changes nothing."""
        if state is not None:
            return Decision(None)
        route = self.table.route(event.case_type, getattr(event.details, "module", None))
        decision = on_submitted(event, route, await self._context(event.account_id))
        log.info("routed case %s to %s", event.case_number, route.department)
        return decision

    async def on_post_added(self, event: PostAdded, state: CaseState | None) -> Decision:
        """Every post becomes the case's last activity; a contact's post on a pending case
        hands it back to support."""
        if state is None:
            return Decision(None)
        return on_post(state, event, await self._context(state.account_id))

    async def on_case_command(self, command: AnyCaseCommand, state: CaseState | None) -> Decision:
        """Apply a command with the directory's view of the acting staff member (and of the
        assignee it names), picking an assignee first when the command leaves it to policy."""
        ctx = await self._context(state.account_id if state else None)
        if state is None:
            return on_command(state, command, ctx)
        found: dict[str, Any] = {}
        if command.actor.kind is ActorKind.STAFF:
            found["staff"] = await self.directory.staff(command.actor.id)
        if isinstance(command, AssignCase) and command.assignee is not None:
            found["assignee"] = await self.directory.staff(command.assignee.id)
        elif isinstance(command, AssignCase):
            found["auto_assignee"] = await self._pick(state.department)
        return on_command(state, command, replace(ctx, **found))

    def on_malformed(self, command: Malformed) -> Decision:
        """Reject a command that breaks its contract, with the fields it breaks."""
        return on_malformed(command, Context(self.clock.now(), self.calendar, "America/Chicago"))

    async def _context(self, account_id: str | None) -> Context:
        zone = await self.zones.zone_of(account_id) if account_id else "America/Chicago"
        return Context(self.clock.now(), self.calendar, zone, self.remind_before)

    async def _pick(self, department: Department) -> StaffRef | None:
        members = await self.directory.staff_in(department)
        on_duty = [StaffRef(id=m.id, name=m.name, email=str(m.email)) for m in members if m.on_duty]
        if not on_duty:
            return None
        if self.policy == "least_loaded":
            loads = await self.cases.open_loads(department, [s.id for s in on_duty])
            return pick_least_loaded(on_duty, loads)
        return pick_round_robin(on_duty, await self.cursors.next_turn(department))
