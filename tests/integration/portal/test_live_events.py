"""The portal's case.events reader on the real Kafka: an event of a case wakes its streams."""

import asyncio
import uuid

from aiokafka import AIOKafkaProducer
from portal.handlers import CaseEventsReader, CaseSignals

import devstack
from shared.kafka import ensure_topics
from shared.topics import TopicSpec


async def test_an_event_keyed_by_the_case_wakes_its_watchers(stack: devstack.StackSettings) -> None:
    """A record on case.events keyed by a case id sets that case's watcher, not another's."""
    topic = f"it-{uuid.uuid4().hex[:10]}.case.events"
    await ensure_topics(stack.kafka_bootstrap, [TopicSpec(topic, partitions=3)])
    signals = CaseSignals()
    reader = CaseEventsReader(stack.kafka_bootstrap, topic, signals)
    case_id, other = str(uuid.uuid4()), str(uuid.uuid4())
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    reader.start()
    try:
        with signals.watch(case_id) as woken, signals.watch(other) as elsewhere:
            # The reader starts from the end, so it sees only what comes after it is placed
            # there: send until one record of the case has arrived (bounded).
            for _ in range(120):
                await producer.send_and_wait(topic, b'{"type": "post.added"}', key=case_id.encode())
                try:
                    await asyncio.wait_for(woken.wait(), 0.5)
                    break
                except TimeoutError:
                    continue
            assert woken.is_set()
            assert not elsewhere.is_set()
    finally:
        await reader.stop()
        await producer.stop()
