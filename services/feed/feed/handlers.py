"""Subscribers of the feed: decode, call the projection (service.py) under the swap fence."""

import logging
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError
from pymongo.errors import PyMongoError

from feed.service import Projection
from shared.events import CASE_EVENTS, AnyCaseEvent, AnyDirectoryEvent, AnyNoticeEvent
from shared.kafka import Poison, Record, Transient, consumer_options, poison_to
from shared.messages import UnknownMessage, decode
from shared.topics import Topics

log = logging.getLogger("feed.handlers")


class Fence(Protocol):
    """What live writers hold while they write the renamed collections (store.SwapFence)."""

    def writing(self) -> AbstractAsyncContextManager[None]: ...


@dataclass
class CaseBatches:
    """The live consumer's batches: decoded one by one, poison dead-lettered, applied in bulk."""

    projection: Projection
    poison: Poison
    fence: Fence

    async def handle(self, records: list[Record]) -> None:
        """Apply the batch, never while a rebuild swaps the collections; a Mongo fault
        retries the whole batch (every write is guarded)."""
        events = [event for record in records if (event := await self._decode(record))]
        try:
            async with self.fence.writing():
                await self.projection.project_all(events)
        except PyMongoError as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc
        log.info("projected %d case events of %d records", len(events), len(records))

    async def _decode(self, record: Record) -> AnyCaseEvent | None:
        try:
            event: AnyCaseEvent = decode(CASE_EVENTS, record.value or b"")
        except UnknownMessage:
            log.info("skipped a case event of unknown type at offset %d", record.offset)
            return None
        except (ValidationError, ValueError) as exc:
            await self.poison(record, exc)
            return None
        return event


def register(
    broker: KafkaBroker,
    topics: Topics,
    group: str,
    projection: Projection,
    fence: Fence,
    max_records: int = 2_000,
) -> None:
    """Subscribe the feed's handlers; called from create_app, never at import.

    Case events come in polled batches and the offsets are committed after the batch's
    writes return (NACK_ON_ERROR): a failed batch is redelivered whole, and applied once.
    """
    batches = CaseBatches(projection, poison_to(broker, group), fence)

    @broker.subscriber(  # type: ignore[untyped-decorator]
        topics.case_events, batch=True, max_records=max_records, **consumer_options(group)
    )
    async def on_case_events(_: list[Any], message: KafkaMessage) -> None:
        raw = message.raw_message
        await batches.handle(list(raw) if isinstance(raw, tuple | list) else [raw])

    @broker.subscriber(topics.directory, **consumer_options(group))  # type: ignore[untyped-decorator]
    async def on_directory_event(event: AnyDirectoryEvent) -> None:
        await projection.learn(event)
        async with fence.writing():  # a rename of cases mid-swap would miss some of them
            await projection.rename(event)

    @broker.subscriber(topics.incident_events, **consumer_options(group))  # type: ignore[untyped-decorator]
    async def on_notice_event(event: AnyNoticeEvent) -> None:
        await projection.keep_notice(event.notice)
