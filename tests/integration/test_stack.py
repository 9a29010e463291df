"""The local stack for real: Mongo over the wire, mail through the sink, Kafka across a restart."""

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
import pymongo
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

import devstack
from shared.kafka import TopicSpec, ensure_topics, make_broker
from shared.mongo import mongo_client
from shared.settings import InfraSettings


def infra_settings(stack: devstack.StackSettings) -> InfraSettings:
    """The project's settings object, pointed at this stack."""
    return InfraSettings(
        kafka_bootstrap_servers=stack.kafka_bootstrap,
        mongo_url=stack.mongo_url,
        smtp_host=stack.smtp_host,
        smtp_port=stack.smtp_port,
    )


async def test_mongo_document_round_trip(stack: devstack.StackSettings) -> None:
    client = mongo_client(infra_settings(stack))
    collection = client["devstack_tests"][f"roundtrip_{uuid.uuid4().hex[:12]}"]
    doc_id = uuid.uuid4().hex
    try:
        await collection.insert_one({"_id": doc_id, "title": "over the wire", "tags": ["a", "b"]})
        found = await collection.find_one({"_id": doc_id})
        assert found == {"_id": doc_id, "title": "over the wire", "tags": ["a", "b"]}

        # A second, independent connection sees the committed write too.
        other: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            stack.mongo_url, serverSelectionTimeoutMS=5000
        )
        with other:
            again = other["devstack_tests"][collection.name].find_one({"_id": doc_id})
        assert again is not None
        assert again["title"] == "over the wire"
    finally:
        await collection.drop()
        await client.close()


async def test_mail_reaches_the_sink_and_its_api(stack: devstack.StackSettings) -> None:
    token = uuid.uuid4().hex[:12]
    recipient = f"agent-{token}@example.test"
    subject = f"Case {token} was updated"
    body = f"Hello,\nyour case {token} has a new reply.\n"
    message = EmailMessage()
    message["From"] = "support@example.test"
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content(body)

    await aiosmtplib.send(message, hostname=stack.smtp_host, port=stack.smtp_port, timeout=10)

    # The sink stores durably before replying 250, so the message is listed right away.
    async with httpx.AsyncClient(base_url=stack.mailbox_url, timeout=10) as http:
        listing = await http.get("/api/messages", params={"to": recipient})
        assert listing.status_code == 200
        entries = listing.json()
        assert [e["subject"] for e in entries] == [subject]
        assert entries[0]["rcpt_tos"] == [recipient]
        assert entries[0]["mail_from"] == "support@example.test"

        detail = await http.get(f"/api/messages/{entries[0]['id']}")
        assert detail.status_code == 200
        data = detail.json()
        assert data["subject"] == subject
        assert data["text"].replace("\r\n", "\n") == body
        assert data["html"] is None
        assert {"name": "To", "value": recipient} in data["headers"]

        raw = await http.get(f"/api/messages/{entries[0]['id']}/raw")
        assert raw.status_code == 200
        assert f"Subject: {subject}" in raw.text

        page = await http.get("/")
        assert page.status_code == 200
        assert subject in page.text


async def _poll(consumer: AIOKafkaConsumer, seconds: float, marker: str) -> list[ConsumerRecord]:
    """Fetch for ``seconds``; return the records carrying ``marker``."""
    found: list[ConsumerRecord] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        batches = await consumer.getmany(timeout_ms=500)
        for records in batches.values():
            found += [r for r in records if r.value is not None and marker.encode() in r.value]
    return found


async def test_kafka_message_survives_a_broker_restart_and_is_consumed_once(
    stack: devstack.StackSettings,
) -> None:
    token = uuid.uuid4().hex[:12]
    topic = f"devstack-test.restart-{token}"
    group = f"devstack-test-{token}"
    await ensure_topics(stack.kafka_bootstrap, [TopicSpec(topic, partitions=3)])

    broker = make_broker(infra_settings(stack), client_id=f"devstack-test-{token}")
    await broker.connect()
    try:
        await broker.publish({"marker": token, "kind": "restart-test"}, topic=topic, key=b"case-1")
    finally:
        await broker.stop()

    # Restart the broker (blocking helpers: keep them off the event loop).
    assert await asyncio.to_thread(devstack.stop_part, "kafka")
    assert await asyncio.to_thread(devstack.start_part, "kafka")

    def consumer() -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            topic,
            bootstrap_servers=stack.kafka_bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            request_timeout_ms=20_000,
        )

    first = consumer()
    await first.start()
    try:
        deadline = time.monotonic() + 90
        received: list[ConsumerRecord] = []
        while not received and time.monotonic() < deadline:
            received = await _poll(first, 1.0, token)
        received += await _poll(first, 2.0, token)  # nothing more may follow
        assert len(received) == 1, f"expected exactly one delivery, got {len(received)}"
        assert json.loads(received[0].value or b"") == {"marker": token, "kind": "restart-test"}
        assert received[0].key == b"case-1"
        await first.commit()
    finally:
        await first.stop()

    second = consumer()
    await second.start()
    try:
        again = await _poll(second, 5.0, token)
        assert again == [], "the committed message was delivered a second time to the group"
        delivered = TopicPartition(topic, received[0].partition)
        ends = await second.end_offsets([delivered])
        assert ends[delivered] == received[0].offset + 1
        assert await second.committed(delivered) == ends[delivered]
    finally:
        await second.stop()


def test_status_json_lists_every_infra_part_healthy(stack: devstack.StackSettings) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devstack", "status", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr
    parts = {p["name"]: p for p in json.loads(result.stdout)["parts"]}
    expected = {
        "kafka": stack.kafka_bootstrap,
        "mongo": stack.mongo_url,
        "smtp": stack.mailbox_url,
    }
    for name, url in expected.items():
        assert parts[name]["healthy"] is True, parts[name]
        assert parts[name]["state"] == "healthy", parts[name]
        assert isinstance(parts[name]["pid"], int)
        assert parts[name]["url"] == url
