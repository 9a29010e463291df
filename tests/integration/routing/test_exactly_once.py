"""The routing process killed mid-stream and restarted loses no command and repeats no event."""

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from routing.settings import Settings
from shared.commands import AssignCase, ChangeStatus
from shared.enums import ActorKind, Status
from shared.events import CaseSubmitted
from shared.messages import Actor, StaffRef
from tests.integration.routing.conftest import KELLY as KELLY_STAFF

STAFF = Actor(kind=ActorKind.STAFF, id="s-1", name="Kelly Kapowski")
KELLY = StaffRef(id="s-1", name="Kelly Kapowski")
CASES = 50
# Per case: assign, then four moves (one refused: Assigned cannot go to Available in Release).
MOVES = [
    (Status.PENDING_CUSTOMER_INPUT, {"note": "which school?"}),
    (Status.ASSIGNED, {}),
    (Status.AVAILABLE_IN_RELEASE, {"note": "fixed", "release_name": "2547"}),
    (Status.SCHEDULED, {}),
    (Status.ASSIGNED, {}),
]
OUTCOME_TYPES = ("case.status_changed", "case.command_rejected")


def _commands(case: CaseSubmitted) -> list[Any]:
    moves = [
        ChangeStatus(case_id=case.case_id, actor=STAFF, to_status=to, **fields)
        for to, fields in MOVES
    ]
    return [AssignCase(case_id=case.case_id, actor=STAFF, assignee=KELLY), *moves]


async def _produce(bus: Any, cases: list[CaseSubmitted], commands: list[Any]) -> None:
    for case in cases:
        await bus.submit(case)
    for start in range(0, len(commands), 10):
        await asyncio.gather(*(bus.command(c) for c in commands[start : start + 10]))
        await asyncio.sleep(0.05)


def _outcomes(bus: Any) -> Counter[str]:
    return Counter(
        v["command_id"]
        for _, v in bus.records
        if v.get("type") in OUTCOME_TYPES and v.get("command_id")
    )


async def test_killed_routing_loses_no_command_and_repeats_no_event(
    fresh_settings: Settings,
    routing_process: Callable[[Settings], Any],
    make_bus: Callable[[Settings], Awaitable[Any]],
    new_case: Callable[..., CaseSubmitted],
) -> None:
    """Crash after the Mongo write, then SIGKILL mid-stream: one outcome per command, no repeats."""
    first = routing_process(fresh_settings)
    await first.start(ROUTING_FAULT_EXIT_AFTER_BATCHES="6")
    bus = await make_bus(fresh_settings)
    await bus.enlist(KELLY_STAFF)  # before any command: the workflow refuses unknown staff
    cases = [new_case(case_number=n + 1) for n in range(CASES)]
    # Interleave cases so every batch touches many of them.
    commands = [
        c for group in zip(*(_commands(case) for case in cases), strict=True) for c in group
    ]
    producing = asyncio.create_task(_produce(bus, cases, commands))
    assert await first.exited() == 137  # died between its Mongo write and its Kafka commit
    second = routing_process(fresh_settings)
    await second.start()
    await bus.wait(lambda: len(_outcomes(bus)) >= len(commands) // 2, 120, "half the outcomes")
    second.kill()
    decided_at_kill = len(_outcomes(bus))
    third = routing_process(fresh_settings)
    await third.start()
    await producing
    await bus.wait(lambda: len(_outcomes(bus)) >= len(commands), 240, "every outcome")
    third.stop()
    assert decided_at_kill < len(commands)
    _assert_exactly_once(bus, cases, commands)


def _assert_exactly_once(bus: Any, cases: list[CaseSubmitted], commands: list[Any]) -> None:
    outcomes = _outcomes(bus)
    assert set(outcomes) == {str(c.event_id) for c in commands}
    assert max(outcomes.values()) == 1
    produced = [v for topic, v in bus.records if v.get("type") not in _INPUT_TYPES]
    repeats = [i for i, n in Counter(v["event_id"] for v in produced).items() if n > 1]
    assert repeats == []
    routed = Counter(v["case_id"] for v in produced if v["type"] == "case.routed")
    assert routed == Counter({str(c.case_id): 1 for c in cases})
    rejected = [v for v in produced if v["type"] == "case.command_rejected"]
    assert len(rejected) == len(cases), [
        r["reason"] for r in rejected if "Release" not in r["reason"]
    ]


_INPUT_TYPES = {"case.submitted", "case.assign", "case.change_status"}
