"""Kafka ingest of incident.events into the local store; imported only by the background task."""

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker

from shared.kafka import dead_letter_record, ensure_topics, make_broker
from shared.topics import TopicSpec
from status_board.errors import NoticeUnshowable
from status_board.handlers import CHANGES, Outcome, on_notice_record
from status_board.service import Board
from status_board.settings import Settings

log = logging.getLogger("status_board.ingest")


async def retry_forever(name: str, attempt: Callable[[], Awaitable[None]], ceiling: float) -> None:
    """Run `attempt` again and again; Kafka being away is waited out with capped backoff."""
    delay = 0.5
    while True:
        try:
            await attempt()
            delay = 0.5
        except Exception as exc:
            log.warning("%s: Kafka unavailable (%r); retrying in %.1f s", name, exc, delay)
        await asyncio.sleep(delay)
        delay = min(ceiling, delay * 2)


async def ensure_notice_topics(settings: Settings) -> str:
    """Create incident.events (compacted) and its DLQ if missing; return the topic name."""
    topic = settings.topics.incident_events
    specs = [TopicSpec(topic, partitions=1, compacted=True), TopicSpec(f"{topic}.dlq", 1)]
    await ensure_topics(settings.kafka_bootstrap_servers, specs)
    return topic


async def run_ingest(board: Board) -> None:
    """Consume incident.events into the store, for ever, with this replica's own group."""
    await retry_forever("ingest", lambda: _consume(board), board.settings.retry_max_s)


async def _consume(board: Board) -> None:
    settings = board.settings
    topic = await ensure_notice_topics(settings)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.group_id,
        client_id=settings.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=10_000,
    )
    dead_letters = make_broker(settings, client_id=f"{settings.group_id}.dlq")
    await consumer.start()
    try:
        await dead_letters.start()
        await _follow(board, consumer, await _assign(board, consumer, topic), dead_letters)
    finally:
        await consumer.stop()
        await dead_letters.stop()


async def _partitions(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = sorted(int(part["partition"]) for part in described["partitions"])
    if described["error_code"] or not partitions:
        raise LookupError(f"topic {topic} is not ready (error {described['error_code']})")
    return partitions


async def _assign(board: Board, consumer: Any, topic: str) -> list[Any]:
    partitions = await _partitions(board.settings.kafka_bootstrap_servers, topic)
    assigned = [TopicPartition(topic, partition) for partition in partitions]
    consumer.assign(assigned)
    if board.synced_at is None:
        await consumer.seek_to_beginning(*assigned)
    log.info("ingest reading %s as group %s", topic, board.settings.group_id)
    return assigned


async def _follow(board: Board, consumer: Any, assigned: list[Any], dlq: KafkaBroker) -> None:
    loop = asyncio.get_running_loop()
    next_beat = 0.0
    while True:
        batch = await consumer.getmany(*assigned, timeout_ms=1000, max_records=500)
        records = [record for part in batch.values() for record in part]
        if records:
            await _handle(board, records, dlq)
            await consumer.commit()
            board.heard()
        if loop.time() >= next_beat:
            await _beat(board, consumer, assigned)
            next_beat = loop.time() + board.settings.heartbeat_s


async def _beat(board: Board, consumer: Any, assigned: list[Any]) -> None:
    """Ask Kafka for the end offsets: it answered (heard), and are we caught up?"""
    ends = await asyncio.wait_for(consumer.end_offsets(assigned), timeout=10)
    board.heard()
    positions = [await consumer.position(partition) for partition in assigned]
    if all(position >= ends[tp] for position, tp in zip(positions, assigned, strict=True)):
        board.caught_up()


async def _handle(board: Board, records: list[Any], dlq: KafkaBroker) -> None:
    outcomes = Counter([await _one(board, record, dlq) for record in records])
    for outcome, count in outcomes.items():
        board.metrics.ingested.labels(outcome.value).inc(count)
    log.info("ingested %d records", len(records), extra={"outcomes": dict(outcomes)})
    if CHANGES.intersection(outcomes):
        board.refresh()


async def _one(board: Board, record: Any, dlq: KafkaBroker) -> Outcome:
    try:
        return on_notice_record(board, record.key, record.value)
    except (ValueError, OverflowError, NoticeUnshowable) as exc:
        # ValueError covers pydantic's ValidationError and UnicodeDecodeError: the record
        # itself is bad, so no retry can help; it goes to the DLQ and the partition moves on.
        await dead_letter_record(dlq, record, board.settings.group_id, exc)
        return Outcome.POISON
