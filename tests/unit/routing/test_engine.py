"""The single writer's batch processing with fakes: redelivery replays, never re-decides."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from routing.engine import Engine
from routing.errors import AlreadyStored
from shared.commands import AssignCase, ChangeStatus
from shared.enums import ActorKind, CaseType, Status
from shared.events import CaseSubmitted
from shared.messages import Actor, StaffRef
from tests.unit.routing.fakes import fake_engine, record

STAFF = Actor(kind=ActorKind.STAFF, id="s-1", name="Kelly Kapowski")
KELLY = StaffRef(id="s-1", name="Kelly Kapowski")


@pytest.fixture
def engine() -> Engine:
    """An engine on fakes, its clock fixed."""
    return fake_engine()


def _batch(engine: Engine, case: CaseSubmitted, *commands: Any) -> dict[TopicPartition, Any]:
    topics = engine.topics
    events = TopicPartition(topics.case_events, 0)
    cmds = TopicPartition(topics.case_commands, 0)
    batch = {events: [record(topics.case_events, 0, case)]}
    if commands:
        batch[cmds] = [record(topics.case_commands, i, c) for i, c in enumerate(commands)]
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
        TopicPartition(engine.topics.case_events, 0): [record(engine.topics.case_events, 5, case)]
    }
    with pytest.raises(AlreadyStored):
        await engine.process(again)
    engine.careful = True
    await engine.process(again)
    assert engine.cases.docs[case.case_id].status is Status.ASSIGNED  # type: ignore[attr-defined]
    assert engine.producer.committed[-1] == []  # type: ignore[union-attr]
