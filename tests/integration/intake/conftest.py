"""Fixtures for intake on the real stack: the app in-process, seed tokens, a topic reader."""

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

import devstack
from devstack.cleanup import forget_namespace
from intake.app import create_app
from intake.settings import REPO_SEED, Settings
from shared.directory import hash_token
from shared.enums import ActorKind, Status
from shared.events import StatusChanged
from shared.messages import Actor
from shared.topics import Topics

ZACK = "local-dev-only-zack-morris-token"  # Authorized Support, Bayside
LISA = "local-dev-only-lisa-turtle-token"  # Technical, Bayside
SCREECH = "local-dev-only-screech-powers-token"  # Read-Only, Bayside
SLATER = "local-dev-only-ac-slater-token"  # Implementation, Bayside and Ridgemont
SPICOLI = "local-dev-only-jeff-spicoli-token"  # Authorized Support, Ridgemont
STAFF = "local-dev-only-staff-support-token"


def auth(token: str) -> dict[str, str]:
    """Bearer header for a seed token."""
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def body_for(case_type: str) -> dict[str, Any]:
    """A valid submission of each case type (dates relative to today)."""
    today = datetime.now(ZoneInfo("America/Chicago")).date()
    soon, past = str(today + timedelta(days=10)), str(today - timedelta(days=3))
    common = {"subject": f"{case_type} test", "description": "Who, what, where, when."}
    details: dict[str, dict[str, Any]] = {
        "Ask a Question": {"module": "Calendar (terms, periods, days)"},
        "Application Issue": {
            "application_type": "Campus Application",
            "module": "Grade Book",
            "steps_to_reproduce": "1. Log in 2. Click Post",
            "expected_results": "Post button active",
            "who_is_impacted": "English Lit teachers",
            "issue_began": past,
        },
        "Data Restore": {
            "module": "Enrollment",
            "approximate_date_of_loss": past,
            "reason_for_restore": "Deleted by mistake",
            "written_permission": True,
        },
        "Modify Support Contacts": {
            "request_type": "Add",
            "contact_first_name": "Kelly",
            "contact_last_name": "Kapowski",
            "contact_email": "kelly@bayside.example",
            "contact_title": "Counselor",
            "contact_primary_phone": "555-0199",
            "contact_type": "Technical",
            "areas_of_responsibility": ["SIS"],
        },
        "Report an Outage": {"error_message": "502 Bad Gateway"},
        "Server Issue": {"module": "Hosting", "issue_began": past},
        "Server Access": {"request_type": "SQL Server", "schema_training_completed": True},
        "Request Training": {"request_type": "Grade Book", "preferred_training_date": soon},
        "Request Consulting": {"preferred_consult_date": soon},
        "Request Technical Services": {
            "services_type": "Custom Report, Report Card or Transcript",
            "module": "Reports",
            "desired_completion_date": soon,
        },
    }
    return {"case_type": case_type, **common, **details[case_type]}


def settings_for(stack: devstack.StackSettings, namespace: str, **extra: Any) -> Settings:
    """Intake settings on the real stack under a private namespace and database."""
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": stack.kafka_bootstrap,
        "mongo_url": stack.mongo_url,
        "topic_namespace": namespace,
        "mongo_database": f"intake_{namespace}",
        "seed_file": str(REPO_SEED),
        "rate_per_second": 10_000.0,
        "rate_burst": 10_000,
    }
    return Settings(**{**values, **extra})


@pytest.fixture(scope="session")
async def namespace(stack: devstack.StackSettings) -> AsyncIterator[str]:
    """A topic namespace and database suffix private to this session, removed at its end.

    The shared broker slows down with every partition left behind (its heap fills and full
    collections stall every producer), so the session deletes what it created.
    """
    name = "t" + uuid.uuid4().hex[:8]
    yield name
    await forget_namespace(stack.kafka_bootstrap, stack.mongo_url, name, f"intake_{name}")


@pytest.fixture(scope="session")
def intake_settings(stack: devstack.StackSettings, namespace: str) -> Settings:
    """Settings of the in-process intake."""
    return settings_for(stack, namespace)


@pytest.fixture(scope="session")
async def intake_app(intake_settings: Settings) -> AsyncIterator[FastAPI]:
    """Intake with its lifespan running against the real Kafka and Mongo."""
    app = create_app(intake_settings)
    async with app.router.lifespan_context(app):
        await seeded(app)
        yield app


async def seeded(app: FastAPI) -> None:
    """Wait until the seed's tokens are projected from the directory topic.

    Asked of the collection, not through auth: an early miss would be cached for 30 s.
    """
    tokens = app.state.intake.directory.tokens
    wanted = {hash_token(t) for t in (ZACK, LISA, SCREECH, SLATER, SPICOLI, STAFF)}
    for _ in range(600):
        if await tokens.count_documents({"sha256": {"$in": sorted(wanted)}}) == len(wanted):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the directory seed never reached intake's store")


@pytest.fixture(scope="session")
async def client(intake_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP client of the in-process intake."""
    transport = httpx.ASGITransport(app=intake_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
        yield http


async def read_topic(bootstrap: str, topic: str) -> list[tuple[str, dict[str, Any]]]:
    """Every (key, JSON value) on `topic`, from the beginning to its current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        count = next(
            s.partitions for s in Topics(topic.split(".")[0]).all_specs() if s.name == topic
        )
        partitions = [TopicPartition(topic, p) for p in range(count)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[tuple[str, dict[str, Any]]] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                found += [(r.key.decode() if r.key else "", json.loads(r.value)) for r in records]
        return found
    finally:
        await consumer.stop()


async def case_events(settings: Settings, case_id: str | None = None) -> list[dict[str, Any]]:
    """Events on the namespace's case.events (of one case, if given)."""
    records = await read_topic(settings.kafka_bootstrap_servers, settings.topics.case_events)
    return [value for key, value in records if case_id is None or key == case_id]


async def case_commands(settings: Settings, case_id: str) -> list[dict[str, Any]]:
    """Commands on the namespace's case.commands for one case."""
    records = await read_topic(settings.kafka_bootstrap_servers, settings.topics.case_commands)
    return [value for key, value in records if key == case_id]


async def set_status(http: httpx.AsyncClient, settings: Settings, case_id: str, to: Status) -> None:
    """Publish a StatusChanged as routing would, and wait until intake has applied it."""
    event = StatusChanged(
        case_id=uuid.UUID(case_id),
        from_status=Status.PENDING_CUSTOMER_VERIFICATION,
        to_status=to,
        actor=Actor(kind=ActorKind.STAFF, id="staff-support", name="Pat"),
    )
    async with KafkaBroker(settings.kafka_bootstrap_servers) as broker:
        await broker.publish(
            event.model_dump(mode="json"), topic=settings.topics.case_events, key=case_id.encode()
        )
    intake = http._transport.app.state.intake  # type: ignore[attr-defined]
    for _ in range(100):
        state = await intake.cases.get(case_id)
        if state.status is to:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"intake never applied {to} to {case_id}")


async def submit(http: httpx.AsyncClient, token: str = ZACK, **overrides: Any) -> dict[str, Any]:
    """Submit a valid Ask a Question case and return the 201 answer."""
    answer = await http.post(
        "/cases", json={**body_for("Ask a Question"), **overrides}, headers=auth(token)
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


class Kit:
    """The helpers above, handed to tests as a fixture (test modules cannot import conftest)."""

    ZACK, LISA, SCREECH, SLATER, SPICOLI, STAFF = ZACK, LISA, SCREECH, SLATER, SPICOLI, STAFF
    auth = staticmethod(auth)
    body_for = staticmethod(body_for)
    free_port = staticmethod(free_port)
    settings_for = staticmethod(settings_for)
    read_topic = staticmethod(read_topic)
    case_events = staticmethod(case_events)
    case_commands = staticmethod(case_commands)
    set_status = staticmethod(set_status)
    submit = staticmethod(submit)


@pytest.fixture(scope="session")
def kit() -> type[Kit]:
    """Test helpers."""
    return Kit
