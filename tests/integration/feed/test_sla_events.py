"""SLA events on case.events, on the real stack: the feed reads past them and shows nothing."""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI

from feed.settings import Settings
from shared.enums import Department, Priority
from shared.events import SlaBreached, SlaWarning
from tests.integration.feed.conftest import Bus, auth, directory_events, eventually, generate_case
from tests.integration.topics import read_topic

pytestmark = pytest.mark.integration
CASE = generate_case(7, "acc-sla-feed", 4000007)


async def _committed(settings: Settings) -> dict[int, int]:
    """The feed group's committed offsets on case.events, per partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, group_id=settings.group_id
    )
    await consumer.start()
    try:
        topic = settings.topics.case_events
        await consumer.topics()  # fetches the metadata
        parts = consumer.partitions_for_topic(topic) or set()
        found = {p: await consumer.committed(TopicPartition(topic, p)) for p in parts}
        return {p: offset for p, offset in found.items() if offset is not None}
    finally:
        await consumer.stop()


async def test_an_sla_breach_leaves_the_case_unchanged_and_the_feed_moves_on(
    bus: Bus,
    http: httpx.AsyncClient,
    tokens: dict[str, str],
    feed_app: FastAPI,
    feed_settings: Settings,
) -> None:
    """A warning and a breach after a case's history: the case and its feed read the same as
    before them, nothing is dead-lettered, and the group's offset passes them."""
    await bus.directory(directory_events(tokens))
    await bus.case_events(CASE.events)
    staff = auth(tokens["staff"])

    async def projected() -> bool:
        feed = await http.get(f"/cases/{CASE.number}/feed", headers=staff)
        return feed.status_code == 200 and len(feed.json()["items"]) == len(CASE.events)

    await eventually(projected)
    before_case = (await http.get(f"/cases/{CASE.number}", headers=staff)).json()
    before_feed = (await http.get(f"/cases/{CASE.number}/feed", headers=staff)).json()
    marks: dict[str, Any] = {
        "case_id": CASE.case_id,
        "target": "first_response",
        "due_at": CASE.last_modified + timedelta(hours=1),
        "priority": Priority.HIGH,
        "department": Department.CAMPUS_SUPPORT,
    }
    warning = SlaWarning(**marks, percent_elapsed=75, occurred_at=CASE.last_modified)
    breach = SlaBreached(**marks, occurred_at=CASE.last_modified + timedelta(hours=1))
    await bus.case_events([warning, breach])
    ends = await _ends(feed_settings)

    async def passed() -> bool:
        committed = await _committed(feed_settings)
        return all(committed.get(p, -1) >= end for p, end in ends.items())

    await eventually(passed)
    after_case = (await http.get(f"/cases/{CASE.number}", headers=staff)).json()
    after_feed = (await http.get(f"/cases/{CASE.number}/feed", headers=staff)).json()
    assert after_case == before_case
    assert after_feed == before_feed
    assert after_case["last_modified"] == before_case["last_modified"]
    dlq = f"{feed_settings.topics.case_events}.dlq"
    assert await read_topic(feed_settings.kafka_bootstrap_servers, dlq) == []


async def _ends(settings: Settings) -> dict[int, int]:
    """The end offset of every partition of case.events that holds records."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        topic = settings.topics.case_events
        await consumer.topics()  # fetches the metadata
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()]
        ends = await consumer.end_offsets(parts)
        return {tp.partition: end for tp, end in ends.items() if end > 0}
    finally:
        await consumer.stop()
