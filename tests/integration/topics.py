"""Reading a real topic from its start, without a consumer group (tests' own checks)."""

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord


async def read_topic(
    bootstrap: str, topic: str, wait_ms: int = 3_000
) -> list[ConsumerRecord[bytes, bytes]]:
    """The records one fetch of `wait_ms` returns from the start of `topic`."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=wait_ms)
    finally:
        await consumer.stop()
    return [record for records in batches.values() for record in records]
