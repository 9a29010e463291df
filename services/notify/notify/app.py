"""Composition root of the notify service: broker, Mongo, SMTP, handlers, HTTP app."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from faststream.kafka.publisher.usecase import DefaultPublisher
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient

from notify.delivery import DeadLetter, Delivery, Leases
from notify.handlers import Notifier, Poison, Timing, poison_to, register, retry_parked_forever
from notify.mailer import HttpReceipts, Mailer
from notify.models import DeadMail
from notify.render import Composer, Renderer, Sender
from notify.settings import Settings
from notify.store import CaseStore, ContactBook, NoticeStore, SentStore
from shared.directory import DirectoryStore
from shared.kafka import DeadLetterPolicy, ensure_topics, make_broker
from shared.mongo import Document, mongo_client, mongo_reachable
from shared.service import asyncapi_of, broker_check, new_app, ops_router, settle_heap


class Parts:
    """What the lifespan builds; subscribers reach it through getters."""

    notifier: Notifier
    directory: DirectoryStore
    mailer: Mailer


def mailer_of(settings: Settings) -> Mailer:
    """The SMTP pool the settings describe."""
    return Mailer(
        settings.smtp_host,
        settings.smtp_port,
        sender=settings.mail_from,
        access=settings.smtp_access(),
        connections=settings.smtp_connections,
        timeout=settings.smtp_timeout,
        data_timeout=settings.smtp_data_timeout,
        attempts=settings.smtp_attempts,
    )


def leases_of(lease: timedelta) -> Leases:
    """Renew three times per lease; wait for a claim held elsewhere a little over a lease."""
    seconds = lease.total_seconds()
    return Leases(renew_every=seconds / 3, patience=seconds * 4 / 3, poll=min(0.5, seconds / 10))


def dead_letter_to(to_mail_dlq: DefaultPublisher) -> DeadLetter:
    """Publish dead mail to the notify mail DLQ, keyed like its case."""

    async def publish(dead: DeadMail) -> None:
        key = str(dead.case_id or dead.event_id).encode()
        headers = {"x-error": dead.reason[:2000], "x-message-id": dead.message_id}
        await to_mail_dlq.publish(dead.model_dump_json(), key=key, headers=headers)

    return publish


async def build(
    settings: Settings,
    mongo: AsyncMongoClient[Document],
    to_mail_dlq: DefaultPublisher,
    registry: CollectorRegistry,
    poison: Poison,
) -> Parts:
    """Stores, mailer, composer and delivery, with their indexes in place."""
    db = mongo[settings.mongo_database]
    parts = Parts()
    parts.directory = DirectoryStore(db)
    lease = timedelta(seconds=settings.claim_lease_seconds)
    sent = SentStore(db, lease=lease)
    await parts.directory.ensure_indexes()
    await sent.ensure_indexes()
    parts.mailer = mailer_of(settings)
    sink = dead_letter_to(to_mail_dlq)
    sender = Sender(settings.mail_from_name, settings.mail_from, settings.mail_domain)
    timing = Timing(
        domain=settings.mail_domain,
        max_age=timedelta(hours=settings.max_mail_age_hours),
        grace=timedelta(seconds=settings.directory_grace_seconds),
    )
    parts.notifier = Notifier(
        cases=CaseStore(db),
        notices=NoticeStore(db),
        book=ContactBook(parts.directory),
        composer=Composer(Renderer(), sender),
        delivery=Delivery(
            sent,
            parts.mailer,
            sink,
            registry,
            leases_of(lease),
            2 * settings.smtp_connections,
            HttpReceipts(settings.receipts_url) if settings.receipts_url else None,
        ),
        timing=timing,
        poison=poison,
        concurrency=settings.case_concurrency,
    )
    return parts


def create_app(settings: Settings | None = None) -> FastAPI:
    """Wire the notify service; nothing connects until the lifespan starts."""
    settings = settings or Settings()
    registry = CollectorRegistry()
    policy = DeadLetterPolicy(group=settings.group_id)
    broker = make_broker(
        settings, client_id=settings.service_name, policy=policy, registry=registry
    )
    mongo = mongo_client(settings, retry_writes=False)  # idempotent writes, see mongo_client
    holder: dict[str, Parts] = {}
    to_mail_dlq = broker.publisher(
        settings.topics.notify_mail_dlq, description="Mail notify gave up on; replayable."
    )
    register(
        broker,
        settings,
        settings.group_id,
        lambda: holder["parts"].notifier,
        lambda: holder["parts"].directory,
        max_records=settings.batch_size,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await ensure_topics(settings.kafka_bootstrap_servers, settings.topics.all_specs())
        holder["parts"] = await build(
            settings, mongo, to_mail_dlq, registry, poison_to(broker, settings.group_id)
        )
        await broker.start()
        retrying = asyncio.create_task(retry_parked_forever(holder["parts"].notifier))
        settle_heap()
        try:
            yield
        finally:
            retrying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retrying
            await broker.stop()
            await holder["parts"].mailer.aclose()
            await mongo.close()

    app = new_app("Notify", "Notify service of the support portal.", lifespan)
    checks = {"kafka": broker_check(broker), "mongo": lambda: mongo_reachable(mongo)}
    spec = lambda: asyncapi_of(broker, title="Notify")  # noqa: E731
    app.include_router(ops_router(checks=checks, registry=registry, spec=spec))
    return app
