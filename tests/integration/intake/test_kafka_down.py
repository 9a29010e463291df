"""Acknowledged before answered: with Kafka unreachable the answer is 503, nothing recorded."""

import asyncio
import dataclasses
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devstack import kafka as devkafka
from devstack import paths
from devstack.ports import Ports
from intake.app import create_app
from intake.settings import Settings
from shared.kafka import kafka_reachable


def _start(settings: Settings, kafka: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "MONGO_URL": settings.mongo_url.get_secret_value(),
        "TOPIC_NAMESPACE": settings.topic_namespace,
        "INTAKE_PORT": str(port),
        "INTAKE_MONGO_DATABASE": settings.mongo_database,
        "INTAKE_SEED_FILE": "",
        "INTAKE_PUBLISH_TIMEOUT_MS": "1000",
        "INTAKE_STARTUP_WAIT_SECONDS": "1",
        "LOG_FORMAT": "text",
    }
    return subprocess.Popen([sys.executable, "-m", "intake"], env=env, stderr=subprocess.DEVNULL)


async def _wait_alive(url: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(150):
            try:
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"intake at {url} never answered /healthz")


@pytest.fixture
def stopped_kafka_intake(intake_settings: Settings, intake_app: FastAPI, kit: Any) -> Iterator[str]:
    """A second intake process whose Kafka address has nothing listening (same directory)."""
    port = kit.free_port()
    process = _start(intake_settings, f"127.0.0.1:{kit.free_port()}", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()


async def test_unreachable_kafka_answers_503_and_records_nothing(
    stopped_kafka_intake: str,
    client: httpx.AsyncClient,
    intake_settings: Settings,
    intake_app: FastAPI,
    kit: Any,
) -> None:
    """503 with Retry-After; no event, case or idempotency record; a later retry makes one case."""
    await _wait_alive(stopped_kafka_intake)
    key = str(uuid.uuid4())
    body = {**kit.body_for("Ask a Question"), "subject": f"while kafka down {key}"}
    headers = {**kit.auth(kit.ZACK), "Idempotency-Key": key}
    async with httpx.AsyncClient(base_url=stopped_kafka_intake, timeout=30) as http:
        ready = await http.get("/readyz")
        answer = await http.post("/cases", json=body, headers=headers)
    assert ready.status_code == 503
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["retry-after"]) > 0
    assert answer.json()["errors"][0]["field"] == "kafka"
    intake = intake_app.state.intake
    assert await intake.cases.collection.count_documents({"subject": body["subject"]}) == 0
    assert await intake.idempotency.collection.count_documents({"_id": {"$regex": key}}) == 0
    retried = await client.post("/cases", json=body, headers=headers)
    assert retried.status_code == 201
    await asyncio.sleep(2)  # give a stray batch, if any, time to land before counting
    events = await kit.case_events(intake_settings)
    assert [e.get("subject") for e in events].count(body["subject"]) == 1
    assert await intake.cases.collection.count_documents({"subject": body["subject"]}) == 1


# --- a private broker that really goes away and comes back ---------------------------------


class PrivateKafka:
    """A single-node Kafka of this test's own (free ports, temp STACK_HOME, the stack's jars)."""

    def __init__(self, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        real_libs = paths.kafka_home() / "libs"
        monkeypatch.setenv("STACK_HOME", str(home))
        paths.kafka_home().mkdir(parents=True)
        (paths.kafka_home() / "libs").symlink_to(real_libs)
        self.port = _free()
        ports = dataclasses.replace(Ports.from_env(), kafka=self.port, kafka_controller=_free())
        self.argv = devkafka.prepare(ports)
        self.log = home / "kafka.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """Its address."""
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Run the node and wait until it answers metadata requests."""
        self.process = await asyncio.to_thread(self._spawn)
        for _ in range(240):
            if await kafka_reachable(self.bootstrap, timeout_ms=1000):
                return
            await asyncio.sleep(0.5)
        raise AssertionError(f"private Kafka did not start; see {self.log}")

    def _spawn(self) -> "subprocess.Popen[bytes]":
        with self.log.open("ab") as out:
            return subprocess.Popen(self.argv, stdout=out, stderr=out)

    def kill(self) -> None:
        """SIGKILL: whatever it had not written is gone with it."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()


def _free() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def private_kafka(
    stack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[PrivateKafka]:
    """A private broker, killed at the end."""
    kafka = PrivateKafka(tmp_path, monkeypatch)
    await kafka.start()
    try:
        yield kafka
    finally:
        kafka.kill()


async def _post(http: httpx.AsyncClient, body: dict[str, Any], kit: Any) -> httpx.Response:
    return await http.post("/cases", json=body, headers=kit.auth(kit.ZACK))


async def test_batch_refused_while_broker_dead_never_appears_after_it_returns(
    private_kafka: PrivateKafka, stack: Any, kit: Any
) -> None:
    """A submission answered 503 while the broker was dead is not delivered when it comes back."""
    namespace = "t" + uuid.uuid4().hex[:8]
    settings = kit.settings_for(
        stack, namespace, kafka_bootstrap_servers=private_kafka.bootstrap, publish_timeout_ms=1500
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://intake", timeout=60
        ) as http:
            before = await _post(http, {**kit.body_for("Ask a Question"), "subject": "before"}, kit)
            assert before.status_code == 201, before.text
            private_kafka.kill()
            lost = {**kit.body_for("Ask a Question"), "subject": "while dead"}
            refused = await _post(http, lost, kit)
            assert refused.status_code == 503, refused.text
            await private_kafka.start()
            after = await _eventually_accepted(
                http, {**kit.body_for("Ask a Question"), "subject": "after"}, kit
            )
            await asyncio.sleep(3)  # the producer's retries, were any left, would land by now
            records = await kit.read_topic(private_kafka.bootstrap, settings.topics.case_events)
            subjects = [value["subject"] for _, value in records]
            assert subjects.count("before") == 1
            assert subjects.count("after") == 1
            assert "while dead" not in subjects
            assert after["case_number"] != before.json()["case_number"]
            cases = app.state.intake.cases.collection
            assert await cases.count_documents({"subject": "while dead"}) == 0


async def _eventually_accepted(
    http: httpx.AsyncClient, body: dict[str, Any], kit: Any
) -> dict[str, Any]:
    for _ in range(60):
        answer = await _post(http, body, kit)
        if answer.status_code == 201:
            return dict(answer.json())
        assert answer.status_code == 503, answer.text
        await asyncio.sleep(1)
    raise AssertionError("intake never recovered after the broker came back")
