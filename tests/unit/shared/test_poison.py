"""poison_to: one record of a batch goes to `<topic>.dlq` untouched, with where and why."""

from dataclasses import dataclass, field

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from shared.kafka import make_broker, poison_to
from shared.settings import InfraSettings


@dataclass
class FakeRecord:
    """A consumed Kafka record as a batch consumer sees it."""

    topic: str = "case.events"
    partition: int = 3
    offset: int = 41
    key: bytes | None = b"case-1"
    value: bytes | None = b'{"type": "case.broken"}'
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class Dead:
    """What the dead-letter topic received."""

    body: bytes
    key: bytes | None
    headers: dict[str, str]


def _broker() -> tuple[KafkaBroker, list[Dead]]:
    broker = make_broker(InfraSettings(), client_id="poison-test")
    dead: list[Dead] = []

    @broker.subscriber("case.events.dlq")
    async def on_dead(message: KafkaMessage) -> None:
        raw = message.raw_message
        dead.append(Dead(message.body, getattr(raw, "key", None), dict(message.headers)))

    return broker, dead


async def test_a_batch_record_is_dead_lettered_untouched_with_its_reason() -> None:
    """The record's value and key reach case.events.dlq with its topic, place, group and error."""
    broker, dead = _broker()
    poison = poison_to(broker, "feed")
    async with TestKafkaBroker(broker):
        await poison(FakeRecord(), ValueError("case_id is not a UUID"))
    assert len(dead) == 1
    assert dead[0].body == b'{"type": "case.broken"}'
    assert dead[0].key == b"case-1"
    headers = dead[0].headers
    assert headers["x-original-topic"] == "case.events"
    assert headers["x-original-partition"] == "3"
    assert headers["x-original-offset"] == "41"
    assert headers["x-consumer-group"] == "feed"
    assert headers["x-error"] == "ValueError: case_id is not a UUID"


async def test_a_dead_letter_keeps_the_request_id_of_its_record() -> None:
    """The record's x-request-id is carried onto the dead letter."""
    broker, dead = _broker()
    record = FakeRecord(headers=[("x-request-id", b"req-77")])
    async with TestKafkaBroker(broker):
        await poison_to(broker, "notify")(record, ValueError("bad"))
    assert [d.headers.get("x-request-id") for d in dead] == ["req-77"]


async def test_without_a_record_the_error_is_raised_again() -> None:
    """A message consumed on its own is left to the consumer's policy: nothing is published."""
    broker, dead = _broker()
    error = ValueError("bad notice")
    async with TestKafkaBroker(broker):
        with pytest.raises(ValueError, match="bad notice") as raised:
            await poison_to(broker, "notify")(None, error)
    assert raised.value is error
    assert dead == []
