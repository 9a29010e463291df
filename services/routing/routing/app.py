"""Composition root of the routing service: broker, Mongo, the engine, timers and the staff API."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient

from routing.api import build_router, install_errors
from routing.clock import Clock, SystemClock
from routing.engine import AfterWrite, Engine
from routing.logic import BusinessCalendar, RoutingTable
from routing.service import IncidentNotes, RoutingService, StaffService
from routing.settings import Settings
from routing.sla import SlaPolicy
from routing.store import CaseStore, ClaimStore, CommandStore, CursorStore
from routing.timers import SlaGauges, TimerService
from shared import tracing
from shared.commands import CaseCommand
from shared.directory import DirectoryStore, subscribe_directory
from shared.docs import docs_description
from shared.events import AnyNoticeEvent
from shared.kafka import DeadLetterPolicy, consumer_options, ensure_topics, make_broker
from shared.mongo import Document, mongo_client, mongo_reachable
from shared.service import Check, asyncapi_of, broker_check, new_app, ops_router, settle_heap
from shared.zones import ZoneCache

DESCRIPTION = (
    "Routes cases to department queues and runs the case workflow: queues (with each case's "
    "last activity, who made it and whether the customer replied), take, assign, status "
    "changes, escalation, resolution and transfer. **Staff post** written explanations to the "
    "contact at intake's `POST /cases/{case}/posts` (port 8001) with their staff token: intake "
    "owns posts (validation, sanitising, attachments); the post shows on the case feed and "
    "here as the case's last activity. `python -m routing.console post <case> <text>` does "
    "the same from a terminal."
)


@dataclass
class Parts:
    """Everything the service runs, built at once; nothing connects until `run` starts it."""

    settings: Settings
    registry: CollectorRegistry
    broker: KafkaBroker
    mongo: AsyncMongoClient[Document]
    cases: CaseStore
    directory: DirectoryStore
    engine: Engine
    timers: TimerService
    staff: StaffService
    incidents: IncidentNotes


def build(settings: Settings, clock: Clock, after_write: AfterWrite | None = None) -> Parts:
    """Construct every part of the service from its settings."""
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
    sla = sla_policy(settings)
    service = RoutingService(
        table,
        calendar,
        clock,
        ZoneCache(directory),
        directory,
        cases,
        CursorStore(db),
        policy=settings.assignment,
        remind_before=settings.remind_before_business_days,
        sla=sla,
    )
    engine = Engine(settings, service, cases, commands, after_write)
    publish = partial(_publish, broker, settings.topics.case_commands)
    timers = TimerService(cases, publish, clock, calendar, SlaGauges(registry))
    staff = StaffService(cases, ClaimStore(db), commands, directory, publish, clock, sla)
    incidents = IncidentNotes(cases, publish)
    return Parts(
        settings, registry, broker, mongo, cases, directory, engine, timers, staff, incidents
    )


def sla_policy(settings: Settings) -> SlaPolicy | None:
    """The SLA targets of ROUTING_SLA_FILE (else the packaged ones); None with clocks off."""
    if not settings.sla_clocks:
        return None
    return SlaPolicy.load(Path(settings.sla_file) if settings.sla_file else None)


async def _publish(broker: KafkaBroker, topic: str, command: CaseCommand) -> None:
    """Send a command to the single writer, keyed by its case."""
    # The request id of the staff call (or timer run) follows the command through Kafka.
    headers = {k: v.decode("ascii") for k, v in tracing.kafka_headers()}
    await broker.publish(
        command, topic=topic, key=str(command.case_id).encode(), headers=headers or None
    )


@asynccontextmanager
async def run(parts: Parts) -> AsyncIterator[None]:
    """Connect, start the engine and the timers; stop them all on the way out."""
    settings = parts.settings
    await ensure_topics(settings.kafka_bootstrap_servers, settings.topics.all_specs())
    await parts.cases.ensure_indexes()
    await parts.directory.ensure_indexes()
    await parts.broker.start()
    await parts.engine.start()
    tasks = [
        asyncio.create_task(parts.engine.run(), name="routing-engine"),
        asyncio.create_task(
            parts.timers.run(settings.timer_interval_seconds), name="routing-timers"
        ),
    ]
    settle_heap()
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await parts.engine.stop()
        await parts.broker.stop()
        await parts.mongo.close()


def create_app(
    settings: Settings | None = None,
    clock: Clock | None = None,
    after_write: AfterWrite | None = None,
) -> FastAPI:
    """Wire the routing service; nothing connects until the lifespan starts.

    `after_write` is the fault-drill seam: called after each batch's Mongo write, before its
    Kafka commit (`python -m routing` sets it from ROUTING_FAULT_EXIT_AFTER_BATCHES).
    """
    settings = settings or Settings()
    parts = build(settings, clock or SystemClock(), after_write)
    # Its own group: the engine's group commits offsets only in transactions, and a
    # rebalance of either must not pause the other.
    subscribe_directory(
        parts.broker,
        settings.topics.directory,
        settings.directory_group_id,
        lambda: parts.directory,
    )
    subscribe_incidents(parts)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with run(parts):
            yield

    app = new_app("Routing", docs_description(DESCRIPTION, settings.docs_urls), lifespan)
    _add_ops(app, parts)
    app.include_router(build_router(parts.staff, parts.directory))
    install_errors(app)
    # Tests reach the timers (to run them now) and the stores (to look at what was written).
    app.state.timers, app.state.cases, app.state.directory = (
        parts.timers,
        parts.cases,
        parts.directory,
    )
    return app


def subscribe_incidents(parts: Parts) -> None:
    """Read the board's notices (a group of its own, from the start: the topic is compacted);
    a resolved incident is noted on every case linked to it."""
    settings = parts.settings

    @parts.broker.subscriber(  # type: ignore[untyped-decorator]
        settings.topics.incident_events, **consumer_options(f"{settings.group_id}.incidents")
    )
    async def on_notice(event: AnyNoticeEvent) -> None:
        await parts.incidents.on_notice(event)


def _add_ops(app: FastAPI, parts: Parts) -> None:
    engine = parts.engine

    async def engine_ready() -> bool:
        return engine.running and not engine.progress.stalled()

    checks: dict[str, Check] = {
        "kafka": broker_check(parts.broker),
        "mongo": partial(mongo_reachable, parts.mongo),
        "engine": engine_ready,
    }
    spec = partial(asyncapi_of, parts.broker, title="Routing")
    app.include_router(ops_router(checks=checks, registry=parts.registry, spec=spec))
