"""Routing's readiness tells an orchestrator when the engine is gone, and its consumer groups."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from routing.settings import Settings
from shared.events import CaseSubmitted


async def _engine_check(port: int, ready: bool, within: float = 60.0) -> httpx.Response:
    """Poll /readyz until its engine check is `ready`; that response."""
    deadline = asyncio.get_running_loop().time() + within
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            response = await client.get(f"http://127.0.0.1:{port}/readyz")
            if response.json()["checks"]["engine"] is ready:
                return response
            if asyncio.get_running_loop().time() > deadline:
                pytest.fail(f"/readyz engine check never became {ready}: {response.text}")
            await asyncio.sleep(0.2)


async def test_engine_stuck_on_a_refused_write_is_not_ready_until_it_recovers(
    fresh_settings: Settings,
    routing_process: Callable[[Settings], Any],
    make_bus: Callable[[Settings], Awaitable[Any]],
    new_case: Callable[..., CaseSubmitted],
) -> None:
    """Mongo refusing every case write stalls the loop: /readyz fails, then heals with Mongo."""
    process = routing_process(fresh_settings)
    await process.start(ROUTING_STALL_AFTER_SECONDS="2")
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        fresh_settings.mongo_url.get_secret_value()
    )
    db = mongo[fresh_settings.mongo_database]
    refuse_all = {"$jsonSchema": {"required": ["field_no_case_has"]}}
    try:
        await db.command("collMod", "cases", validator=refuse_all)
        bus = await make_bus(fresh_settings)
        case = new_case()
        await bus.submit(case)
        stalled = await _engine_check(process.port, ready=False)
        await db.command("collMod", "cases", validator={})
        await bus.wait_for(case.case_id, "work.queued")
        await _engine_check(process.port, ready=True)
    finally:
        await mongo.close()
    assert stalled.status_code == 503
    assert stalled.json()["checks"]["mongo"] is True  # Mongo answers; only the engine is stuck


async def test_fenced_engine_turns_readyz_to_503(
    fresh_settings: Settings,
    routing_process: Callable[[Settings], Any],
    make_bus: Callable[[Settings], Awaitable[Any]],
    new_case: Callable[..., CaseSubmitted],
) -> None:
    """A replica taking over the transactional id stops the engine; /readyz then says so."""
    process = routing_process(fresh_settings)
    await process.start()
    await _engine_check(process.port, ready=True)
    namespace = fresh_settings.topic_namespace
    usurper = AIOKafkaProducer(
        bootstrap_servers=fresh_settings.kafka_bootstrap_servers,
        transactional_id=f"routing.{namespace}.{fresh_settings.replica_id}",
    )
    await usurper.start()  # bumps the epoch: the running engine is now a zombie
    try:
        bus = await make_bus(fresh_settings)
        await bus.submit(new_case())
        fenced = await _engine_check(process.port, ready=False)
    finally:
        await usurper.stop()
    assert fenced.status_code == 503


async def test_directory_subscriber_reads_in_its_own_consumer_group(
    fresh_settings: Settings, routing_process: Callable[[Settings], Any]
) -> None:
    """The engine and the directory subscriber are members of two different groups."""
    process = routing_process(fresh_settings)
    await process.start()
    admin = AIOKafkaAdminClient(bootstrap_servers=fresh_settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        groups = {group for group, _ in await admin.list_consumer_groups()}
    finally:
        await admin.close()
    namespace = fresh_settings.topic_namespace
    assert {f"{namespace}.routing", f"{namespace}.routing.directory"} <= groups
