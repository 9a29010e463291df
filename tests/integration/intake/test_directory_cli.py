"""The directory CLI on the real stack: what it adds, issues, revokes and deactivates reaches
another intake replica through Kafka, and only a token's SHA-256 ever leaves the CLI.

The CLI has its own store (another replica's database, fed by nobody else), so whatever the
in-process intake learns, it learns from the directory topic. Most commands run in this
process through `intake.cli.run` (the same code as `main`, minus process start-up, which
costs seconds on a loaded machine); `python -m intake.cli` itself runs for the first-run
bootstrap and for a refusal's exit status.
"""

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from intake import cli as intake_cli
from intake.admin import DirectoryAdminError
from intake.settings import Settings

ACCOUNT = "cli-district"


def _cli(settings: Settings, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `python -m intake.cli` as a process, on the CLI's own store."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "MONGO_URL": settings.mongo_url.get_secret_value(),
        "TOPIC_NAMESPACE": settings.topic_namespace,
        "INTAKE_MONGO_DATABASE": f"{settings.mongo_database}_cli",
    }
    argv = [sys.executable, "-m", "intake.cli", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=check, timeout=120)


async def cli(settings: Settings, *args: str) -> str:
    """What the CLI prints for a command, run in this process on the CLI's own store."""
    store = {"mongo_database": f"{settings.mongo_database}_cli"}
    return await intake_cli.run(
        intake_cli.parser().parse_args(args), settings.model_copy(update=store)
    )


def secret_of(output: str) -> str:
    """The token from issue-token's `token=` line."""
    return next(line for line in output.splitlines() if line.startswith("token="))[6:]


async def until(call: Callable[[], Any], done: Callable[[int], bool]) -> httpx.Response:
    """Repeat an HTTP call until its status satisfies `done` (the directory is eventual)."""
    answer: httpx.Response = await call()
    for _ in range(150):
        if done(answer.status_code):
            return answer
        await asyncio.sleep(0.2)
        answer = await call()
    return answer


@pytest.fixture(scope="module", autouse=True)
async def cli_database(intake_settings: Settings) -> AsyncIterator[None]:
    """The CLI's store is dropped after these tests, like the session's own database."""
    yield
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        intake_settings.mongo_url.get_secret_value()
    )
    try:
        await mongo.drop_database(f"{intake_settings.mongo_database}_cli")
    finally:
        await mongo.close()


@pytest.fixture(scope="module")
async def kelly(intake_settings: Settings) -> str:
    """A district and a contact added by the CLI, not by the seed."""
    await cli(intake_settings, "add-account", "--id", ACCOUNT, "--name", "CLI District")
    await cli(
        intake_settings,
        *("add-contact", "--id", "kelly-kapowski", "--first-name", "Kelly"),
        *("--last-name", "Kapowski", "--email", "kelly@cli-district.example"),
        *("--type", "Authorized Support", "--account", ACCOUNT),
    )
    return "kelly-kapowski"


async def test_added_contact_gets_a_token_that_works_until_revoked(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any, kelly: str
) -> None:
    """A CLI-made contact's token submits a case on another replica; once revoked it is 401."""
    out = await cli(
        intake_settings,
        *("issue-token", "--subject-id", kelly, "--token-id", "tok-kelly"),
        *("--expires-in-days", "7"),
    )
    token = secret_of(out)
    records = await kit.read_topic(
        intake_settings.kafka_bootstrap_servers, intake_settings.topics.directory
    )
    issued = [v["token"] for k, v in records if k == "token:tok-kelly"]
    assert issued[-1]["sha256"] == hashlib.sha256(token.encode()).hexdigest()
    assert issued[-1]["scopes"] == ["read", "write"]
    assert issued[-1]["expires_at"]
    assert token not in str(records)

    body = kit.body_for("Ask a Question")

    async def submit() -> httpx.Response:
        return await client.post("/cases", json=body, headers=kit.auth(token))

    created = await until(submit, lambda status: status == 201)
    assert created.status_code == 201, created.text
    assert created.json()["account_id"] == ACCOUNT

    assert "revoked" in await cli(intake_settings, "revoke-token", "--token-id", "tok-kelly")
    refused = await until(submit, lambda status: status == 401)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    listed = json.loads(await cli(intake_settings, "list-tokens", "--subject-id", kelly, "--json"))
    assert [(t["token_id"], t["revoked"]) for t in listed] == [("tok-kelly", True)]
    assert "sha256" not in listed[0]


async def test_read_scoped_token_reads_and_deactivation_ends_it(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any, kelly: str
) -> None:
    """A `read` token may GET but not POST (403); deactivating its contact makes it 401."""
    reader = secret_of(
        await cli(
            intake_settings,
            *("issue-token", "--subject-id", kelly, "--scope", "read", "--no-expiry"),
        )
    )
    unknown_case = "/cases/00000000-0000-0000-0000-000000000000/recipients"

    async def read() -> httpx.Response:
        return await client.get(unknown_case, headers=kit.auth(reader))

    assert (await until(read, lambda status: status == 404)).status_code == 404  # authenticated
    body = kit.body_for("Ask a Question")
    write = await client.post("/cases", json=body, headers=kit.auth(reader))
    assert write.status_code == 403
    assert "'write'" in write.json()["detail"]

    assert "deactivated" in await cli(intake_settings, "deactivate-contact", "--id", kelly)
    assert (await until(read, lambda status: status == 401)).status_code == 401
    active = json.loads(await cli(intake_settings, "list-contacts", "--account", ACCOUNT, "--json"))
    every = await cli(intake_settings, "list-contacts", "--account", ACCOUNT, "--inactive")
    assert active == []
    assert "kelly-kapowski" in every
    assert "inactive" in every


async def test_bootstrap_makes_the_first_staff_member_once(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any
) -> None:
    """bootstrap prints one staff token that authenticates; a rerun prints no token."""
    argv = ("bootstrap", "--staff-email", "first.admin@vendor.example", "--staff-name", "Ada")
    first = (await asyncio.to_thread(_cli, intake_settings, *argv)).stdout
    token = secret_of(first)
    assert "first-admin" in first

    async def as_staff() -> httpx.Response:
        unknown = "/cases/00000000-0000-0000-0000-000000000000/recipients"
        return await client.get(unknown, headers=kit.auth(token))

    assert (await until(as_staff, lambda status: status == 404)).status_code == 404
    again = await cli(intake_settings, *argv)
    assert "token=" not in again
    assert "nothing to do" in again
    staff = json.loads(await cli(intake_settings, "list-staff", "--json"))
    assert [(s["id"], s["supervisor"]) for s in staff] == [("first-admin", True)]


async def test_refusals_exit_1_with_the_fix(intake_settings: Settings) -> None:
    """A token for nobody and a contact of an unknown district are refused in one line."""
    nobody = await asyncio.to_thread(
        _cli, intake_settings, "issue-token", "--subject-id", "nobody-here", check=False
    )
    assert nobody.returncode == 1
    assert "no active contact 'nobody-here'" in nobody.stderr
    assert "Traceback" not in nobody.stderr
    with pytest.raises(DirectoryAdminError, match="no account 'no-such-district'"):
        await cli(
            intake_settings,
            *("add-contact", "--id", "x1", "--first-name", "X", "--last-name", "Y"),
            *("--email", "x@y.example", "--type", "Technical", "--account", "no-such-district"),
        )
