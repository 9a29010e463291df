"""Run the real `python -m status_board` as a subprocess on free ports with its own data dir."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

DEAD_KAFKA = "127.0.0.1:1"  # nothing listens there: Kafka is "down"
DEAD_MONGO = "mongodb://127.0.0.1:1/?directConnection=true&serverSelectionTimeoutMS=200"
ADMIN_TOKEN = "integration-admin-token-0123"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class BoardProcess:
    """One status board process: its ports, data dir, Kafka address and log file."""

    data_dir: Path
    kafka: str
    namespace: str
    replica: str = field(default_factory=lambda: f"it-{uuid4().hex[:6]}")
    port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: "subprocess.Popen[bytes] | None" = None

    @property
    def url(self) -> str:
        """Base URL of the public port."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        """Base URL of the admin port."""
        return f"http://127.0.0.1:{self.admin_port}"

    def env(self) -> dict[str, str]:
        """The process environment: only loopback, dead Mongo, the chosen Kafka."""
        return (
            os.environ
            | {
                "STATUS_BOARD_DATA_DIR": str(self.data_dir),
                "STATUS_BOARD_PORT": str(self.port),
                "STATUS_BOARD_ADMIN_PORT": str(self.admin_port),
                "STATUS_BOARD_ADMIN_TOKEN": ADMIN_TOKEN,
                "STATUS_BOARD_REPLICA_ID": self.replica,
                "STATUS_BOARD_PUBLIC_URL": self.url,
                "STATUS_BOARD_HEARTBEAT_S": "1",
                "STATUS_BOARD_RETRY_MAX_S": "1",
                "KAFKA_BOOTSTRAP_SERVERS": self.kafka,
                "MONGO_URL": DEAD_MONGO,
                "TOPIC_NAMESPACE": self.namespace,
                "LOG_FORMAT": "text",
            }
            | self.extra_env
        )

    def start(self) -> "BoardProcess":
        """Start it and wait until both ports answer."""
        log = (self.data_dir.parent / f"{self.replica}-{self.port}.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "status_board"], env=self.env(), stdout=log, stderr=log
        )
        self._wait_healthy()
        return self

    @property
    def db_path(self) -> Path:
        """The board's SQLite file (tests seed it before a start)."""
        return self.data_dir / "status-board.sqlite3"

    def refused_start(self, timeout: float = 15.0) -> tuple[int | None, str]:
        """Start it expecting a refusal: the exit code (None if it kept running) and its output."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "status_board"],
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            return None, output.decode(errors="replace")
        return proc.returncode, output.decode(errors="replace")

    def _wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            assert self.proc.poll() is None, "status board exited"
            try:
                if all(httpx.get(f"{u}/healthz").status_code == 200 for u in self._urls()):
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise TimeoutError("status board did not answer /healthz")

    def _urls(self) -> list[str]:
        return [self.url, self.admin_url]

    def stop(self) -> int | None:
        """SIGTERM it (kill after 15 s) and return its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        code, self.proc = self.proc.returncode, None
        return code

    def restart(self, **changes: Any) -> "BoardProcess":
        """Stop, change settings (e.g. kafka=...), start again on the same data dir and ports."""
        self.stop()
        for name, value in changes.items():
            setattr(self, name, value)
        return self.start()

    def admin(self) -> httpx.Client:
        """A client of the admin API with the token."""
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        return httpx.Client(base_url=self.admin_url, headers=headers, timeout=10)

    def public(self) -> httpx.Client:
        """A client of the public side."""
        return httpx.Client(base_url=self.url, timeout=10)


BoardFactory = Callable[..., BoardProcess]


@pytest.fixture
def namespace() -> str:
    """A topic namespace of this test alone."""
    return f"t{uuid4().hex[:8]}"


@pytest.fixture
def start_board(tmp_path: Path, namespace: str) -> Iterator[BoardFactory]:
    """Start status boards (defaults: Kafka down, fresh data dir); all are stopped afterwards.

    `run=False` gives a board not started yet, e.g. to seed its store first.
    """
    started: list[BoardProcess] = []

    def start(
        kafka: str = DEAD_KAFKA, data: str = "board", *, run: bool = True, **options: Any
    ) -> BoardProcess:
        board = BoardProcess(tmp_path / data, kafka, namespace, **options)
        board.data_dir.mkdir(parents=True, exist_ok=True)
        started.append(board)
        return board.start() if run else board

    yield start
    for board in started:
        board.stop()


def wait_for(check: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll until `check()` is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


async def read_all(bootstrap: str, topic: str) -> list[Any]:
    """Every record of the (one-partition) topic, from offset 0 to its end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        records: list[Any] = []
        while await consumer.position(partition) < end:
            batch = await consumer.getmany(partition, timeout_ms=1000)
            records += batch.get(partition, [])
        return records
    finally:
        await consumer.stop()


async def produce(bootstrap: str, topic: str, *records: tuple[bytes, bytes]) -> None:
    """Publish (key, value) records, in order, with acks=all (as another producer would)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def as_record(event: Any) -> tuple[bytes, bytes]:
    """A notice event as the (key, value) the board's relay would publish."""
    return event.notice.id.encode(), event.model_dump_json().encode()
