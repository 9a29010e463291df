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

from shared import devstack
from shared.devstack.cleanup import forget_namespace


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


@pytest.fixture(scope="module")
async def namespace(stack: devstack.StackSettings) -> AsyncIterator[str]:
    """A topic namespace and database private to this module, removed at its end."""
    name = "t" + uuid4().hex[:8]
    yield name
    await forget_namespace(stack.kafka_bootstrap, stack.mongo_url, name, f"intake_{name}")
