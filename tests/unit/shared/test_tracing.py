"""The request id: which ids are taken, Kafka headers, log lines and FastStream passing it on."""

import io
import json
import logging
import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from shared import tracing
from shared.kafka import DeadLetterPolicy, dead_letter_record, make_broker
from shared.logs import configure_logging
from shared.settings import InfraSettings

HEX = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize("value", [HEX, "req-7", "proxy.a:1_b", "x" * 128])
def test_plain_ids_are_taken(value: str) -> None:
    """Letters, digits and . _ : - up to 128 characters are a caller's own id."""
    assert tracing.accepted(value) == value


@pytest.mark.parametrize(
    "value", [None, "", "a b", "x\r\nBcc: all@example.com", "x" * 129, "<script>", "id;drop"]
)
def test_other_ids_are_refused(value: str | None) -> None:
    """Spaces, line breaks, quotes and over-long values are never taken as an id."""
    assert tracing.accepted(value) is None


def test_new_ids_are_32_hex_digits_and_differ() -> None:
    """A fresh id is a plain 32-digit hex string, never the same twice."""
    first, second = tracing.new_id(), tracing.new_id()
    assert re.fullmatch("[0-9a-f]{32}", first)
    assert first != second


def test_bound_sets_and_restores_the_current_id() -> None:
    """Inside `bound` the id is current; after it, the one before (none) again."""
    assert tracing.current() is None
    with tracing.bound(HEX):
        assert tracing.current() == HEX
        with tracing.bound(None):
            assert tracing.current() is None
        assert tracing.current() == HEX
    assert tracing.current() is None


def test_kafka_headers_carry_the_current_id() -> None:
    """A record published while an id is current gets `x-request-id`; none without one."""
    assert tracing.kafka_headers() == []
    with tracing.bound(HEX):
        assert tracing.kafka_headers() == [("x-request-id", HEX.encode())]
    assert tracing.kafka_headers("req-7") == [("x-request-id", b"req-7")]


def test_from_kafka_reads_a_plain_id_only() -> None:
    """The header is found in any case, as bytes or text; an unplain value is ignored."""
    assert tracing.from_kafka([("content-type", b"application/json")]) is None
    assert tracing.from_kafka([("X-Request-ID", HEX.encode())]) == HEX
    assert tracing.from_kafka([("x-request-id", "req-7")]) == "req-7"
    assert tracing.from_kafka([("x-request-id", b"a\r\nb")]) is None
    assert tracing.from_kafka(None) is None


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """configure_logging's handler, writing to a buffer; the root logger restored after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("intake")
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    yield buffer
    root.handlers[:], root.level = handlers, level


def test_every_line_logged_under_an_id_carries_it(json_lines: io.StringIO) -> None:
    """configure_logging adds `request_id` to each line logged while one is current."""
    log = logging.getLogger("intake.test")
    with tracing.bound(HEX):
        log.info("stored case %s", 1000003)
    log.info("after the request")
    during, after = (json.loads(line) for line in json_lines.getvalue().splitlines())
    assert during["request_id"] == HEX
    assert during["msg"] == "stored case 1000003"
    assert "request_id" not in after


async def test_faststream_binds_the_consumed_id_and_passes_it_on() -> None:
    """A handler runs under its record's id, and what it publishes carries the same id."""
    broker = make_broker(InfraSettings(), client_id="tracing-test")
    seen: dict[str, Any] = {}

    @broker.subscriber("in-topic")
    async def relay(body: dict[str, Any]) -> None:
        seen["while_handling"] = tracing.current()
        await broker.publish(body, topic="out-topic")

    @broker.subscriber("out-topic")
    async def sink(body: dict[str, Any], message: KafkaMessage) -> None:
        seen["out"] = (body, message.headers.get("x-request-id"))

    async with TestKafkaBroker(broker) as test:
        await test.publish({"n": 1}, topic="in-topic", headers={"x-request-id": HEX})
    assert seen["while_handling"] == HEX
    assert seen["out"] == ({"n": 1}, HEX)
    assert tracing.current() is None


async def test_a_record_without_an_id_is_handled_under_none() -> None:
    """A record with no id, or an unplain one, is handled with no current id."""
    broker: KafkaBroker = make_broker(InfraSettings(), client_id="tracing-test")
    seen: list[str | None] = []

    @broker.subscriber("plain-topic")
    async def handle(body: dict[str, Any]) -> None:
        seen.append(tracing.current())

    async with TestKafkaBroker(broker) as test:
        await test.publish({"n": 1}, topic="plain-topic")
        await test.publish({"n": 2}, topic="plain-topic", headers={"x-request-id": "a b"})
    assert seen == [None, None]


async def test_a_dead_letter_keeps_its_records_id() -> None:
    """A poison record dead-lettered by the policy carries its x-request-id to the DLQ."""
    policy = DeadLetterPolicy(group="tracing-test")
    broker = make_broker(InfraSettings(), client_id="tracing-test", policy=policy)
    dead: list[str | None] = []

    @broker.subscriber("poison-topic")
    async def handle(body: dict[str, Any]) -> None:
        raise ValueError("a defect")

    @broker.subscriber("poison-topic.dlq")
    async def dlq(body: dict[str, Any], message: KafkaMessage) -> None:
        dead.append(message.headers.get("x-request-id"))

    async with TestKafkaBroker(broker) as test:
        await test.publish({"n": 1}, topic="poison-topic", headers={"x-request-id": HEX})
    assert dead == [HEX]


async def test_a_dead_letter_of_a_batch_record_keeps_its_id() -> None:
    """dead_letter_record (one record of a batch) copies the record's id onto the DLQ record."""
    broker = make_broker(InfraSettings(), client_id="tracing-test")
    dead: list[str | None] = []

    @broker.subscriber("batch-topic.dlq")
    async def dlq(body: Any, message: KafkaMessage) -> None:
        dead.append(message.headers.get("x-request-id"))

    record = SimpleNamespace(
        topic="batch-topic", partition=0, offset=7, key=b"k", value=b"{}",
        headers=[("x-request-id", HEX.encode())],
    )  # fmt: skip
    async with TestKafkaBroker(broker):
        await dead_letter_record(broker, record, "tracing-test", ValueError("bad"))
    assert dead == [HEX]
