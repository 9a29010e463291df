"""Fakes of the engine's stores and Kafka clients, and an engine wired on them."""

import asyncio
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from routing.clock import FixedClock
from routing.engine import Engine
from routing.errors import AlreadyStored
from routing.logic import BusinessCalendar, RoutingTable
from routing.models import CaseState
from routing.service import RoutingService
from routing.settings import Settings
from shared.enums import Department, Status
from shared.events import StaffMember


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
    """Records what each committed transaction published (and each record's headers); can
    fail the next commit."""

    def __init__(self) -> None:
        self.committed: list[list[tuple[str, bytes]]] = []
        self.pending: list[tuple[str, bytes]] = []
        self.headers: list[list[tuple[str, bytes]]] = []
        self.fail_next_commit = False

    async def begin_transaction(self) -> None:
        self.pending = []

    async def send(
        self,
        topic: str,
        value: bytes,
        headers: list[tuple[str, bytes]] | None = None,
        **_: Any,
    ) -> "asyncio.Future[None]":
        self.pending.append((topic, value))
        self.headers.append(list(headers or []))
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
    """Two trainers, one of them off duty, and Kelly Kapowski (s-1) of Training."""

    def __init__(self) -> None:
        self.members = {
            "s-1": StaffMember(
                id="s-1",
                name="Kelly Kapowski",
                email="kelly@example.com",
                departments=[Department.TRAINING],
            ),
        }

    async def staff_in(self, department: Department) -> list[StaffMember]:
        return [
            StaffMember(id="a", name="A", email="a@example.com", departments=[department]),
            StaffMember(
                id="b", name="B", email="b@example.com", departments=[department], on_duty=False
            ),
        ]

    async def staff(self, staff_id: str) -> StaffMember | None:
        return self.members.get(staff_id)


class FakeCursors:
    def __init__(self) -> None:
        self.turn = 0

    async def next_turn(self, department: Department) -> int:
        self.turn += 1
        return self.turn - 1


def fake_engine(settings: Settings | None = None) -> Engine:
    """An engine on fakes, its clock fixed."""
    service = RoutingService(
        RoutingTable.load(),
        BusinessCalendar(),
        FixedClock(datetime(2026, 11, 20, 16, tzinfo=UTC)),
        FakeZones(),  # type: ignore[arg-type]
        FakeDirectory(),  # type: ignore[arg-type]
        FakeCases(),  # type: ignore[arg-type]
        FakeCursors(),  # type: ignore[arg-type]
    )
    settings = settings or Settings(topic_namespace="unit")
    engine = Engine(settings, service, service.cases, FakeCommands())  # type: ignore[arg-type]
    engine.producer = FakeProducer()
    engine.consumer = FakeConsumer()
    return engine


def record(
    topic: str, offset: int, message: Any, headers: list[tuple[str, bytes]] | None = None
) -> ConsumerRecord[bytes, bytes]:
    """A record at `offset` of partition 0 holding `message`, keyed by its case."""
    value = message.model_dump_json().encode()
    key = str(message.case_id).encode()
    extra = headers or []
    return ConsumerRecord(topic, 0, offset, 0, 0, key, value, None, len(key), len(value), extra)
