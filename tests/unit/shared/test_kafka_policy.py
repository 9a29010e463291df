"""The dead-letter policy: poison to the DLQ, unknown types skipped, transient faults retried."""

from typing import Any, cast
from uuid import uuid4

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from shared.enums import Department
from shared.events import AnyCaseEvent, CaseRouted
from shared.kafka import DeadLetterPolicy, Transient, consumer_options, make_broker
from shared.settings import InfraSettings

TOPIC = "case.events"


def _broker(policy: DeadLetterPolicy) -> tuple[KafkaBroker, list[Any], list[dict[str, str]]]:
    broker = make_broker(InfraSettings(), client_id="test", policy=policy)
    handled: list[Any] = []
    dead: list[dict[str, str]] = []

    @broker.subscriber(TOPIC, **consumer_options("test"))  # type: ignore[untyped-decorator]
    async def on_event(event: AnyCaseEvent) -> None:
        handled.append(event)

    @broker.subscriber(f"{TOPIC}.dlq", group_id="dlq-reader")
    async def on_dead(msg: KafkaMessage) -> None:
        dead.append(dict(msg.headers))

    return broker, handled, dead


def _routed() -> dict[str, Any]:
    event = CaseRouted(case_id=uuid4(), department=Department.TRAINING, billable=True, queue="q")
    return event.model_dump(mode="json")


async def test_valid_event_is_handled_and_not_dead_lettered() -> None:
    """A well-formed event reaches the handler."""
    policy = DeadLetterPolicy(group="test")
    broker, handled, dead = _broker(policy)
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(_routed(), TOPIC)
    assert [type(e) for e in handled] == [CaseRouted]
    assert dead == []


async def test_unknown_event_type_is_skipped() -> None:
    """A type added after this reader was built is neither handled nor dead-lettered."""
    policy = DeadLetterPolicy(group="test")
    broker, handled, dead = _broker(policy)
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish({**_routed(), "type": "case.added_later"}, TOPIC)
    assert handled == []
    assert dead == []


async def test_malformed_event_goes_to_the_dlq_with_its_reason() -> None:
    """A poison message is published to <topic>.dlq with the error and where it came from."""
    policy = DeadLetterPolicy(group="test")
    broker, handled, dead = _broker(policy)
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish({**_routed(), "case_id": "not-a-uuid"}, TOPIC)
    assert handled == []
    assert len(dead) == 1
    assert dead[0]["x-original-topic"] == TOPIC
    assert dead[0]["x-consumer-group"] == "test"
    assert "case_id" in dead[0]["x-error"]


async def test_transient_fault_is_retried_then_succeeds() -> None:
    """A handler that fails transiently twice is called again and its message not lost."""
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise Transient("dependency down")
        return "done"

    policy = DeadLetterPolicy(group="test", attempts=5, base_delay=0.001)
    assert await policy.run(flaky, _fake_message()) == "done"
    assert calls == 3


async def test_transient_fault_that_persists_is_raised_for_redelivery() -> None:
    """After the last attempt the fault propagates, so the consumer seeks back."""

    async def down() -> None:
        raise ConnectionError("still down")

    policy = DeadLetterPolicy(group="test", attempts=2, base_delay=0.001)
    with pytest.raises(ConnectionError):
        await policy.run(down, _fake_message())
    assert policy.dead_lettered == 0


def _fake_message() -> StreamMessage[Any]:
    """Only `raw_message` and `body` are read on the transient path."""
    return cast("StreamMessage[Any]", _FakeMessage())


class _FakeMessage:
    raw_message = None
    body = b"{}"
