"""One request id from an HTTP submission through Kafka to the mail it causes, on the real stack."""

# Intake runs in-process (its access line is captured), notify as a child process of this
# checkout with JSON logs; Kafka, the Mongo-wire server and the SMTP sink are the local stack's.

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import SecretStr
from pymongo import AsyncMongoClient

import devstack
from devstack.cleanup import forget_namespace
from intake.app import create_app
from intake.settings import REPO_SEED, Settings
from notify.logic import Threading
from shared.directory import hash_token
from shared.kafka import ensure_topics
from shared.topics import Topics

ZACK = "local-dev-only-zack-morris-token"  # the seed's Zack Morris, Bayside
ZACK_EMAIL = "zack.morris@bayside.example"
DOMAIN = "request-id-test.invalid"
REPLY_KEY = "request-id-test-reply-key"  # signs the Message-IDs of notify's case mail


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _eventually(check: Callable[[], Awaitable[Any]], what: str, limit: float = 90.0) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` otherwise."""
    deadline = time.monotonic() + limit
    while not (result := await check()):
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        await asyncio.sleep(0.25)
    return result


@pytest.fixture
async def namespace(stack: devstack.StackSettings) -> AsyncIterator[str]:
    """Topics and databases of this test alone, removed afterwards."""
    name = "t" + uuid.uuid4().hex[:8]
    await ensure_topics(stack.kafka_bootstrap, Topics(name).all_specs())
    yield name
    await forget_namespace(stack.kafka_bootstrap, stack.mongo_url, name, f"intake_{name}")
    await forget_namespace(stack.kafka_bootstrap, stack.mongo_url, name, f"notify_{name}")


@pytest.fixture
async def intake(stack: devstack.StackSettings, namespace: str) -> AsyncIterator[httpx.AsyncClient]:
    """Intake in-process on the real Kafka and Mongo, its directory seeded."""
    settings = Settings(
        kafka_bootstrap_servers=stack.kafka_bootstrap,
        mongo_url=stack.mongo_url,
        topic_namespace=namespace,
        mongo_database=f"intake_{namespace}",
        seed_file=str(REPO_SEED),
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        tokens = app.state.intake.directory.tokens

        async def seeded() -> bool:
            return bool(await tokens.count_documents({"sha256": hash_token(ZACK)}))

        await _eventually(seeded, "the seed's tokens in intake")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield client


@pytest.fixture
def notify_log(stack: devstack.StackSettings, namespace: str, tmp_path: Path) -> Iterator[Path]:
    """`python -m notify` (this checkout's code) on the namespace, logging JSON to a file."""
    log, port = tmp_path / "notify.log", _free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
        "MONGO_URL": stack.mongo_url,
        "SMTP_HOST": stack.smtp_host,
        "SMTP_PORT": str(stack.smtp_port),
        "TOPIC_NAMESPACE": namespace,
        "NOTIFY_MONGO_DATABASE": f"notify_{namespace}",
        "NOTIFY_MAIL_DOMAIN": DOMAIN,
        "MAIL_REPLY_KEY": REPLY_KEY,
        "NOTIFY_PORT": str(port),
        "LOG_FORMAT": "json",
    }
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "notify"], env=env, stdout=out, stderr=out)
    try:
        yield log
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def _submitted_headers(bootstrap: str, topics: Topics, case_id: str) -> list[Any]:
    """The headers of the record on case.events keyed by `case_id` (none if it is not there)."""
    [spec] = [s for s in topics.all_specs() if s.name == topics.case_events]
    partitions = [TopicPartition(spec.name, p) for p in range(spec.partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    if record.key == case_id.encode():
                        return list(record.headers)
        return []
    finally:
        await consumer.stop()


def _lines(log: Path, request_id: str) -> list[dict[str, Any]]:
    """The JSON lines of a log file that carry `request_id`."""
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("request_id") == request_id]


async def test_a_submissions_request_id_reaches_kafka_notify_and_its_mail(
    stack: devstack.StackSettings,
    namespace: str,
    intake: httpx.AsyncClient,
    notify_log: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """POST /cases with X-Request-ID: the answer echoes it, intake logs one access line of
    route /cases, 201 and contact zack-morris without the token, the case.submitted record
    carries it, and notify's receipt mail arrives in the sink with it (and logs it)."""
    caplog.set_level(logging.INFO)
    request_id = uuid.uuid4().hex
    body = {
        "case_type": "Ask a Question",
        "subject": "Snow day on the calendar",
        "description": "How do I add a snow day to the Bayside calendar?",
        "module": "Calendar (terms, periods, days)",
    }
    headers = {"Authorization": f"Bearer {ZACK}", "X-Request-ID": request_id}
    answer = await intake.post("/cases", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    assert answer.headers["X-Request-ID"] == request_id
    case_id = answer.json()["case_id"]

    [line] = [r for r in caplog.records if r.name == "shared.access"]
    assert line.__dict__["method"] == "POST"
    assert line.__dict__["route"] == "/cases"
    assert line.__dict__["status"] == 201
    assert line.__dict__["caller_kind"] == "contact"
    assert line.__dict__["caller_id"] == "zack-morris"
    assert line.__dict__["request_id"] == request_id
    assert ZACK not in json.dumps(line.__dict__, default=str)

    record_headers = await _submitted_headers(stack.kafka_bootstrap, Topics(namespace), case_id)
    assert ("x-request-id", request_id.encode()) in record_headers

    # The receipt is the thread root of the case: its Message-ID is signed for the submission.
    thread = Threading(SecretStr(REPLY_KEY), DOMAIN, DOMAIN)
    receipt_id = thread.receipt_id(uuid.UUID(case_id))

    async def arrived() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=10.0) as client:
            reply = await client.get(f"{stack.mailbox_url}/api/messages", params={"to": ZACK_EMAIL})
            return [e for e in reply.json() if e["message_id"].strip() == receipt_id]

    [entry] = await _eventually(arrived, f"the receipt {receipt_id} in the sink")
    async with httpx.AsyncClient(timeout=10.0) as client:
        detail = (await client.get(f"{stack.mailbox_url}/api/messages/{entry['id']}")).json()
    mail_ids = [h["value"] for h in detail["headers"] if h["name"].lower() == "x-request-id"]
    assert mail_ids == [request_id]

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
    try:
        sent = await mongo[f"notify_{namespace}"]["sent_mail"].find_one({"message_id": receipt_id})
    finally:
        await mongo.close()
    assert sent is not None
    assert sent["request_id"] == request_id

    async def notify_said() -> list[dict[str, Any]]:
        return _lines(notify_log, request_id)

    [mailed] = await _eventually(notify_said, "notify's line with the request id")
    assert mailed["service"] == "notify"
    assert receipt_id in mailed["msg"]
