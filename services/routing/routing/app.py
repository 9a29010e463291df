"""Composition root of the routing service: broker, Mongo, the engine, timers and the staff API."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from routing.api import ApiDeps, build_router, install_errors
from routing.clock import Clock, SystemClock
from routing.engine import Engine
from routing.handlers import Handlers
from routing.logic import BusinessCalendar, RoutingTable
from routing.settings import Settings
from routing.store import AccountZones, CaseStore, ClaimStore, CommandStore, CursorStore
from routing.timers import TimerService
from shared import tracing
from shared.commands import AnyCaseCommand
from shared.directory import DirectoryStore, subscribe_directory
from shared.kafka import DeadLetterPolicy, ensure_topics, make_broker
from shared.mongo import mongo_client, mongo_reachable
from shared.service import asyncapi_of, broker_check, new_app, ops_router, settle_heap

DESCRIPTION = (
    "Routes cases to department queues and runs the case workflow: queues (with each case's "
    "last activity, who made it and whether the customer replied), take, assign, status "
    "changes, escalation, resolution and transfer. **Staff post** written explanations to the "
    "contact at intake's `POST /cases/{case}/posts` (port 8001) with their staff token: intake "
    "owns posts (validation, sanitising, attachments); the post shows on the case feed and "
    "here as the case's last activity. `python -m routing.console post <case> <text>` does "
    "the same from a terminal."
)


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    """Wire the routing service; nothing connects until the lifespan starts."""
    settings = settings or Settings()
    clock = clock or SystemClock()
    registry = CollectorRegistry()
    policy = DeadLetterPolicy(group=settings.service_name)
    broker = make_broker(
        settings, client_id=settings.service_name, policy=policy, registry=registry
    )
    mongo = mongo_client(settings)
    db = mongo[settings.mongo_database]
    cases, commands, directory = CaseStore(db), CommandStore(db), DirectoryStore(db)
    calendar = BusinessCalendar(settings.holiday_country, settings.holiday_subdivision)
    table = RoutingTable.load(Path(settings.routes_file) if settings.routes_file else None)
    handlers = Handlers(
        table,
        calendar,
        clock,
        AccountZones(directory),
        directory,
        cases,
        CursorStore(db),
        policy=settings.assignment,
        remind_before=settings.remind_before_business_days,
    )
    engine = Engine(settings, handlers, cases, commands)
    topic = settings.topics.case_commands

    async def publish(command: AnyCaseCommand) -> None:
        # The request id of the staff call (or timer run) follows the command through Kafka.
        headers = {k: v.decode("ascii") for k, v in tracing.kafka_headers()}
        await broker.publish(
            command, topic=topic, key=str(command.case_id).encode(), headers=headers or None
        )

    timers = TimerService(cases, publish, clock, calendar)
    # Its own group: the engine's group commits offsets only in transactions, and a
    # rebalance of either must not pause the other.
    subscribe_directory(
        broker, settings.topics.directory, settings.directory_group_id, lambda: directory
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await ensure_topics(settings.kafka_bootstrap_servers, settings.topics.all_specs())
        await cases.ensure_indexes()
        await directory.ensure_indexes()
        await broker.start()
        await engine.start()
        tasks = [
            asyncio.create_task(engine.run(), name="routing-engine"),
            asyncio.create_task(timers.run(settings.timer_interval_seconds), name="routing-timers"),
        ]
        settle_heap()
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await engine.stop()
            await broker.stop()
            await mongo.close()

    async def engine_ready() -> bool:
        return engine.running and not engine.progress.stalled()

    app = new_app("Routing", DESCRIPTION, lifespan)
    checks = {
        "kafka": broker_check(broker),
        "mongo": lambda: mongo_reachable(mongo),
        "engine": engine_ready,
    }
    spec = lambda: asyncapi_of(broker, title="Routing")  # noqa: E731
    app.include_router(ops_router(checks=checks, registry=registry, spec=spec))
    app.include_router(
        build_router(ApiDeps(cases, ClaimStore(db), commands, directory, publish, clock))
    )
    install_errors(app)
    app.state.engine, app.state.timers, app.state.cases = engine, timers, cases
    app.state.publish, app.state.directory = publish, directory
    return app
