"""The engine's run loop on fakes: pipelined commits, rewinds after a failed commit, progress."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias
from uuid import uuid4

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import ProducerFenced
from aiokafka.structs import ConsumerRecord

from routing.engine import Engine
from routing.progress import Progress
from routing.settings import Settings
from shared.enums import ActorKind, CaseType
from shared.events import CaseSubmitted, PostAdded
from shared.messages import Actor
from tests.unit.routing.fakes import FakeCases, FakeProducer, fake_engine, record

CONTACT = Actor(kind=ActorKind.CONTACT, id="c-1", name="Zack Morris")
Record: TypeAlias = ConsumerRecord[bytes, bytes]
PIPELINED = Settings(topic_namespace="unit", pipeline=True)


class FakeLog:
    """A consumer over fixed partitions: each poll returns up to `per_poll` records of each."""

    def __init__(self, records: dict[TopicPartition, list[Record]], per_poll: int) -> None:
        self.records = records
        self.positions = dict.fromkeys(records, 0)
        self.per_poll = per_poll
        self.seeks: list[tuple[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return set(self.records)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))
        self.positions[tp] = offset

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, Any]:
        batch = {}
        for tp, records in self.records.items():
            chunk = records[self.positions[tp] : self.positions[tp] + self.per_poll]
            if chunk:
                batch[tp] = chunk
                self.positions[tp] += len(chunk)
        if not batch:
            await asyncio.sleep(timeout_ms / 1000)
        return batch


class GatedProducer(FakeProducer):
    """Commits only once `gate()` returns (or a second passed); can fail the first commit."""

    def __init__(self, gate: Callable[[], Awaitable[bool]], fail_first: bool = False) -> None:
        super().__init__()
        self.gate = gate
        self.fail_next_commit = fail_first
        self.gated: list[bool] = []

    async def commit_transaction(self) -> None:
        try:
            self.gated.append(await asyncio.wait_for(self.gate(), 1.0))
        except TimeoutError:
            self.gated.append(False)
        await super().commit_transaction()


class SavesWatch(FakeCases):
    """Counts Mongo bulk writes, so a test can wait for the next batch's."""

    def __init__(self) -> None:
        super().__init__()
        self.saves = 0
        self.saved = asyncio.Event()

    async def save_many(self, states: Any, new: Any) -> None:
        await super().save_many(states, new)
        self.saves += 1
        self.saved.set()

    async def after(self, saves: int) -> bool:
        """Wait until `saves` bulk writes happened."""
        while self.saves < saves:
            self.saved.clear()
            await self.saved.wait()
        return True


def submission() -> CaseSubmitted:
    return CaseSubmitted.model_validate(
        {
            "case_id": uuid4(),
            "case_number": 1001,
            "account_id": "a-1",
            "contact_id": CONTACT.id,
            "submitted_by": CONTACT.model_dump(),
            "priority": "Medium",
            "subject": "Teachers cannot save scores",
            "description": "details",
            "details": {"case_type": CaseType.ASK_A_QUESTION.value, "module": "Grade Book"},
        }
    )


def post_on(case: CaseSubmitted) -> PostAdded:
    return PostAdded(
        case_id=case.case_id, post_id=uuid4(), author=CONTACT, body_html="ok", body_text="ok"
    )


def wired(
    log: FakeLog, producer: FakeProducer, cases: FakeCases, settings: Settings | None = None
) -> Engine:
    engine = fake_engine(settings)
    engine.consumer, engine.producer = log, producer
    engine.cases = engine.service.cases = cases  # type: ignore[assignment]
    return engine


async def run_until(engine: Engine, done: Callable[[], bool]) -> None:
    """Run the loop until `done()` holds (failing after 10 s), then stop it."""
    task = asyncio.create_task(engine.run())
    try:
        for _ in range(1000):
            if done():
                return
            await asyncio.sleep(0.01)
        pytest.fail("the engine did not get there within 10 s")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def queued(producer: FakeProducer) -> list[str]:
    values = [json.loads(v) for txn in producer.committed for _, v in txn]
    return [v["item"]["case_id"] for v in values if v["type"] == "work.queued"]


def events_log(engine: Engine, messages: list[Any], per_poll: int) -> FakeLog:
    topic = engine.topics.case_events
    records = [record(topic, offset, m) for offset, m in enumerate(messages)]
    return FakeLog({TopicPartition(topic, 0): records}, per_poll)


async def test_next_batch_is_written_while_the_previous_one_commits() -> None:
    """The second batch reaches Mongo before the first batch's transaction commits."""
    cases = SavesWatch()
    producer = GatedProducer(lambda: cases.after(2))
    engine = wired(FakeLog({}, 1), producer, cases, PIPELINED)
    engine.consumer = events_log(engine, [submission() for _ in range(4)], 2)
    await run_until(engine, lambda: len(producer.committed) == 2)
    assert producer.gated[0] is True


async def test_sequential_engine_commits_before_writing_the_next_batch() -> None:
    """With pipelining off, a batch's commit never waits for the next batch's write."""
    cases = SavesWatch()
    producer = GatedProducer(lambda: cases.after(2))
    engine = wired(FakeLog({}, 1), producer, cases, Settings(topic_namespace="u", pipeline=False))
    engine.consumer = events_log(engine, [submission() for _ in range(4)], 2)
    await run_until(engine, lambda: len(producer.committed) == 2)
    assert producer.gated[0] is False


async def test_failed_commit_republishes_outputs_of_a_case_the_next_batch_changed() -> None:
    """A commit failing while the next batch is written rewinds both, and every case's
    work item is published exactly once though the next batch changed that case again.
    """
    cases = SavesWatch()
    producer = GatedProducer(lambda: cases.after(2), fail_first=True)
    first = [submission() for _ in range(2)]
    engine = wired(FakeLog({}, 1), producer, cases, PIPELINED)
    log = events_log(engine, [*first, post_on(first[0]), submission()], 2)
    engine.consumer = log
    await run_until(engine, lambda: len(queued(producer)) >= 3)
    await asyncio.sleep(0.1)  # anything published twice would show by now
    assert sorted(queued(producer)) == sorted(str(case_id) for case_id in cases.docs)
    assert (TopicPartition(engine.topics.case_events, 0), 0) in log.seeks


async def test_engine_retrying_a_failing_write_is_stalled_after_the_limit() -> None:
    """A loop stuck on a batch Mongo keeps refusing makes no progress; idle polls do."""
    now = [0.0]
    cases = SavesWatch()
    engine = wired(FakeLog({}, 1), FakeProducer(), cases)
    engine.progress = Progress(30.0, lambda: now[0])

    async def refuse(states: Any, new: Any) -> None:
        raise ConnectionError("mongo away")

    engine.consumer = events_log(engine, [submission()], 1)
    cases.save_many = refuse  # type: ignore[method-assign]
    task = asyncio.create_task(engine.run())
    await asyncio.sleep(0.3)  # a few retries
    now[0] = 31.0
    stalled = engine.progress.stalled()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert stalled


async def test_idle_engine_is_not_stalled() -> None:
    """Polls that find nothing count as progress, however long the quiet lasts."""
    now = [0.0]
    engine = wired(FakeLog({}, 1), FakeProducer(), FakeCases())
    engine.progress = Progress(30.0, lambda: now[0])
    task = asyncio.create_task(engine.run())
    now[0] = 100.0
    await asyncio.sleep(0.3)  # a few empty polls
    stalled = engine.progress.stalled()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert not stalled


async def test_fenced_engine_stops_and_reports_stalled() -> None:
    """When another replica fences the producer, the loop ends and counts as stalled."""

    class Fenced(FakeProducer):
        async def commit_transaction(self) -> None:
            raise ProducerFenced()

    engine = wired(FakeLog({}, 1), Fenced(), FakeCases())
    engine.consumer = events_log(engine, [submission()], 1)
    with pytest.raises(ProducerFenced):
        await asyncio.wait_for(engine.run(), 10)
    assert engine.progress.stalled()
    assert not engine.running
