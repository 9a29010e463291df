"""The engine's fault-drill seam: called after each batch's Mongo write, before its commit."""

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from aiokafka import TopicPartition

from routing.clock import FixedClock
from routing.engine import Engine
from routing.logic import BusinessCalendar, RoutingTable
from routing.service import RoutingService
from routing.settings import Settings
from shared.enums import CaseType
from shared.events import CaseSubmitted
from tests.unit.routing.fakes import (
    FakeCases,
    FakeCommands,
    FakeConsumer,
    FakeCursors,
    FakeDirectory,
    FakeProducer,
    FakeZones,
    record,
)


def _engine(after_write: Callable[[int], None]) -> tuple[Engine, FakeCases, FakeProducer]:
    cases, producer = FakeCases(), FakeProducer()
    service = RoutingService(
        RoutingTable.load(),
        BusinessCalendar(),
        FixedClock(datetime(2026, 11, 20, 16, tzinfo=UTC)),
        FakeZones(),  # type: ignore[arg-type]
        FakeDirectory(),  # type: ignore[arg-type]
        cases,  # type: ignore[arg-type]
        FakeCursors(),  # type: ignore[arg-type]
    )
    settings = Settings(topic_namespace="unit")
    engine = Engine(settings, service, cases, FakeCommands(), after_write)  # type: ignore[arg-type]
    engine.producer, engine.consumer = producer, FakeConsumer()
    return engine, cases, producer


async def test_the_seam_sees_each_batch_written_and_not_yet_committed(
    new_case: Callable[..., CaseSubmitted],
) -> None:
    """Two batches: the seam is called with 1 then 2, each time with the case stored and
    that batch's transaction not yet committed."""
    seen: list[tuple[int, int, int]] = []
    engine, cases, producer = _engine(
        lambda n: seen.append((n, len(cases.docs), len(producer.committed)))
    )
    topic = engine.topics.case_events
    for offset in (0, 1):
        case = new_case(CaseType.REQUEST_TRAINING)
        await engine.process({TopicPartition(topic, 0): [record(topic, offset, case)]})
    assert seen == [(1, 1, 0), (2, 2, 1)]
    assert len(producer.committed) == 2


def test_the_drill_exits_like_a_sigkill_at_its_batch() -> None:
    """exit_after(2) lets batch 1 pass and ends the process with 137 at batch 2."""
    script = (
        "from routing.engine import exit_after\n"
        "crash = exit_after(2)\n"
        "crash(1)\n"
        "print('after 1', flush=True)\n"
        "crash(2)\n"
        "print('after 2', flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout) == (137, "after 1\n")
