"""`python -m feed rebuild`: replay case.events from offset 0 into fresh collections, swap in."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import ValidationError
from pymongo import AsyncMongoClient, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from feed.app import projection_of, read_model
from feed.logic import change_for, feed_item, out_of_order, submission_names
from feed.service import Batch
from feed.settings import Settings
from feed.store import UNINDEXED, CaseStore, DistrictStore, FeedStore, SubjectStore, SwapFence
from shared.events import CASE_EVENTS, Account, AnyCaseEvent, CaseSubmitted, Contact
from shared.messages import UnknownMessage, decode
from shared.mongo import Document, mongo_client

log = logging.getLogger("feed.rebuild")

Offsets = dict[TopicPartition, int]
LIVE = ("cases", "feeds", "districts", "subjects")
SWAP_HOLD_S = 300.0  # how long a raised fence keeps live writers out if the rebuild dies
Cached = dict[str, Document]


@dataclass
class Fold:
    """Cases and feeds folded in memory, written in bulk when the cache fills or at the end.

    When the cache fills, its least recently folded half is written in the background while
    the next events are folded (the client decodes and folds while the server writes); a
    case read back waits for that write.
    """

    cases: CaseStore
    feed: FeedStore
    districts: DistrictStore
    max_cached: int = 10_000
    states: dict[str, Document] = field(default_factory=dict)
    feeds: dict[str, list[Document]] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    stored: set[str] = field(default_factory=set)
    replayed: dict[str, int] = field(default_factory=dict)  # ledger length of every case
    events: int = 0
    mongo_s: float = 0.0
    writing: asyncio.Task[None] | None = None

    async def batch(self, events: list[AnyCaseEvent], names: dict[str, Document]) -> None:
        """Fold one batch of events."""
        await self._load([str(e.case_id) for e in events])
        for event in events:
            self._fold(event, names)
        self.events += len(events)
        if len(self.states) > self.max_cached:
            await self._written()
            oldest = len(self.states) - self.max_cached // 2
            self.writing = asyncio.create_task(self._write(*self._take(oldest)))

    def _fold(self, event: AnyCaseEvent, names: dict[str, Document]) -> None:
        case_id, event_id = str(event.case_id), str(event.event_id)
        before = self.states.get(case_id)
        if before is not None and event_id in before["applied"]:
            return  # a duplicate on the topic: apply once
        change = change_for(event, names.get(event_id))
        self.states.pop(case_id, None)  # the most recently folded case goes last
        self.states[case_id] = change.apply(before, case_id, event_id)
        self.replayed[case_id] = len(self.states[case_id]["applied"])
        item = feed_item(event, before)
        if item is not None:
            self.feeds.setdefault(case_id, []).append(item)
        if isinstance(event, CaseSubmitted):
            self.members.setdefault(event.account_id, set()).add(case_id)

    async def _load(self, case_ids: list[str]) -> None:
        missing = [c for c in set(case_ids) if c in self.stored and c not in self.states]
        if not missing:
            return
        await self._written()
        began = time.perf_counter()
        query = {"_id": {"$in": missing}}
        self.states.update({d["_id"]: d async for d in self.cases.collection.find(query)})
        feeds = self.feed.collection.find(query)
        self.feeds.update({d["_id"]: d["items"] async for d in feeds})
        self.mongo_s += time.perf_counter() - began

    async def flush(self) -> None:
        """Write every cached case and feed, and wait until everything is written."""
        await self._written()
        await self._write(*self._take())

    async def _written(self) -> None:
        if self.writing is not None:
            writing, self.writing = self.writing, None
            await writing

    def _take(
        self, count: int | None = None
    ) -> tuple[Cached, Cached, dict[str, set[str]], set[str]]:
        """The `count` least recently folded cases (all by default) out of the cache, their
        feeds, the district members so far, and the ids stored before them."""
        keys = list(self.states)[:count]
        states = {key: self.states.pop(key) for key in keys}
        feeds = {k: {"_id": k, "items": self.feeds.pop(k)} for k in keys if k in self.feeds}
        members, stored = self.members, self.stored
        self.members, self.stored = {}, stored | states.keys()
        return states, feeds, members, stored

    async def _write(
        self, states: Cached, feeds: Cached, members: dict[str, set[str]], stored: set[str]
    ) -> None:
        """Replace the stored cases and feeds, insert the new ones, add district members."""
        began = time.perf_counter()
        for store, docs in ((self.cases, states), (self.feed, feeds)):
            await _write(store.collection, docs, stored)
        await self.districts.add_all(members)
        self.mongo_s += time.perf_counter() - began


async def _write(
    collection: AsyncCollection[Document], docs: dict[str, Document], stored: set[str]
) -> None:
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


async def _by_id(collection: AsyncCollection[Document], ids: set[str]) -> dict[str, Document]:
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

    async def batches(
        self, until: Offsets, size: int, keys: set[bytes] | None = None
    ) -> AsyncIterator[list[bytes | None]]:
        """Batches of raw values up to `until` (exclusive) on every partition, of `keys` only
        when given (a record's key is its case id)."""
        while True:
            pending = [tp for tp, end in until.items() if await self.consumer.position(tp) < end]
            if not pending:
                return
            fetched = await self.consumer.getmany(*pending, timeout_ms=500, max_records=size)
            values: list[bytes | None] = []
            for tp, records in fetched.items():
                values.extend(
                    r.value
                    for r in records
                    if r.offset < until[tp] and (keys is None or r.key in keys)
                )
                if records and records[-1].offset >= until[tp]:
                    # Fetched past this pass's end: rewind so the next pass reads those records.
                    self.consumer.seek(tp, until[tp])
            yield values

    async def stop(self) -> None:
        """Close the consumer."""
        await self.consumer.stop()


async def rebuild(settings: Settings, suffix: str | None = None) -> dict[str, Any]:
    """Replay into `<name>_rebuild_<ts>`, index, catch up, swap over the live collections.

    The live consumer keeps writing the live collections meanwhile, except while they are
    renamed: the swap waits behind a fence for the batches writing, and new batches wait
    for the swap (the server's rename races an insert into its target). Events that reach the
    topic while the rebuild runs are handled in three steps: the replay stops at the end
    offsets seen when it started; a second pass then reads up to the new end, so only the
    few events published during the swap itself are missing from the new collections; after
    the rename those are read once more and applied through the live, idempotent path
    (guarded by event id on the case and in its feed document), so an event the
    live consumer also applies to the new collections is not applied twice. A case the
    live consumer moved past one of those events is then folded again in topic order.
    """
    mongo = mongo_client(settings, timeout_ms=30_000)
    db = mongo[settings.mongo_database]
    stamp = suffix or time.strftime("%Y%m%d%H%M%S")
    cases, feed, districts, subjects = (
        CaseStore(db, f"cases_rebuild_{stamp}"),
        FeedStore(db, f"feeds_rebuild_{stamp}"),
        DistrictStore(db, f"districts_rebuild_{stamp}"),
        SubjectStore(db, f"subjects_rebuild_{stamp}"),
    )
    replayer = Replayer(settings, settings.topics.case_events)
    started = time.perf_counter()
    try:
        await replayer.start()
        fold = Fold(cases, feed, districts)
        await _replay(replayer, fold, db, await replayer.ends(), settings.rebuild_batch)
        replayed = time.perf_counter() - started
        await cases.ensure_indexes()
        await feed.ensure_indexes()
        await subjects.ensure_indexes()
        indexed = time.perf_counter() - started - replayed
        # Catch up what arrived while replaying, so the window left for after the swap is tiny.
        await _replay(replayer, fold, db, await replayer.ends(), settings.rebuild_batch)
        # The subject postings of every rebuilt case; later ones come with the catch-up.
        building = time.perf_counter()
        await subjects.build(cases, await districts.ids())
        subjects_s = time.perf_counter() - building
        rebuilt = [cases.collection, feed.collection, districts.collection, subjects.collection]
        await swap_all(db, [(c.name, live) for c, live in zip(rebuilt, LIVE, strict=True)])
        late = await _catch_up(replayer, settings, mongo)
        refolded = await refold_inverted(settings, mongo, fold.replayed, late)
    finally:
        await replayer.stop()
        await mongo.close()
    total = time.perf_counter() - started
    return {
        "events": fold.events,
        "replay_s": replayed,
        "mongo_write_s": fold.mongo_s,
        "index_s": indexed,
        "subjects_s": subjects_s,
        "total_s": total,
        "late_events": len(late),
        "refolded_cases": refolded,
    }


async def swap_all(db: AsyncDatabase[Document], swaps: list[tuple[str, str]]) -> None:
    """Rename each rebuilt collection over its live one while no live batch writes: the
    server's rename races writes to its target (a document inserted meanwhile is kept twice)."""
    fence = SwapFence(db)
    try:
        for rebuilt, live in swaps:
            await fence.raise_for(SWAP_HOLD_S)  # held again per rename: a slow one outlasts it
            await _swap(db, rebuilt, live)
    finally:
        await fence.lower()


async def _swap(db: AsyncDatabase[Document], rebuilt: str, live: str) -> None:
    """Rename the rebuilt collection over the live one; nothing rebuilt empties the live one."""
    if rebuilt in await db.list_collection_names():
        await db[rebuilt].rename(live, dropTarget=True)
    else:
        await db.drop_collection(live)


async def _replay(
    replayer: Replayer, fold: Fold, db: AsyncDatabase[Document], until: Offsets, size: int
) -> None:
    async for values in replayer.batches(until, size):
        events = parse(values)
        await fold.batch(events, await submission_names_of(db, events))
    await fold.flush()


async def _catch_up(
    replayer: Replayer, settings: Settings, mongo: AsyncMongoClient[Document]
) -> list[AnyCaseEvent]:
    """Events that reached the topic during the swap, applied through the idempotent live path."""
    projection = projection_of(read_model(settings, mongo))
    late: list[AnyCaseEvent] = []
    async for values in replayer.batches(await replayer.ends(), settings.rebuild_batch):
        events = parse(values)
        await projection.project_all(events)
        late += events
    return late


async def refold_inverted(
    settings: Settings,
    mongo: AsyncMongoClient[Document],
    replayed: dict[str, int],
    late: list[AnyCaseEvent],
) -> int:
    """Fold again, in topic order, every case the live consumer moved past a late event.

    The live consumer writes the swapped-in collections as soon as they are renamed, so it
    can apply a case's next event before the catch-up applies that case's late one. Such a
    case's ledger shows it; the case is then folded from its whole history on the topic.
    """
    by_case: dict[str, list[str]] = {}
    for event in late:
        by_case.setdefault(str(event.case_id), []).append(str(event.event_id))
    cases = CaseStore(mongo[settings.mongo_database])
    stored = await cases.many(list(by_case))
    inverted = {
        case_id
        for case_id, ids in by_case.items()
        if case_id in stored
        and out_of_order(stored[case_id]["applied"], replayed.get(case_id, 0), ids)
    }
    if inverted:
        log.warning(
            "%d cases saw a live event before a late one: folding them again", len(inverted)
        )
        await refold(settings, mongo, inverted)
    return len(inverted)


async def refold(
    settings: Settings, mongo: AsyncMongoClient[Document], case_ids: set[str], attempts: int = 5
) -> None:
    """Fold these cases from offset 0 and store them unless a live write got there first;
    those are folded again, up to the new end of the topic."""
    db = mongo[settings.mongo_database]
    cases, feed = CaseStore(db), FeedStore(db)
    pending = set(case_ids)
    for _ in range(attempts):
        if not pending:
            return
        events = await _history(settings, pending)
        batch = Batch({})
        names = await submission_names_of(db, events)
        for event in events:
            batch.fold(event, names.get(str(event.event_id)))
        stored = await cases.many(sorted(pending))
        pending = {c for c in pending if not await _store(cases, feed, stored.get(c), batch, c)}
    raise RuntimeError(f"cases {sorted(pending)} kept changing while folded again: rebuild again")


async def _history(settings: Settings, case_ids: set[str]) -> list[AnyCaseEvent]:
    replayer = Replayer(settings, settings.topics.case_events)
    try:
        await replayer.start()
        keys = {c.encode() for c in case_ids}
        events: list[AnyCaseEvent] = []
        async for values in replayer.batches(await replayer.ends(), settings.rebuild_batch, keys):
            events += parse(values)
        return events
    finally:
        await replayer.stop()


async def _store(
    cases: CaseStore, feed: FeedStore, stored: Document | None, batch: Batch, case_id: str
) -> bool:
    """Replace the case if nothing was applied to it past the fold; reword its feed entries."""
    state = batch.states.get(case_id)
    if state is None or stored is None:
        return True
    if not set(stored["applied"]) <= set(state["applied"]):
        return False  # the live consumer applied a newer event: fold again up to it
    if stored.get(UNINDEXED):
        state = {**state, UNINDEXED: True}  # the live indexer has not entered its subject yet
    if not await cases.replace_if(state, stored["applied"]):
        return False
    await feed.reword([item for c, item in batch.items if c == case_id], case_id)
    return True


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
