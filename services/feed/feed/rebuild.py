"""`python -m feed rebuild`: replay case.events from offset 0 into fresh collections, swap in."""

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import ValidationError
from pymongo import ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

from feed.app import projection_of, read_model
from feed.logic import change_for, feed_item, submission_names
from feed.settings import Settings
from feed.store import CaseStore, FeedStore
from shared.events import CASE_EVENTS, Account, AnyCaseEvent, CaseSubmitted, Contact
from shared.messages import UnknownMessage, decode
from shared.mongo import Document, mongo_client

log = logging.getLogger("feed.rebuild")

Offsets = dict[TopicPartition, int]


@dataclass
class Fold:
    """Cases and feeds folded in memory, written in bulk when the cache fills or at the end."""

    cases: CaseStore
    feed: FeedStore
    max_cached: int = 10_000
    states: dict[str, Document] = field(default_factory=dict)
    feeds: dict[str, list[Document]] = field(default_factory=dict)
    stored: set[str] = field(default_factory=set)
    events: int = 0
    mongo_s: float = 0.0

    async def batch(self, events: list[AnyCaseEvent], names: dict[str, Document]) -> None:
        """Fold one batch of events."""
        began = time.perf_counter()
        await self._load([str(e.case_id) for e in events])
        self.mongo_s += time.perf_counter() - began
        for event in events:
            self._fold(event, names)
        self.events += len(events)
        if len(self.states) > self.max_cached:
            await self.flush()

    def _fold(self, event: AnyCaseEvent, names: dict[str, Document]) -> None:
        case_id, event_id = str(event.case_id), str(event.event_id)
        before = self.states.get(case_id)
        if before is not None and event_id in before["applied"]:
            return  # a duplicate on the topic: apply once
        change = change_for(event, names.get(event_id))
        self.states[case_id] = change.apply(before, case_id, event_id)
        item = feed_item(event, before)
        if item is not None:
            self.feeds.setdefault(case_id, []).append(item)

    async def _load(self, case_ids: list[str]) -> None:
        missing = [c for c in set(case_ids) if c in self.stored and c not in self.states]
        if not missing:
            return
        query = {"_id": {"$in": missing}}
        self.states.update({d["_id"]: d async for d in self.cases.collection.find(query)})
        feeds = self.feed.collection.find(query)
        self.feeds.update({d["_id"]: d["items"] async for d in feeds})

    async def flush(self) -> None:
        """Write every cached case and feed: replace the stored ones, insert the new ones."""
        began = time.perf_counter()
        for store, docs in ((self.cases, self.states), (self.feed, self._feed_docs())):
            await _write(store.collection, docs, self.stored)
        self.stored.update(self.states)
        self.states.clear()
        self.feeds.clear()
        self.mongo_s += time.perf_counter() - began

    def _feed_docs(self) -> dict[str, Document]:
        return {key: {"_id": key, "items": items} for key, items in self.feeds.items()}


async def _write(collection: Any, docs: dict[str, Document], stored: set[str]) -> None:
    fresh = [doc for key, doc in docs.items() if key not in stored]
    known = [ReplaceOne({"_id": k}, d, upsert=True) for k, d in docs.items() if k in stored]
    if fresh:
        await collection.insert_many(fresh, ordered=False)
    if known:
        await collection.bulk_write(known, ordered=False)


async def submission_names_of(
    db: AsyncDatabase[Document], events: list[AnyCaseEvent]
) -> dict[str, Document]:
    """Names for the batch's submissions, keyed by event id, in two directory reads."""
    subs = [e for e in events if isinstance(e, CaseSubmitted)]
    if not subs:
        return {}
    accounts = await _by_id(db["dir_accounts"], {e.account_id for e in subs})
    contacts = await _by_id(db["dir_contacts"], {e.contact_id for e in subs})
    return {
        str(e.event_id): submission_names(
            e,
            Account.model_validate(accounts[e.account_id]) if e.account_id in accounts else None,
            Contact.model_validate(contacts[e.contact_id]) if e.contact_id in contacts else None,
        )
        for e in subs
    }


async def _by_id(collection: Any, ids: set[str]) -> dict[str, Document]:
    return {doc["_id"]: doc async for doc in collection.find({"_id": {"$in": sorted(ids)}})}


def parse(values: list[bytes | None]) -> list[AnyCaseEvent]:
    """Decode a batch; unknown or malformed messages are skipped (live dead-letters them)."""
    events = []
    for value in values:
        if value is None:
            continue
        try:
            events.append(decode(CASE_EVENTS, value))
        except (UnknownMessage, ValidationError) as exc:
            log.warning("skipped an undecodable case event: %s", str(exc)[:200])
    return events


async def _partitions(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for d in described for p in d.get("partitions", []))


class Replayer:
    """A throwaway consumer (no group, no commits) over every partition of case.events."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.topic = topic
        self.bootstrap = settings.kafka_bootstrap_servers
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=32 * 1024 * 1024,
        )

    async def start(self) -> None:
        """Assign every partition, positioned at offset 0."""
        await self.consumer.start()
        partitions = await _partitions(self.bootstrap, self.topic)
        if not partitions:
            raise RuntimeError(f"topic {self.topic} has no partitions: is TOPIC_NAMESPACE right?")
        self.consumer.assign([TopicPartition(self.topic, p) for p in sorted(partitions)])
        await self.consumer.seek_to_beginning()

    async def ends(self) -> Offsets:
        """The current end of every partition."""
        ends: Offsets = await self.consumer.end_offsets(list(self.consumer.assignment()))
        return ends

    async def batches(self, until: Offsets, size: int) -> Any:
        """Batches of raw values up to `until` (exclusive) on every partition."""
        while True:
            pending = [tp for tp, end in until.items() if await self.consumer.position(tp) < end]
            if not pending:
                return
            fetched = await self.consumer.getmany(*pending, timeout_ms=500, max_records=size)
            values: list[bytes | None] = []
            for tp, records in fetched.items():
                values.extend(r.value for r in records if r.offset < until[tp])
                if records and records[-1].offset >= until[tp]:
                    # Fetched past this pass's end: rewind so the next pass reads those records.
                    self.consumer.seek(tp, until[tp])
            yield values

    async def stop(self) -> None:
        """Close the consumer."""
        await self.consumer.stop()


async def rebuild(settings: Settings, suffix: str | None = None) -> dict[str, Any]:
    """Replay into `<name>_rebuild_<ts>`, index, catch up, swap over the live collections.

    The live consumer keeps writing the live collections meanwhile. Events that reach the
    topic while the rebuild runs are handled in three steps: the replay stops at the end
    offsets seen when it started; a second pass then reads up to the new end, so only the
    few events published during the swap itself are missing from the new collections; after
    the rename those are read once more and applied through the live, idempotent path
    (guarded by event id on the case and in its feed document), so an event the
    live consumer also applies to the new collections is not applied twice.
    """
    mongo = mongo_client(settings, timeout_ms=30_000)
    db = mongo[settings.mongo_database]
    stamp = suffix or time.strftime("%Y%m%d%H%M%S")
    cases, feed = (
        CaseStore(db, f"cases_rebuild_{stamp}"),
        FeedStore(db, f"feeds_rebuild_{stamp}"),
    )
    replayer = Replayer(settings, settings.topics.case_events)
    started = time.perf_counter()
    try:
        await replayer.start()
        fold = Fold(cases, feed)
        await _replay(replayer, fold, db, await replayer.ends(), settings.rebuild_batch)
        replayed = time.perf_counter() - started
        await cases.ensure_indexes()
        await feed.ensure_indexes()
        # Catch up what arrived while replaying, so the window left for after the swap is tiny.
        await _replay(replayer, fold, db, await replayer.ends(), settings.rebuild_batch)
        await cases.collection.rename("cases", dropTarget=True)
        await feed.collection.rename("feeds", dropTarget=True)
        late = await _catch_up(replayer, settings, mongo)
    finally:
        await replayer.stop()
        await mongo.close()
    total = time.perf_counter() - started
    return {
        "events": fold.events,
        "replay_s": replayed,
        "mongo_write_s": fold.mongo_s,
        "total_s": total,
        "late_events": late,
    }


async def _replay(replayer: Replayer, fold: Fold, db: Any, until: Offsets, size: int) -> None:
    async for values in replayer.batches(until, size):
        events = parse(values)
        await fold.batch(events, await submission_names_of(db, events))
    await fold.flush()


async def _catch_up(replayer: Replayer, settings: Settings, mongo: Any) -> int:
    """Events that reached the topic during the swap, applied through the idempotent live path."""
    projection = projection_of(read_model(settings, mongo))
    count = 0
    async for values in replayer.batches(await replayer.ends(), settings.rebuild_batch):
        for event in parse(values):
            await projection.project(event)
            count += 1
    return count


def main(settings: Settings) -> None:
    """Run a rebuild and print what it did."""
    summary = asyncio.run(rebuild(settings))
    log.info(
        "rebuilt %d events in %.1f s (replay %.1f s, %d late events applied after the swap)",
        summary["events"],
        summary["total_s"],
        summary["replay_s"],
        summary["late_events"],
    )
