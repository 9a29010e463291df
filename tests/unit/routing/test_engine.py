"""The single writer's batch processing with fakes: redelivery replays, never re-decides."""

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from routing.clock import FixedClock
from routing.engine import Engine
from routing.handlers import Handlers
from routing.logic import BusinessCalendar, RoutingTable
from routing.models import CaseState
from routing.settings import Settings
from routing.store import AlreadyStored
from shared.commands import AssignCase, ChangeStatus
from shared.enums import ActorKind, CaseType, Department, Status
from shared.events import CaseSubmitted, StaffMember
from shared.messages import Actor, StaffRef

STAFF = Actor(kind=ActorKind.STAFF, id="s-1", name="Kelly Kapowski")
KELLY = StaffRef(id="s-1", name="Kelly Kapowski")


class FakeCases:
    """Cases in a dict, as Mongo would keep them."""

    def __init__(self) -> None:
        self.docs: dict[UUID, CaseState] = {}
        self.loads: list[UUID] = []

    async def get_many(self, case_ids: Any) -> dict[UUID, CaseState]:
        ids = set(case_ids)
        self.loads.extend(ids)
        return {i: self.docs[i] for i in ids if i in self.docs}

    async def save_many(self, states: Any, new: Any) -> None:
        if any(case_id in self.docs for case_id in new):
            raise AlreadyStored("exists")
        for state in states:
            self.docs[state.case_id] = state

    async def max_offset(self, kind: str, partition: int) -> int:
        return -1

    async def open_loads(self, department: Department, staff_ids: list[str]) -> dict[str, int]:
        loads: dict[str, int] = {}
        for state in self.docs.values():
            if state.assignee and state.status is not Status.CLOSED:
                loads[state.assignee.id] = loads.get(state.assignee.id, 0) + 1
        return loads


class FakeCommands:
    """Command outcomes in a dict."""

    def __init__(self) -> None:
        self.outcomes: dict[str, dict[str, Any]] = {}

    async def record_many(self, outcomes: list[dict[str, Any]]) -> None:
        self.outcomes.update({o["_id"]: o for o in outcomes})


class FakeProducer:
    """Records what each committed transaction published; can fail the next commit."""

    def __init__(self) -> None:
        self.committed: list[list[tuple[str, bytes]]] = []
        self.pending: list[tuple[str, bytes]] = []
        self.fail_next_commit = False

    async def begin_transaction(self) -> None:
        self.pending = []

    async def send(self, topic: str, value: bytes, **_: Any) -> "asyncio.Future[None]":
        self.pending.append((topic, value))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    async def send_offsets_to_transaction(self, offsets: Any, group: str) -> None:
        pass

    async def commit_transaction(self) -> None:
        if self.fail_next_commit:
            self.fail_next_commit = False
            raise ConnectionError("broker went away")
        self.committed.append(self.pending)

    async def abort_transaction(self) -> None:
        self.pending = []


class FakeConsumer:
    """Owns no case.events partition, so commands are never held."""

    def assignment(self) -> set[TopicPartition]:
        return set()

    def seek(self, tp: TopicPartition, offset: int) -> None:
        pass


class FakeZones:
    async def zone_of(self, account_id: str) -> str:
        return "America/Chicago"


class FakeDirectory:
    """Two trainers, one of them off duty."""

    async def staff_in(self, department: Department) -> list[StaffMember]:
        return [
            StaffMember(id="a", name="A", email="a@example.com", departments=[department]),
            StaffMember(
                id="b", name="B", email="b@example.com", departments=[department], on_duty=False
            ),
        ]


class FakeCursors:
    def __init__(self) -> None:
        self.turn = 0

    async def next_turn(self, department: Department) -> int:
        self.turn += 1
        return self.turn - 1


@pytest.fixture
def engine() -> Engine:
    """An engine on fakes, its clock fixed."""
    settings = Settings(topic_namespace="unit")
    handlers = Handlers(
        RoutingTable.load(),
        BusinessCalendar(),
        FixedClock(datetime(2026, 11, 20, 16, tzinfo=UTC)),
        FakeZones(),
        FakeDirectory(),
        FakeCases(),
        FakeCursors(),  # type: ignore[arg-type]
    )
    engine = Engine(settings, handlers, handlers.cases, FakeCommands())  # type: ignore[arg-type]
    engine.producer = FakeProducer()  # type: ignore[assignment]
    engine.consumer = FakeConsumer()  # type: ignore[assignment]
    return engine


def _record(topic: str, offset: int, message: Any) -> ConsumerRecord[bytes, bytes]:
    value = message.model_dump_json().encode()
    key = str(message.case_id).encode()
    return ConsumerRecord(topic, 0, offset, 0, 0, key, value, None, len(key), len(value), [])


def _batch(engine: Engine, case: CaseSubmitted, *commands: Any) -> dict[TopicPartition, Any]:
    topics = engine.topics
    events = TopicPartition(topics.case_events, 0)
    cmds = TopicPartition(topics.case_commands, 0)
    batch = {events: [_record(topics.case_events, 0, case)]}
    if commands:
        batch[cmds] = [_record(topics.case_commands, i, c) for i, c in enumerate(commands)]
    return batch


def _published(producer: Any) -> list[dict[str, Any]]:
    return [json.loads(value) for txn in producer.committed for _, value in txn]


async def test_redelivered_batch_republishes_the_same_messages(
    engine: Engine, new_case: Callable[..., CaseSubmitted]
) -> None:
    """A batch whose commit failed is replayed from the stored outputs, byte for byte."""
    case = new_case(CaseType.REQUEST_TRAINING)
    assign = AssignCase(case_id=case.case_id, actor=STAFF, assignee=KELLY)
    batch = _batch(engine, case, assign)
    engine.producer.fail_next_commit = True  # type: ignore[union-attr]
    with pytest.raises(ConnectionError):
        await engine.process(batch)
    engine.cache.clear()  # as after a restart: only Mongo (the fake) remembers
    await engine.process(batch)
    replayed = engine.producer.committed[0]  # type: ignore[union-attr]
    stored = engine.cases.docs[case.case_id]  # type: ignore[attr-defined]
    assert [json.loads(v)["type"] for _, v in replayed] == [
        "case.routed",
        "work.queued",
        "case.status_changed",
        "case.assigned",
        "work.updated",
    ]
    assert stored.status is Status.ASSIGNED
    assert stored.offsets == {"events": 0, "commands": 0}


async def test_second_pass_of_a_committed_batch_does_not_decide_again(
    engine: Engine, new_case: Callable[..., CaseSubmitted]
) -> None:
    """Re-processing applied records re-sends their outputs instead of applying them twice."""
    case = new_case(CaseType.REQUEST_TRAINING)
    ask = ChangeStatus(case_id=case.case_id, actor=STAFF, to_status=Status.ASSIGNED)
    batch = _batch(engine, case, ask)
    await engine.process(batch)
    await engine.process(batch)
    first, second = engine.producer.committed  # type: ignore[union-attr]
    assert first == second
    assert [m["type"] for m in _published(engine.producer)].count("case.command_rejected") == 0


async def test_poison_command_goes_to_the_dead_letter_topic(engine: Engine) -> None:
    """A command that does not parse is published to case.commands.dlq in the transaction."""
    topic = engine.topics.case_commands
    bad = ConsumerRecord(topic, 0, 0, 0, 0, b"k", b'{"type": "case.close"}', None, 1, 22, [])
    await engine.process({TopicPartition(topic, 0): [bad]})
    assert [t for t, _ in engine.producer.committed[0]] == [f"{topic}.dlq"]  # type: ignore[union-attr]


async def test_policy_assignment_skips_staff_off_duty(
    engine: Engine, new_case: Callable[..., CaseSubmitted]
) -> None:
    """Round robin among staff on duty: the off-duty trainer is never picked."""
    cases = [new_case(CaseType.REQUEST_TRAINING) for _ in range(2)]
    for case in cases:
        await engine.process(_batch(engine, case, AssignCase(case_id=case.case_id, actor=STAFF)))
    docs = engine.cases.docs  # type: ignore[attr-defined]
    assert [docs[c.case_id].assignee.id for c in cases] == ["a", "a"]


async def test_repeated_submission_after_restart_never_resets_the_case(
    engine: Engine, new_case: Callable[..., CaseSubmitted]
) -> None:
    """A CaseSubmitted published again later is recognised on a careful retry, not re-routed."""
    case = new_case(CaseType.REQUEST_TRAINING)
    await engine.process(
        _batch(engine, case, AssignCase(case_id=case.case_id, actor=STAFF, assignee=KELLY))
    )
    engine.cache.clear()
    engine.applied_upto[(engine.topics.case_events, 0)] = 0  # as learnt at assignment
    again = {
        TopicPartition(engine.topics.case_events, 0): [_record(engine.topics.case_events, 5, case)]
    }
    with pytest.raises(AlreadyStored):
        await engine.process(again)
    engine.careful = True
    await engine.process(again)
    assert engine.cases.docs[case.case_id].status is Status.ASSIGNED  # type: ignore[attr-defined]
    assert engine.producer.committed[-1] == []  # type: ignore[union-attr]
