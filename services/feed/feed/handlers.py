"""Subscribers of the feed: decode, call the projection (service.py) under the swap fence."""

import asyncio
import contextlib
import logging
import time
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
    last_done: float = 0.0  # when the previous batch returned: the wait for this one

    async def handle(self, records: list[Record]) -> None:
        """Apply the batch, never while a rebuild swaps the collections; a Mongo fault
        retries the whole batch (every write is guarded)."""
        began = time.perf_counter()
        events = [event for record in records if (event := await self._decode(record))]
        try:
            async with self.fence.writing():
                fenced = time.perf_counter()
                await self.projection.project_all(events)
                written = time.perf_counter()
        except PyMongoError as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc
        done = time.perf_counter()
        log.info(
            "projected %d case events of %d records in %.0f ms (fence %.0f ms, writes %.0f ms,"
            " unfence %.0f ms); oldest record %.0f ms old, %.0f ms since the previous batch",
            len(events),
            len(records),
            (done - began) * 1000,
            (fenced - began) * 1000,
            (written - fenced) * 1000,
            (done - written) * 1000,
            _age_ms(records),
            (began - self.last_done) * 1000,
        )
        self.last_done = done

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


@dataclass
class SubjectIndexer:
    """Indexes the subjects of cases made visible before them (Projection.indexer), under
    the swap fence; woken by each live batch, and every `idle_s` for cases another replica
    or a crashed process left marked."""

    projection: Projection
    fence: Fence
    wake: asyncio.Event
    limit: int = 500
    idle_s: float = 1.0

    async def run(self) -> None:
        """Index until cancelled; a Mongo fault is logged and retried after `idle_s`."""
        while True:
            self.wake.clear()  # before the read: a batch marking cases meanwhile sets it again
            try:
                done = await self.once()
            except PyMongoError as exc:
                log.warning("indexing subjects failed, retrying: %s", exc)
                done = 0
            if done < self.limit:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.idle_s)

    async def once(self) -> int:
        """One round: how many cases' subjects were indexed."""
        began = time.perf_counter()
        async with self.fence.writing():
            done = await self.projection.index_pending(self.limit)
        if done:
            log.info("indexed %d subjects in %.0f ms", done, (time.perf_counter() - began) * 1000)
        return done


def register(
    broker: KafkaBroker,
    topics: Topics,
    group: str,
    projection: Projection,
    fence: Fence,
    max_records: int = 2_000,
    wait_ms: int = 200,
) -> None:
    """Subscribe the feed's handlers; called from create_app, never at import.

    Case events come in polled batches and the offsets are committed after the batch's
    writes return (NACK_ON_ERROR): a failed batch is redelivered whole, and applied once.
    """
    batches = CaseBatches(projection, poison_to(broker, group), fence)

    # FastStream sleeps `batch_timeout_ms` again after a poll that found nothing, so the
    # longest a record waits on an idle consumer is about twice `wait_ms`; the fetch waits
    # on the broker no longer than that either.
    @broker.subscriber(  # type: ignore[untyped-decorator]
        topics.case_events,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=wait_ms,
        fetch_max_wait_ms=wait_ms,
        **consumer_options(group),
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


def _age_ms(records: list[Record]) -> float:
    """How long ago the batch's oldest record was produced (its Kafka timestamp)."""
    stamps = [t for r in records if isinstance(t := getattr(r, "timestamp", None), int)]
    return time.time() * 1000 - min(stamps) if stamps else 0.0
