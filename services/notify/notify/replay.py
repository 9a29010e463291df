"""The mail DLQ read whole for `python -m notify replay-dlq` (service.replay sends it again)."""

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from notify.models import DeadMail


async def read_all(bootstrap: str, topic: str) -> list[DeadMail]:
    """Every dead mail on `topic` up to its end when the replay started (no group, no commit:
    the topic stays the record; the sent log makes a second replay harmless)."""
    partitions = [TopicPartition(topic, p) for p in await _partitions(bootstrap, topic)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        return [_decode(r) for r in await _drain(consumer, partitions)]
    finally:
        await consumer.stop()


async def _drain(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
) -> list[ConsumerRecord[bytes, bytes]]:
    if not partitions:
        return []
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    end = await consumer.end_offsets(partitions)
    records: list[ConsumerRecord[bytes, bytes]] = []
    while await _behind(consumer, partitions, end):
        for batch in (await consumer.getmany(timeout_ms=1000)).values():
            records.extend(r for r in batch if r.offset < end[TopicPartition(r.topic, r.partition)])
    return records


async def _behind(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], end: dict[TopicPartition, int]
) -> bool:
    for partition in partitions:
        if await consumer.position(partition) < end[partition]:
            return True
    return False


async def _partitions(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for t in described if t["topic"] == topic for p in t["partitions"])


def _decode(record: ConsumerRecord[bytes, bytes]) -> DeadMail:
    return DeadMail.model_validate_json(record.value or b"{}")
