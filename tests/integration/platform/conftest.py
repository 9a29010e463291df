"""Real processes for the cross-cutting checks: a service or the mailbox on free loopback ports."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

import devstack
from devstack.cleanup import forget_namespace


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    """One child process serving HTTP on a loopback port, with its log file."""

    proc: "subprocess.Popen[bytes]"
    port: int
    log: Path

    @property
    def url(self) -> str:
        """Base URL of its HTTP port."""
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """Return once GET /healthz answers 200; fail with the log if the process died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"process exited {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        pytest.fail(f"not healthy after {timeout}s:\n{self.log.read_text()}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


Start = Callable[[list[str], dict[str, str], int], Process]


@pytest.fixture
def start_process(tmp_path: Path) -> Iterator[Start]:
    """Start `python <args>` with extra environment; every process is stopped at the end."""
    started: list[Process] = []

    def start(args: list[str], env: dict[str, str], port: int) -> Process:
        log = tmp_path / f"process-{len(started)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, *args], env=os.environ | env, stdout=out, stderr=out
            )
        process = Process(proc, port, log)
        started.append(process)
        process.wait_healthy()
        return process

    yield start
    for process in started:
        process.stop()


# Small limits, so that a slow client is cut off within seconds.
LIMITS = {"HTTP_HEAD_TIMEOUT_S": "3", "HTTP_BODY_TIMEOUT_S": "2", "HTTP_BODY_MIN_RATE": "4096"}
SERVICES = ("intake", "routing", "feed", "notify")
BOARD_TOKEN = "platform-test-admin-token-0123456789"


@dataclass
class Processes:
    """Every HTTP process of the system, started for these tests: base URL by name."""

    urls: dict[str, str]


def _spawn(args: list[str], env: dict[str, str], port: int, log: Path) -> Process:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, *args], env=os.environ | env, stdout=out, stderr=out
        )
    return Process(proc, port, log)


def _service_env(
    stack: devstack.StackSettings, name: str, namespace: str, port: int
) -> dict[str, str]:
    return LIMITS | {
        "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
        "MONGO_URL": stack.mongo_url,
        "SMTP_HOST": stack.smtp_host,
        "SMTP_PORT": str(stack.smtp_port),
        "TOPIC_NAMESPACE": namespace,
        f"{name.upper()}_PORT": str(port),
        f"{name.upper()}_MONGO_DATABASE": f"{name}_{namespace}",
    }


@pytest.fixture(scope="session")
async def processes(
    stack: devstack.StackSettings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Processes]:
    """intake, routing, feed, notify, the status board and the mailbox as real processes.

    Each service runs `python -m <service>` on its own port, topic namespace and databases;
    the board runs with Kafka down (it serves without it); the mailbox on its own ports.
    """
    folder = tmp_path_factory.mktemp("platform")
    namespace = "t" + uuid4().hex[:8]
    started: dict[str, Process] = {}
    for name in SERVICES:
        port = free_port()
        env = _service_env(stack, name, namespace, port)
        started[name] = _spawn(["-m", name], env, port, folder / f"{name}.log")
    board, admin = free_port(), free_port()
    board_env = LIMITS | {
        "STATUS_BOARD_PORT": str(board),
        "STATUS_BOARD_ADMIN_PORT": str(admin),
        "STATUS_BOARD_DATA_DIR": str(folder / "board"),
        "STATUS_BOARD_ADMIN_TOKEN": BOARD_TOKEN,
        "STATUS_BOARD_REPLICA_ID": f"platform-{namespace}",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",  # nothing there: the board serves anyway
    }
    started["status-board"] = _spawn(["-m", "status_board"], board_env, board, folder / "b.log")
    mail_http = free_port()
    mail_args = ["-m", "devstack.mailbox", "--smtp-port", str(free_port())]
    mail_args += ["--http-port", str(mail_http), "--data-dir", str(folder / "mail")]
    started["mailbox"] = _spawn(mail_args, {}, mail_http, folder / "mailbox.log")
    try:
        for process in started.values():
            process.wait_healthy(timeout=120.0)
        urls = {name: process.url for name, process in started.items()}
        urls["status-board-admin"] = f"http://127.0.0.1:{admin}"
        yield Processes(urls)
    finally:
        for process in started.values():
            process.stop()
        for name in SERVICES:
            await forget_namespace(
                stack.kafka_bootstrap, stack.mongo_url, namespace, f"{name}_{namespace}"
            )
