"""A contact's close and reopen, decided by routing, read back from the feed on the real stack."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from pymongo import AsyncMongoClient

import devstack
from devstack.cleanup import forget_namespace
from feed.app import create_app as create_feed
from feed.rebuild import rebuild
from feed.settings import Settings as FeedSettings
from feed.store import SwapFence
from intake.app import create_app as create_intake
from routing.app import create_app as create_routing
from routing.clock import FixedClock
from routing.settings import Settings as RoutingSettings
from shared.directory import DirectoryStore, hash_token
from tests.integration.feed.conftest import eventually
from tests.integration.intake.conftest import SPICOLI, ZACK, auth, body_for, seeded, settings_for

FEED = "http://feed"


@dataclass
class Stack:
    """Intake, routing and feed in this process on one private namespace."""

    intake: httpx.AsyncClient
    feed: httpx.AsyncClient
    feed_app: FastAPI
    intake_app: FastAPI
    clock: FixedClock


def feed_settings(stack: devstack.StackSettings, namespace: str) -> FeedSettings:
    """The feed on the namespace; its readers poll rarely, so a prompt answer is a wake-up."""
    return FeedSettings(
        kafka_bootstrap_servers=stack.kafka_bootstrap,
        mongo_url=stack.mongo_url,
        topic_namespace=namespace,
        mongo_database=f"feed_{namespace}",
        service_name=f"feed-{namespace}",
        log_format="text",
        outcome_poll_s=60.0,
    )


def routing_settings(stack: devstack.StackSettings, namespace: str) -> RoutingSettings:
    """Routing on the namespace, its timers idle."""
    return RoutingSettings(
        kafka_bootstrap_servers=stack.kafka_bootstrap,
        mongo_url=stack.mongo_url,
        topic_namespace=namespace,
        mongo_database=f"routing_{namespace}",
        timer_interval_seconds=3600.0,
        poll_timeout_ms=50,
    )


async def tokens_known(feed_app: FastAPI) -> None:
    """Wait until the seed's tokens reached the feed's directory (a miss through auth is
    cached, so the collection is asked)."""
    settings = feed_settings_of(feed_app)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value()
    )
    try:
        store = DirectoryStore(client[settings.mongo_database])
        wanted = sorted(hash_token(t) for t in (ZACK, SPICOLI))

        async def known() -> bool:
            found = await store.tokens.count_documents({"sha256": {"$in": wanted}})
            return bool(found == len(wanted))

        await eventually(known)
    finally:
        await client.close()


def feed_settings_of(app: FastAPI) -> FeedSettings:
    """The settings the test gave the feed app."""
    settings: FeedSettings = app.state.test_settings
    return settings


@pytest.fixture(scope="module")
async def outcome_stack(stack: devstack.StackSettings) -> AsyncIterator[Stack]:
    """The three services in-process, the directory seeded, clients on intake and feed."""
    namespace = "t" + uuid4().hex[:8]
    clock = FixedClock(datetime.now(UTC))
    feed_cfg = feed_settings(stack, namespace)
    intake_app = create_intake(settings_for(stack, namespace, feed_public_url=FEED + "/"))
    routing_app = create_routing(routing_settings(stack, namespace), clock=clock)
    feed_app = create_feed(feed_cfg)
    feed_app.state.test_settings = feed_cfg
    try:
        async with (
            intake_app.router.lifespan_context(intake_app),
            routing_app.router.lifespan_context(routing_app),
            feed_app.router.lifespan_context(feed_app),
        ):
            await seeded(intake_app)
            await tokens_known(feed_app)
            async with (
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=intake_app), base_url="http://intake"
                ) as intake,
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=feed_app), base_url=FEED
                ) as feed,
            ):
                yield Stack(intake, feed, feed_app, intake_app, clock)
    finally:
        for database in (f"intake_{namespace}", f"routing_{namespace}", f"feed_{namespace}"):
            await forget_namespace(stack.kafka_bootstrap, stack.mongo_url, namespace, database)


async def submitted_case(stack: Stack) -> dict[str, Any]:
    """A question Zack submits through intake, once the feed shows it."""
    answer = await stack.intake.post("/cases", json=body_for("Ask a Question"), headers=auth(ZACK))
    assert answer.status_code == 201, answer.text
    case: dict[str, Any] = answer.json()
    number = case["case_number"]

    async def visible() -> bool:
        found = await stack.feed.get(f"/cases/{number}", headers=auth(ZACK))
        return found.status_code == 200

    await eventually(visible)
    return {"case_id": case["case_id"], "number": number}


async def outcome(stack: Stack, url: str, wait: float = 0) -> dict[str, Any]:
    """The outcome the feed answers at `url`."""
    answer = await stack.feed.get(url, params={"wait": wait}, headers=auth(ZACK))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def decided(stack: Stack, url: str) -> dict[str, Any]:
    """The outcome once the workflow has decided (long polls of up to 10 s)."""
    for _ in range(12):
        found = await outcome(stack, url, wait=10)
        if found["outcome"] != "pending":
            return found
    pytest.fail(f"no decision at {url}")


async def close(stack: Stack, case_id: str) -> httpx.Response:
    """Zack asks intake to close the case."""
    answer = await stack.intake.post(
        f"/cases/{case_id}/close", json={"note": "Works now, thanks"}, headers=auth(ZACK)
    )
    assert answer.status_code == 202, answer.text
    return answer


async def test_a_close_is_applied_and_reads_closed(outcome_stack: Stack) -> None:
    """Zack closes his case: the 202 links to the feed, which answers applied, Closed."""
    case = await submitted_case(outcome_stack)
    accepted = await close(outcome_stack, case["case_id"])
    body = accepted.json()
    url = f"{FEED}/cases/{case['case_id']}/commands/{body['command_id']}"
    assert body["outcome_url"] == url
    assert accepted.headers["location"] == url
    found = await decided(outcome_stack, url)
    assert found["command_id"] == body["command_id"]
    assert (found["case_id"], found["case_number"]) == (case["case_id"], case["number"])
    assert (found["command"], found["outcome"], found["status"]) == ("close", "applied", "Closed")
    assert found["reason"] is None
    assert found["decided_at"] is not None
    by_number = f"/cases/{case['number']}/commands/{body['command_id']}"
    assert (await outcome(outcome_stack, by_number))["outcome"] == "applied"


async def test_a_late_reopen_is_rejected_with_the_reason(outcome_stack: Stack) -> None:
    """A reopen routing sees 61 days after the close is rejected, saying until when and
    what to do instead; the case stays Closed."""
    case = await submitted_case(outcome_stack)
    # Routing's clock after the submission: intake keeps only a status newer than it knows.
    outcome_stack.clock.set(datetime.now(UTC))
    closed = (await close(outcome_stack, case["case_id"])).json()
    assert (await decided(outcome_stack, closed["outcome_url"]))["status"] == "Closed"
    records = outcome_stack.intake_app.state.intake.cases.collection

    async def intake_saw_it_closed() -> bool:
        doc = await records.find_one({"_id": case["case_id"]})
        return doc is not None and doc["status"] == "Closed"

    await eventually(intake_saw_it_closed)
    closed_on = outcome_stack.clock.now()
    outcome_stack.clock.set(closed_on + timedelta(days=61))
    try:
        reopen = await outcome_stack.intake.post(
            f"/cases/{case['number']}/reopen",
            json={"details": "The scores are gone again"},
            headers=auth(ZACK),
        )
        assert reopen.status_code == 202, reopen.text
        found = await decided(outcome_stack, reopen.json()["outcome_url"])
    finally:
        outcome_stack.clock.set(closed_on)
    assert (found["command"], found["outcome"], found["status"]) == (
        "reopen",
        "rejected",
        "Closed",
    )
    assert found["reason"].startswith("a case reopens within 60 days of closing;")
    assert found["reason"].endswith("submit a new case instead")


async def test_another_districts_contact_is_told_no_such_case(outcome_stack: Stack) -> None:
    """Spicoli of Ridgemont gets the same 404 problem as for any case not in his districts."""
    case = await submitted_case(outcome_stack)
    closed = (await close(outcome_stack, case["case_id"])).json()
    await decided(outcome_stack, closed["outcome_url"])
    for ref in (case["case_id"], str(case["number"])):
        answer = await outcome_stack.feed.get(
            f"/cases/{ref}/commands/{closed['command_id']}", headers=auth(SPICOLI)
        )
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"].startswith(f"case_ref: no case '{ref}' in your districts")


async def test_a_waiting_reader_gets_the_outcome_when_it_lands(outcome_stack: Stack) -> None:
    """With the feed's projection held back the outcome is pending and wait=5 waits; let go,
    the reader gets applied (its next poll is a minute away: the projection woke it)."""
    case = await submitted_case(outcome_stack)
    settings = feed_settings_of(outcome_stack.feed_app)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value()
    )
    fence = SwapFence(client[settings.mongo_database])
    await fence.raise_for(60.0)
    try:
        url = (await close(outcome_stack, case["case_id"])).json()["outcome_url"]
        assert (await outcome(outcome_stack, url))["outcome"] == "pending"
        waiting = asyncio.create_task(outcome(outcome_stack, url, wait=5))
        await asyncio.sleep(0.5)
        assert not waiting.done(), "wait=5 answered while the outcome was pending"
    finally:
        await fence.lower()
        await client.close()
    found = await waiting
    assert (found["outcome"], found["status"]) == ("applied", "Closed")


async def test_outcomes_come_back_after_a_rebuild(outcome_stack: Stack) -> None:
    """A rebuild replays case.events into fresh collections: the outcomes are in them."""
    case = await submitted_case(outcome_stack)
    closed = (await close(outcome_stack, case["case_id"])).json()
    before = await decided(outcome_stack, closed["outcome_url"])
    rebuilt = await rebuild(feed_settings_of(outcome_stack.feed_app), suffix=uuid4().hex[:8])
    assert rebuilt["events"] >= 3
    assert await outcome(outcome_stack, closed["outcome_url"]) == before


@pytest.mark.parametrize("wait", ["11", "-1", "10.5", "nan"])
async def test_a_wait_outside_zero_to_ten_seconds_is_a_400_problem(
    outcome_stack: Stack, wait: str
) -> None:
    """wait=11 (and any value outside 0..10 s) is refused, saying the range."""
    url = f"/cases/1/commands/{uuid4()}"
    answer = await outcome_stack.feed.get(url, params={"wait": wait}, headers=auth(ZACK))
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert "is outside 0 to 10 seconds" in answer.json()["detail"]
