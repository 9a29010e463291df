"""Composition root of the feed service: broker, Mongo client, stores, subscribers, HTTP app."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient

from feed.api import add_routes
from feed.handlers import SubjectIndexer, register
from feed.service import Projection, ReadModel
from feed.settings import Settings
from feed.store import (
    CaseStore,
    DistrictStore,
    FeedStore,
    NoticeStore,
    SubjectStore,
    SwapFence,
)
from shared.directory import DirectoryStore
from shared.docs import docs_description
from shared.kafka import DeadLetterPolicy, ensure_topics, make_broker
from shared.mongo import Document, mongo_client, mongo_reachable
from shared.service import Check, asyncapi_of, broker_check, new_app, ops_router, settle_heap

SUMMARY = (
    "Case read model of the support portal: the cases of a contact's districts, listed, "
    "filtered and searched; each case with its feed of posts and activity; the outcome of a "
    "close or reopen; and the portal banner. Every call needs a bearer token "
    "(`Authorization: Bearer <token>`); a contact sees only their districts' cases."
)


def read_model(settings: Settings, mongo: AsyncMongoClient[Document]) -> ReadModel:
    """The stores over the service's database."""
    db = mongo[settings.mongo_database]
    districts = DistrictStore(db)
    return ReadModel(
        cases=CaseStore(db),
        feed=FeedStore(db),
        notices=NoticeStore(db),
        directory=DirectoryStore(db),
        districts=districts,
        subjects=SubjectStore(db, sizes=districts.size),
        status_board_url=settings.status_board_url,
        outcome_poll_s=settings.outcome_poll_s,
    )


def projection_of(model: ReadModel) -> Projection:
    """The projection writing into the read model's stores."""
    return Projection(
        model.cases,
        model.feed,
        model.notices,
        model.directory,
        model.districts,
        model.subjects,
        model.wakeups,
    )


async def ensure_indexes(model: ReadModel) -> None:
    """Every index the reads and the projection use."""
    await model.cases.ensure_indexes()
    await model.feed.ensure_indexes()
    await model.notices.ensure_indexes()
    await model.directory.ensure_indexes()
    await model.districts.ensure_indexes()
    await model.subjects.ensure_indexes()
    await model.subjects.backfill(model.cases, model.districts)


def create_app(settings: Settings | None = None, broker: KafkaBroker | None = None) -> FastAPI:
    """Wire the feed service; nothing connects until the lifespan starts."""
    settings = settings or Settings()
    registry = CollectorRegistry()
    policy = DeadLetterPolicy(group=settings.group_id)
    broker = broker or make_broker(
        settings, client_id=settings.service_name, policy=policy, registry=registry
    )
    mongo = mongo_client(settings)
    model = read_model(settings, mongo)
    fence = SwapFence(mongo[settings.mongo_database])
    projection = projection_of(model)
    indexer = None
    if settings.subjects_deferred:
        projection.indexer = asyncio.Event()
        indexer = SubjectIndexer(projection, fence, projection.indexer, settings.subjects_batch)
    register(
        broker,
        settings.topics,
        settings.group_id,
        projection,
        fence,
        settings.live_batch,
        settings.live_wait_ms,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await ensure_topics(settings.kafka_bootstrap_servers, settings.topics.all_specs())
        await ensure_indexes(model)
        await broker.start()
        indexing = asyncio.create_task(indexer.run()) if indexer else None
        settle_heap()
        try:
            yield
        finally:
            await broker.stop()
            if indexing is not None:
                indexing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await indexing
            await mongo.close()

    app = new_app("Feed", docs_description(SUMMARY, settings.docs_urls), lifespan)
    checks: dict[str, Check] = {
        "kafka": broker_check(broker),
        "mongo": partial(mongo_reachable, mongo),
    }
    spec = partial(asyncapi_of, broker, title="Feed")
    app.include_router(ops_router(checks=checks, registry=registry, spec=spec))
    add_routes(app, model)
    return app
