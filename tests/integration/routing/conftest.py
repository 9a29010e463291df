"""Real-stack fixtures for routing: an isolated namespace and database, the app, a Kafka bus."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI
from pydantic import BaseModel
from pymongo import AsyncMongoClient

import devstack
from devstack.cleanup import forget_namespace
from routing.app import create_app
from routing.clock import FixedClock
from routing.settings import Settings
from shared import tracing
from shared.directory import directory_key
from shared.enums import ActorKind, CaseType, Department, Priority
from shared.events import CaseSubmitted, StaffMember, StaffUpserted
from shared.messages import Actor
from tests.unit.routing.conftest import DETAILS  # one valid form per case type

CONTACT = Actor(kind=ActorKind.CONTACT, id="c-1", name="Zack Morris")
# The staff actor the workflow tests send commands as (Ask a Question goes to Campus Support).
KELLY = StaffMember(
    id="s-1",
    name="Kelly Kapowski",
    email="kelly@example.com",
    departments=[Department.CAMPUS_SUPPORT],
    on_duty=False,
)


def submitted(case_type: CaseType = CaseType.ASK_A_QUESTION, **fields: Any) -> CaseSubmitted:
    """A valid CaseSubmitted of `case_type`."""
    body = {
        "case_id": uuid4(),
        "case_number": 1001,
        "account_id": "a-1",
        "contact_id": CONTACT.id,
        "submitted_by": CONTACT.model_dump(),
        "priority": Priority.MEDIUM,
        "subject": "Teachers cannot save scores",
        "description": "details",
        "details": {"case_type": case_type.value, **DETAILS[case_type]},
        **fields,
    }
    return CaseSubmitted.model_validate(body)


class Bus:
    """Publishes to and records everything on the case, command and queue topics."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = settings.topics
        self.records: list[tuple[str, dict[str, Any]]] = []
        # Per record as above: its x-request-id header, if any.
        self.request_ids: list[str | None] = []
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", enable_idempotence=True
        )
        names = [
            self.topics.case_events,
            self.topics.case_commands,
            *(self.topics.queue(d) for d in Department),
        ]
        self.consumer = AIOKafkaConsumer(
            *names,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            # No group: a recorder needs every partition and no commits, and a group's
            # rebalance could hang its stop (an auto-commit retried as the member rejoins).
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect and record in the background."""
        await self.producer.start()
        await self.consumer.start()
        self._task = asyncio.create_task(self._record())

    async def stop(self) -> None:
        """Stop recording and disconnect."""
        if self._task:
            self._task.cancel()
        await self.consumer.stop()
        await self.producer.stop()

    async def _record(self) -> None:
        async for record in self.consumer:
            self.request_ids.append(tracing.from_kafka(record.headers))
            self.records.append((record.topic, json.loads(record.value or b"{}")))

    async def send(
        self,
        topic: str,
        message: BaseModel,
        key: UUID | str,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """Publish (with `headers`, if given) and wait for the broker's acknowledgement."""
        value = message.model_dump_json().encode()
        await self.producer.send_and_wait(topic, value, key=str(key).encode(), headers=headers)

    def traced(self, case_id: UUID) -> list[tuple[str, str, str | None]]:
        """(topic, type, request id) of each recorded message about the case."""
        wanted = str(case_id)
        return [
            (topic, str(value.get("type")), request_id)
            for (topic, value), request_id in zip(self.records, self.request_ids, strict=False)
            if _case_of(value) == wanted
        ]

    async def submit(self, event: CaseSubmitted) -> None:
        """Publish a CaseSubmitted as intake would."""
        await self.send(self.topics.case_events, event, event.case_id)

    async def command(self, command: Any) -> None:
        """Publish a command as intake or the staff API would."""
        await self.send(self.topics.case_commands, command, command.case_id)

    async def enlist(self, member: StaffMember) -> None:
        """Publish a staff member on the directory topic and wait until routing knows them
        (the workflow refuses staff it does not know)."""
        upsert = StaffUpserted(staff=member)
        await self.send(self.topics.directory, upsert, directory_key(upsert))
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            self.settings.mongo_url.get_secret_value()
        )
        try:
            staff = client[self.settings.mongo_database]["dir_staff"]
            await self.wait_async(lambda: staff.find_one({"_id": member.id}), f"{member.id}")
        finally:
            await client.close()

    async def wait_async(
        self, find: Callable[[], Awaitable[Any]], what: str, within: float = 60.0
    ) -> None:
        """Wait until `find()` returns something, failing with `what` after `within` s."""
        deadline = time.monotonic() + within
        while await find() is None:
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}")
            await asyncio.sleep(0.1)

    def of_case(self, case_id: UUID, type_: str | None = None) -> list[dict[str, Any]]:
        """Recorded messages about one case, in arrival order."""
        wanted = str(case_id)
        found = [v for _, v in self.records if _case_of(v) == wanted]
        return [v for v in found if type_ is None or v.get("type") == type_]

    def topics_of(self, case_id: UUID, type_: str) -> list[str]:
        """Topics on which messages of `type_` about the case were recorded."""
        wanted = str(case_id)
        return [t for t, v in self.records if _case_of(v) == wanted and v.get("type") == type_]

    async def wait(
        self, check: Callable[[], bool], within: float = 60.0, what: str = "messages"
    ) -> None:
        """Wait until `check()` holds, failing with `what` after `within` seconds."""
        deadline = time.monotonic() + within
        while not check():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}")
            await asyncio.sleep(0.05)

    async def wait_for(
        self, case_id: UUID, type_: str, count: int = 1, within: float = 60.0
    ) -> list[dict[str, Any]]:
        """Wait until `count` messages of `type_` about the case were recorded."""
        await self.wait(
            lambda: len(self.of_case(case_id, type_)) >= count, within, f"{count} {type_}"
        )
        return self.of_case(case_id, type_)


def _case_of(value: dict[str, Any]) -> str | None:
    return value.get("case_id") or (value.get("item") or {}).get("case_id")


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
async def routing_settings(stack: devstack.StackSettings) -> AsyncIterator[Settings]:
    """Settings under a unique topic namespace and database, both removed at the end."""
    suffix = uuid4().hex[:8]
    settings = Settings(
        kafka_bootstrap_servers=stack.kafka_bootstrap,
        mongo_url=stack.mongo_url,
        topic_namespace=f"t{suffix}",
        mongo_database=f"routing_t{suffix}",
        timer_interval_seconds=3600.0,
        poll_timeout_ms=50,
    )
    yield settings
    await _forget(settings)


@pytest.fixture(scope="session")
def clock() -> FixedClock:
    """The engine's and timers' clock; tests set it."""
    return FixedClock(datetime(2026, 11, 20, 16, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
async def routing_app(routing_settings: Settings, clock: FixedClock) -> AsyncIterator[FastAPI]:
    """The routing service in this process, running its lifespan against the real stack."""
    app = create_app(routing_settings, clock=clock)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def bus(routing_settings: Settings, routing_app: FastAPI) -> AsyncIterator[Bus]:
    """A producer and a read_committed recorder on the routing topics."""
    bus = Bus(routing_settings)
    await bus.start()
    await bus.enlist(KELLY)
    yield bus
    await bus.stop()


@pytest.fixture(scope="session")
async def api(routing_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app."""
    transport = httpx.ASGITransport(app=routing_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://routing") as client:
        yield client


class RoutingProcess:
    """`python -m routing` as a real subprocess with its own port, namespace and database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        """Environment pointing the process at the stack and this test's namespace."""
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.settings.kafka_bootstrap_servers,
            "MONGO_URL": self.settings.mongo_url.get_secret_value(),
            "TOPIC_NAMESPACE": self.settings.topic_namespace,
            "ROUTING_PORT": str(self.port),
            "ROUTING_MONGO_DATABASE": self.settings.mongo_database,
            "ROUTING_POLL_TIMEOUT_MS": "50",
            "ROUTING_BATCH_MAX": "10",
            "LOG_LEVEL": "WARNING",
        }

    async def start(self, within: float = 120.0, **env: str) -> None:
        """Start (with extra environment) and wait for /readyz."""
        self._spawn(env)
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=1) as client:
            while time.monotonic() < deadline:
                try:
                    response = await client.get(f"http://127.0.0.1:{self.port}/readyz")
                    if response.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError("routing did not become ready")

    def _spawn(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "routing"], env={**self.env(), **env}, stderr=subprocess.DEVNULL
        )

    async def exited(self, within: float = 120.0) -> int:
        """Wait for the process to end by itself; its exit code."""
        deadline = time.monotonic() + within
        while self.proc is not None and self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise RuntimeError("routing did not exit")
            await asyncio.sleep(0.1)
        assert self.proc is not None
        return int(self.proc.returncode)

    def kill(self) -> None:
        """SIGKILL, no goodbye."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def routing_process(
    stack: devstack.StackSettings,
) -> Iterator[Callable[[Settings], RoutingProcess]]:
    """Factory of routing subprocesses; every one is killed at the end."""
    started: list[RoutingProcess] = []

    def make(settings: Settings) -> RoutingProcess:
        process = RoutingProcess(settings)
        started.append(process)
        return process

    yield make
    for process in started:
        process.kill()


@pytest.fixture
async def fresh_settings(stack: devstack.StackSettings) -> AsyncIterator[Settings]:
    """Settings under a namespace and database of this test alone, removed afterwards."""
    suffix = uuid4().hex[:8]
    settings = Settings(
        kafka_bootstrap_servers=stack.kafka_bootstrap,
        mongo_url=stack.mongo_url,
        topic_namespace=f"t{suffix}",
        mongo_database=f"routing_t{suffix}",
    )
    yield settings
    await _forget(settings)


async def _forget(settings: Settings) -> None:
    where = (settings.kafka_bootstrap_servers, settings.mongo_url.get_secret_value())
    await forget_namespace(*where, settings.topic_namespace, settings.mongo_database)


@pytest.fixture
async def make_bus() -> AsyncIterator[Callable[[Settings], Awaitable[Bus]]]:
    """Factory of started buses; all are stopped at the end."""
    buses: list[Bus] = []

    async def make(settings: Settings) -> Bus:
        bus = Bus(settings)
        await bus.start()
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        await bus.stop()


@pytest.fixture(scope="session")
def new_case() -> Callable[..., CaseSubmitted]:
    """Builds a CaseSubmitted."""
    return submitted
