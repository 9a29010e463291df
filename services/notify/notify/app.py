"""Composition root of the notify service: broker, Mongo client, HTTP app."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from notify.settings import Settings
from shared.kafka import DeadLetterPolicy, ensure_topics, make_broker
from shared.mongo import mongo_client, mongo_reachable
from shared.service import asyncapi_of, broker_check, new_app, ops_router


def create_app(settings: Settings | None = None) -> FastAPI:
    """Wire the notify service; nothing connects until the lifespan starts."""
    settings = settings or Settings()
    registry = CollectorRegistry()
    policy = DeadLetterPolicy(group=settings.service_name)
    broker = make_broker(
        settings, client_id=settings.service_name, policy=policy, registry=registry
    )
    mongo = mongo_client(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await ensure_topics(settings.kafka_bootstrap_servers, settings.topics.all_specs())
        await broker.start()
        try:
            yield
        finally:
            await broker.stop()
            await mongo.close()

    app = new_app("Notify", "Notify service of the support portal.", lifespan)
    checks = {"kafka": broker_check(broker), "mongo": lambda: mongo_reachable(mongo)}
    spec = lambda: asyncapi_of(broker, title="Notify")  # noqa: E731
    app.include_router(ops_router(checks=checks, registry=registry, spec=spec))
    return app
