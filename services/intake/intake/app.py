"""Composition root of the intake service: broker, Mongo client, stores, HTTP app."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry
from pymongo.asynchronous.database import AsyncDatabase

from intake import handlers
from intake.api import BodyLimit, api_router, install_error_handlers
from intake.logic import TokenBucket
from intake.producer import EventPublisher
from intake.seed import Seed, load_seed, startup_seed
from intake.service import Intake
from intake.settings import Settings
from intake.store import AttachmentStore, CaseStore, CounterStore, IdempotencyStore
from intake.timing import ServerTiming
from shared.directory import DirectoryStore
from shared.docs import docs_description
from shared.kafka import DeadLetterPolicy, ensure_topics, make_broker
from shared.mongo import Document, mongo_client, mongo_reachable
from shared.service import Check, asyncapi_of, broker_check, new_app, ops_router, settle_heap
from shared.settings import refuse_local_secrets
from shared.zones import ZoneCache

log = logging.getLogger("intake.app")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Wire the intake service; nothing connects until the lifespan starts.

    Raises ProductionSettingsError (production with a missing or well-known local secret,
    or with the public-token seed) or SeedError (a named seed that cannot be read) before
    anything is built.
    """
    settings = settings or Settings()
    refuse_local_secrets(settings, settings.required_secrets)
    seed = startup_seed(settings)
    registry = CollectorRegistry()
    policy = DeadLetterPolicy(group=settings.group_id)
    broker = make_broker(
        settings, client_id=settings.service_name, policy=policy, registry=registry
    )
    mongo = mongo_client(settings)
    intake = _intake(settings, mongo[settings.mongo_database])
    handlers.register(broker, settings, intake.cases, intake.directory)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await _ensure_indexes(intake)
        await intake.counters.prime()
        connecting = asyncio.create_task(_connect(settings, broker, intake, seed))
        await asyncio.wait([connecting], timeout=settings.startup_wait_seconds)
        try:
            yield
        finally:
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connecting
            await _shutdown(broker, intake)
            await mongo.close()

    app = new_app(
        "Intake",
        docs_description("Contacts' case API of the support portal.", settings.docs_urls),
        lifespan,
    )
    app.state.intake = intake
    install_error_handlers(app)
    app.include_router(api_router(intake))
    app.add_middleware(
        BodyLimit, json_limit=settings.max_json_bytes, multipart_limit=settings.max_multipart_bytes
    )
    app.add_middleware(ServerTiming)
    checks: dict[str, Check] = {
        "kafka": _kafka_check(intake.publisher, broker),
        "mongo": partial(mongo_reachable, mongo),
    }
    spec = partial(asyncapi_of, broker, title="Intake")
    app.include_router(ops_router(checks=checks, registry=registry, spec=spec))
    return app


def _kafka_check(publisher: EventPublisher, broker: KafkaBroker) -> Check:
    """Ready when the request-path producer is connected and the broker answers."""
    broker_ready = broker_check(broker)

    async def ready() -> bool:
        return publisher.ready and await broker_ready()

    return ready


def _intake(settings: Settings, db: AsyncDatabase[Document]) -> Intake:
    directory = DirectoryStore(db)
    return Intake(
        settings=settings,
        topics=settings.topics,
        directory=directory,
        cases=CaseStore(db),
        counters=CounterStore(db, settings.case_number_block, settings.case_number_start),
        idempotency=IdempotencyStore(db),
        attachments=AttachmentStore(db),
        publisher=EventPublisher(
            settings.kafka_bootstrap_servers,
            settings.service_name,
            settings.publish_timeout_ms,
            settings.linger_ms,
        ),
        zones=ZoneCache(directory),
        limiter=TokenBucket(rate=settings.rate_per_second, burst=settings.rate_burst),
    )


async def _ensure_indexes(intake: Intake) -> None:
    await intake.directory.ensure_indexes()
    await intake.cases.ensure_indexes()
    await intake.attachments.ensure_indexes()


async def _connect(
    settings: Settings, broker: KafkaBroker, intake: Intake, seed: Seed | None
) -> None:
    """Connect to Kafka, retrying while it is away, then load the directory seed if any."""
    while True:
        try:
            await ensure_topics(settings.kafka_bootstrap_servers, settings.topics.all_specs())
            await intake.publisher.start()
            await broker.start()
            break
        except Exception as exc:  # Kafka away: serve 503s and keep trying
            log.warning(
                "Kafka unreachable (%r); retrying in %.0f s", exc, settings.kafka_retry_seconds
            )
            await intake.publisher.stop()
            await asyncio.sleep(settings.kafka_retry_seconds)
    if seed is not None:
        await load_seed(seed, settings.topics.directory, intake.directory, intake.publisher)
    settle_heap()


async def _shutdown(broker: KafkaBroker, intake: Intake) -> None:
    await broker.stop()
    await intake.publisher.stop()
    await intake.cases.writer.close()
