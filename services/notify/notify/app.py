"""Composition root of the notify service: broker, Mongo, SMTP, the service, HTTP app."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from faststream.kafka.publisher.usecase import DefaultPublisher
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient

from notify.delivery import DeadLetter, Delivery, Leases
from notify.handlers import register
from notify.mailer import HttpReceipts, Mailer
from notify.models import DeadMail
from notify.render import Composer, Renderer, Sender
from notify.service import Notifier, Timing, retry_parked_forever
from notify.settings import Settings
from notify.store import CaseStore, ContactBook, NoticeStore, SentStore
from shared.directory import DirectoryStore
from shared.docs import docs_description
from shared.kafka import DeadLetterPolicy, Poison, ensure_topics, make_broker, poison_to
from shared.mongo import Document, mongo_client, mongo_reachable
from shared.service import asyncapi_of, broker_check, new_app, ops_router, settle_heap

SUMMARY = (
    "Notify mails each case's recipients about what happens to the case, and authorized "
    "contacts about incidents and maintenance. It has no API of its own: these are its "
    "health, readiness and metrics routes."
)


@dataclass(frozen=True)
class Parts:
    """What the service is built of; stores and clients connect on first use."""

    notifier: Notifier
    directory: DirectoryStore
    sent: SentStore
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


def build(
    settings: Settings,
    mongo: AsyncMongoClient[Document],
    to_mail_dlq: DefaultPublisher,
    registry: CollectorRegistry,
    poison: Poison,
) -> Parts:
    """Stores, mailer, composer, delivery and the service around them."""
    db = mongo[settings.mongo_database]
    directory = DirectoryStore(db)
    lease = timedelta(seconds=settings.claim_lease_seconds)
    sent = SentStore(db, lease=lease)
    mailer = mailer_of(settings)
    receipts = HttpReceipts(settings.receipts_url) if settings.receipts_url else None
    delivery = Delivery(
        sent,
        mailer,
        dead_letter_to(to_mail_dlq),
        registry,
        leases_of(lease),
        lookahead=2 * settings.smtp_connections,
        receipts=receipts,
    )
    sender = Sender(settings.mail_from_name, settings.mail_from, settings.mail_domain)
    timing = Timing(
        domain=settings.mail_domain,
        max_age=timedelta(hours=settings.max_mail_age_hours),
        grace=timedelta(seconds=settings.directory_grace_seconds),
    )
    notifier = Notifier(
        cases=CaseStore(db),
        notices=NoticeStore(db),
        book=ContactBook(directory),
        composer=Composer(Renderer(), sender, settings.portal_url, settings.threading()),
        delivery=delivery,
        timing=timing,
        poison=poison,
        concurrency=settings.case_concurrency,
    )
    return Parts(notifier, directory, sent, mailer)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Wire the notify service; nothing connects until the lifespan starts."""
    settings = settings or Settings()
    registry = CollectorRegistry()
    policy = DeadLetterPolicy(group=settings.group_id)
    broker = make_broker(
        settings, client_id=settings.service_name, policy=policy, registry=registry
    )
    mongo = mongo_client(settings, retry_writes=False)  # idempotent writes, see mongo_client
    to_mail_dlq = broker.publisher(
        settings.topics.notify_mail_dlq, description="Mail notify gave up on; replayable."
    )
    poison = poison_to(broker, settings.group_id)
    parts = build(settings, mongo, to_mail_dlq, registry, poison)
    register(
        broker,
        settings,
        settings.group_id,
        parts.notifier,
        parts.directory,
        max_records=settings.batch_size,
    )
    lifespan = _lifespan(settings, broker, mongo, parts)
    app = new_app("Notify", docs_description(SUMMARY, settings.docs_urls), lifespan)
    checks = {"kafka": broker_check(broker), "mongo": lambda: mongo_reachable(mongo)}
    spec = lambda: asyncapi_of(broker, title="Notify")  # noqa: E731
    app.include_router(ops_router(checks=checks, registry=registry, spec=spec))
    return app


def _lifespan(
    settings: Settings, broker: KafkaBroker, mongo: AsyncMongoClient[Document], parts: Parts
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Topics and indexes in place, then consume; on shutdown stop consuming, then close."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await ensure_topics(settings.kafka_bootstrap_servers, settings.topics.all_specs())
        await parts.directory.ensure_indexes()
        await parts.sent.ensure_indexes()
        await broker.start()
        retrying = asyncio.create_task(retry_parked_forever(parts.notifier))
        settle_heap()
        try:
            yield
        finally:
            retrying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retrying
            await broker.stop()
            await parts.mailer.aclose()
            await mongo.close()

    return lifespan
