"""`python -m intake` in production: refuses the public-token seed, starts without any seed."""

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import devstack
from devstack.cleanup import forget_namespace
from intake.settings import REPO_SEED

START_SECONDS = 60


def _environment(stack: devstack.StackSettings, namespace: str, port: int) -> dict[str, str]:
    """A production process on the real stack, in a namespace and database of its own."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    return {
        **inherited,
        "ENVIRONMENT": "production",
        "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
        # The stack's server, named as a deployment would (the bare local default is refused).
        "MONGO_URL": f"{stack.mongo_url}&appName=intake-production-test",
        "TOPIC_NAMESPACE": namespace,
        "INTAKE_MONGO_DATABASE": f"intake_{namespace}",
        "INTAKE_PORT": str(port),
        "LOG_FORMAT": "text",
    }


@pytest.fixture
async def namespace(stack: devstack.StackSettings) -> AsyncIterator[str]:
    """A namespace of this test's own, removed afterwards."""
    name = "p" + uuid.uuid4().hex[:8]
    yield name
    await forget_namespace(stack.kafka_bootstrap, stack.mongo_url, name, f"intake_{name}")


async def test_production_with_the_public_seed_exits_at_once(
    stack: devstack.StackSettings, namespace: str, kit: Any
) -> None:
    """ENVIRONMENT=production with INTAKE_SEED_FILE=deploy/seed/directory.json exits non-zero."""
    env = {
        **_environment(stack, namespace, kit.free_port()),
        "INTAKE_SEED_FILE": str(REPO_SEED),
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "intake"],
        env=env,
        capture_output=True,
        text=True,
        timeout=START_SECONDS,
    )
    assert done.returncode != 0
    assert "ENVIRONMENT=production refuses to start" in done.stderr
    assert "INTAKE_SEED_FILE" in done.stderr
    assert "dev-zack-morris" in done.stderr
    assert "Traceback" not in done.stderr


async def test_production_without_a_seed_serves_and_knows_no_public_token(
    stack: devstack.StackSettings, namespace: str, kit: Any
) -> None:
    """Production with INTAKE_SEED_FILE unset starts, loads no seed: a seed token gets 401."""
    port = kit.free_port()
    process = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-m", "intake"],
        env=_environment(stack, namespace, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            await _ready(http, process)
            answer = await http.get(f"/cases/{uuid.uuid4()}/recipients", headers=kit.auth(kit.ZACK))
        assert answer.status_code == 401, answer.text
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)


async def _ready(http: httpx.AsyncClient, process: "subprocess.Popen[bytes]") -> None:
    for _ in range(START_SECONDS * 5):
        assert process.poll() is None, f"intake exited with {process.returncode}"
        try:
            if (await http.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError("the production intake never became ready")
