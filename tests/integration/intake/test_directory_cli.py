"""The directory CLI publishes to Kafka; another intake replica learns the token from the topic."""

import asyncio
import hashlib
import os
import subprocess
import sys
from typing import Any

import httpx

from intake.settings import Settings


def _cli(settings: Settings, *args: str) -> str:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "MONGO_URL": settings.mongo_url.get_secret_value(),
        "TOPIC_NAMESPACE": settings.topic_namespace,
        "INTAKE_MONGO_DATABASE": f"{settings.mongo_database}_cli",  # another replica's store
    }
    argv = [sys.executable, "-m", "intake.cli", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout


async def test_token_issued_by_cli_authenticates_on_another_replica(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any
) -> None:
    """A token issued by the CLI (only its sha256 goes on Kafka) authenticates on this replica."""
    out = await asyncio.to_thread(
        _cli, intake_settings, "issue-token", "--subject-id", "lisa-turtle", "--token-id", "tok-t1"
    )
    token = out.split("token=")[1].strip()
    records = await kit.read_topic(
        intake_settings.kafka_bootstrap_servers, intake_settings.topics.directory
    )
    issued = [v for k, v in records if k == "token:tok-t1"]
    assert issued[0]["token"]["sha256"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(records)
    answer = await _until(client, token, lambda status: status == 200)
    assert answer == 200
    await asyncio.to_thread(_cli, intake_settings, "revoke-token", "--token-id", "tok-t1")


async def _until(client: httpx.AsyncClient, token: str, done: Any) -> int:
    status = 0
    for _ in range(100):
        headers = {"Authorization": f"Bearer {token}"}
        answer = await client.get(
            "/cases/00000000-0000-0000-0000-000000000000/recipients", headers=headers
        )
        status = 200 if answer.status_code == 404 else answer.status_code  # 404: authenticated
        if done(status):
            return status
        await asyncio.sleep(0.2)
    return status
