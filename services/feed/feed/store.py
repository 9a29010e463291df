"""Mongo access of the feed: cases, feeds, districts, subjects, notices, one class each."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from pymongo import ASCENDING, DESCENDING, InsertOne, ReplaceOne, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from feed.logic import (
    BUCKET_SIZE,
    EPOCH,
    EQUALITY_FILTERED,
    RANGE_FILTERED,
    CaseChange,
    CaseQuery,
    Posting,
    Subject,
    case_pipeline,
    matching_ids,
    newest_filter,
    newest_first,
    posting_filter,
    postings,
    subject_of,
    window_pipeline,
)
from shared.events import Notice
from shared.mongo import Document

# Everything the list shows; the heavy fields (details, description, applied ids) stay behind.
LIST_PROJECTION = {
    "_id": 1,
    "number": 1,
    "subject": 1,
    "status": 1,
    "priority": 1,
    "module": 1,
    "case_type": 1,
    "account_id": 1,
    "account_name": 1,
    "contact_id": 1,
    "contact_name": 1,
    "owner": 1,
    "created_at": 1,
    "last_modified": 1,
    "closed": 1,
    "closed_at": 1,
}


DUPLICATE_KEY = 11000
# Windows remembered for the newest-first list; past this many the memory is started over.
MAX_WINDOWS = 10_000
COLD_WINDOW_DAYS = (1, 30, 365)
FORMER_GRAMS_INDEX = "subject_grams_1_account_id_1"
FORMER_GRAM_INDEX = "gram_1"
BUILT = "built-buckets"  # the marker of a `subjects` collection built from the cases
SIZE_TTL = 60.0  # seconds a district's size is counted on locally before it is read again
# Posting writes per round trip: a batch of submissions writes tens of thousands, and one
# bulk of them all outlasted the client's socket timeout (the batch retried forever).
POSTING_CHUNK = 500
Save = tuple[Document, Document | None]  # a case and the guard of its write
# On a case visible before its subject is in `subjects`: the indexer's work list.
UNINDEXED = "unindexed"


class AlreadyStored(Exception):
    """An unordered bulk write met documents another writer had inserted first."""

    def __init__(self, message: str, indexes: list[int]) -> None:
        super().__init__(message)
        self.indexes = indexes  # of the writes that met them


class CaseStore:
    """The `cases` collection: one document per case, the list and detail read model."""

    def __init__(self, db: AsyncDatabase[Document], name: str = "cases") -> None:
        self.collection: AsyncCollection[Document] = db[name]
        # (district, how many) -> a last-modified bound holding at least that many cases.
        self.windows: dict[tuple[str | None, int], datetime] = {}

    async def ensure_indexes(self) -> None:
        """The indexes of the list filters, of contact renames and of lookups by number."""
        await self.collection.create_index("contact_id")
        await self.collection.create_index(UNINDEXED)
        await self.collection.create_index("number")
        for name in RANGE_FILTERED:
            await self.collection.create_index([(name, ASCENDING)])
            await self.collection.create_index([("account_id", ASCENDING), (name, ASCENDING)])
        for name in EQUALITY_FILTERED:
            await self.collection.create_index([(name, ASCENDING), ("account_id", ASCENDING)])
        if FORMER_GRAMS_INDEX in await self.collection.index_information():
            # The grams moved to `subjects`: every case update rewrote ~25 entries of it.
            await self.collection.drop_index(FORMER_GRAMS_INDEX)

    async def apply(self, case_id: str, event_id: str, change: CaseChange) -> Document | None:
        """Apply a change once; the case as it was before, or None when already applied."""
        query = {"_id": case_id, "applied": {"$ne": event_id}}
        try:
            before: Document | None = await self.collection.find_one_and_update(
                query,
                change.update(event_id),
                upsert=True,
                return_document=ReturnDocument.BEFORE,
                projection={"applied": 0},
            )
        except DuplicateKeyError:
            return None  # the guard missed an existing case: this event was applied before
        return before if before is not None else {}

    async def save_all(self, saves: list[Save]) -> set[str]:
        """Write each case unless it changed since it was read; the ids of those not written.

        A guard names the fields as they were read: the case is replaced only if they are
        unchanged. A case without a guard is new and inserted, unless another writer
        inserted it first. One round trip: a replace upserts, so a guard that no longer
        matches meets the stored case's id, and the write's duplicate-key error names it
        (no read of the ledgers back).
        """
        ops = [
            InsertOne(doc)
            if guard is None
            else ReplaceOne({"_id": doc["_id"], **guard}, doc, upsert=True)
            for doc, guard in saves
        ]
        try:
            await _bulk(self.collection, ops)
        except AlreadyStored as exc:
            return {saves[i][0]["_id"] for i in exc.indexes}
        return set()

    async def replace_if(self, doc: Document, applied: list[str]) -> bool:
        """Replace the case if its ledger is still exactly `applied`; whether it was."""
        result = await self.collection.replace_one({"_id": doc["_id"], "applied": applied}, doc)
        return result.matched_count == 1

    async def many(self, case_ids: list[str]) -> dict[str, Document]:
        """The stored cases of these ids, with their applied-event ledgers."""
        cursor = self.collection.find({"_id": {"$in": case_ids}})
        return {doc["_id"]: doc async for doc in cursor}

    async def newest(self, accounts: list[str] | None, count: int) -> list[Document]:
        """The `count` most recently modified cases of the districts (None: all), newest first.

        The server sorts every candidate the index hands it before the limit applies, so
        the read is narrowed to a window of last-modified times known to hold `count` cases
        of each district. A case's last-modified time never goes down, so a window that held
        `count` cases still holds them; a smaller answer widens the window, last to all time.
        """
        found: list[Document] = []
        for account in accounts if accounts is not None else [None]:
            found += await self._newest_of(account, count)
        return newest_first(found)[:count]

    async def newest_matching(
        self, accounts: list[str] | None, count: int, residual: Document, first: int = 0
    ) -> list[Document]:
        """The `count` most recently modified cases of the districts matching `residual`.

        Each district is read in the window known to hold its `n` newest cases, `n` doubling
        from `first` (at least twice the page) until the window holds `count` matches (or is
        all time): a matching case outside the window is older than every case in it.
        """
        found: list[Document] = []
        for account in accounts if accounts is not None else [None]:
            found += await self._newest_matching_of(account, count, residual, first)
        return newest_first(found)[:count]

    async def _newest_matching_of(
        self, account: str | None, count: int, residual: Document, first: int
    ) -> list[Document]:
        n = max(first, 2 * count)
        while True:
            since = self.windows.get((account, n))
            if since is None:
                held = await self._newest_of(account, n)
                since = held[-1]["last_modified"] if len(held) >= n else EPOCH
            pipeline = window_pipeline(account, since, residual, count, LIST_PROJECTION)
            docs = await (await self.collection.aggregate(pipeline)).to_list()
            if len(docs) >= count or since == EPOCH:
                return docs
            n *= 2

    async def _newest_of(self, account: str | None, count: int) -> list[Document]:
        key = (account, count)
        docs: list[Document] = []
        now = datetime.now(UTC)
        # Without a remembered window, recent days first: the newest cases are usually recent.
        guesses = [now - timedelta(days=d) for d in COLD_WINDOW_DAYS]
        for since in dict.fromkeys([self.windows.get(key, guesses[0]), *guesses, EPOCH]):
            cursor = self.collection.find(newest_filter(account, since), LIST_PROJECTION)
            order = [("last_modified", DESCENDING), ("number", DESCENDING)]
            docs = await cursor.sort(order).limit(count).to_list()
            if len(docs) >= count:
                if len(self.windows) >= MAX_WINDOWS:
                    self.windows.clear()
                self.windows[key] = docs[-1]["last_modified"]
                break
        return docs

    async def explain_newest(self, account: str | None) -> Document:
        """The server's plan for the newest-first window read (tests assert an index scan)."""
        command = {"find": self.collection.name, "filter": newest_filter(account, EPOCH)}
        db = self.collection.database
        return await db.command("explain", command, verbosity="queryPlanner")

    async def get(self, case_id: str) -> Document | None:
        """The case by id, without the applied-event ledger."""
        return await self.collection.find_one({"_id": case_id}, {"applied": 0})

    async def unindexed(self, limit: int) -> list[Document]:
        """Up to `limit` cases whose subject is not in `subjects` yet, oldest first."""
        fields = {"account_id": 1, "subject_lc": 1, "created_at": 1}
        cursor = self.collection.find({UNINDEXED: True}, fields)
        return await cursor.sort([("created_at", ASCENDING)]).limit(limit).to_list()

    async def unindexed_matching(self, accounts: list[str] | None, residual: Document) -> list[str]:
        """The ids of the districts' cases not indexed yet that match `residual`."""
        query: Document = {UNINDEXED: True, **residual}
        if accounts is not None:
            query["account_id"] = {"$in": accounts}
        return [doc["_id"] async for doc in self.collection.find(query, {"_id": 1})]

    async def mark_indexed(self, case_ids: list[str]) -> None:
        """These cases' subjects are in `subjects` now."""
        query = {"_id": {"$in": case_ids}, UNINDEXED: True}
        await self.collection.update_many(query, {"$unset": {UNINDEXED: ""}})

    async def by_number(self, number: int) -> Document | None:
        """The case by its number."""
        return await self.collection.find_one({"number": number}, {"applied": 0})

    async def search(self, query: CaseQuery, skip: int, limit: int) -> tuple[int, list[Document]]:
        """One page of cases and the total, in one round trip."""
        pipeline = case_pipeline(query, skip, limit, LIST_PROJECTION)
        result = await (await self.collection.aggregate(pipeline)).to_list()
        facet = result[0] if result else {"items": [], "total": []}
        total = facet["total"][0]["n"] if facet["total"] else 0
        return int(total), list(facet["items"])

    async def explain(self, query: CaseQuery) -> Document:
        """The server's plan for a list query (tests assert no collection scan)."""
        pipeline = case_pipeline(query, 0, 20, LIST_PROJECTION)
        command = {"aggregate": self.collection.name, "pipeline": pipeline, "cursor": {}}
        db = self.collection.database
        return await db.command("explain", command, verbosity="queryPlanner")

    async def rename_account(self, account_id: str, name: str) -> None:
        """A district's new name on all its cases."""
        await self.collection.update_many(
            {"account_id": account_id, "account_name": {"$ne": name}},
            {"$set": {"account_name": name}},
        )

    async def rename_contact(self, contact_id: str, name: str) -> None:
        """A contact's new name on all their cases."""
        await self.collection.update_many(
            {"contact_id": contact_id, "contact_name": {"$ne": name}},
            {"$set": {"contact_name": name, "contact_lc": name.lower()}},
        )


class FeedStore:
    """The `feeds` collection: one document per case holding its posts and activity.

    One document per case, not per item: a case's feed is read whole (a point lookup), and
    the replay writes a tenth of the documents, which is what bounds it on this server.
    """

    def __init__(self, db: AsyncDatabase[Document], name: str = "feeds") -> None:
        self.collection: AsyncCollection[Document] = db[name]

    async def ensure_indexes(self) -> None:
        """Feeds are read by case id, the primary key: no secondary index is needed."""

    async def add(self, case_id: str, item: Document) -> None:
        """Append once: a redelivered event keeps the first wording."""
        guard = {"_id": case_id, "items._id": {"$ne": item["_id"]}}
        with contextlib.suppress(DuplicateKeyError):  # the item is already there
            await self.collection.update_one(guard, {"$push": {"items": item}}, upsert=True)

    async def add_all(self, items: list[tuple[str, Document]]) -> None:
        """Append each item once: one push per case, item by item where some were there."""
        unique: dict[str, dict[str, Document]] = {}
        for case_id, item in items:  # an event redelivered within the batch: its first item
            unique.setdefault(case_id, {}).setdefault(item["_id"], item)
        by_case = {c: list(found.values()) for c, found in unique.items()}
        cases = list(by_case)
        ops = [
            UpdateOne(
                {"_id": c, "items._id": {"$nin": [i["_id"] for i in by_case[c]]}},
                {"$push": {"items": {"$each": by_case[c]}}},
                upsert=True,
            )
            for c in cases
        ]
        if not ops:
            return
        try:
            await self.collection.bulk_write(ops, ordered=False)
        except BulkWriteError as exc:
            if not _only_duplicates(exc):
                raise
            for error in exc.details["writeErrors"]:  # some of the case's items were there
                case_id = cases[error["index"]]
                for item in by_case[case_id]:
                    await self.add(case_id, item)

    async def reword(self, items: list[Document], case_id: str) -> None:
        """Give each of the case's entries this wording, adding the ones missing."""
        for item in items:
            found = {"_id": case_id, "items._id": item["_id"]}
            result = await self.collection.update_one(found, {"$set": {"items.$": item}})
            if result.matched_count == 0:
                await self.add(case_id, item)

    async def items(self, case_id: str) -> list[Document]:
        """Every feed item of a case, in the order they were added."""
        doc = await self.collection.find_one({"_id": case_id})
        return list(doc["items"]) if doc else []


class DistrictStore:
    """The `districts` collection: the case ids of each district, for exact list totals.

    Counting the cases of a district on this server decodes every one of them; a set of
    ids is kept idempotently ($addToSet) so a redelivered submission is not counted twice.
    """

    def __init__(self, db: AsyncDatabase[Document], name: str = "districts") -> None:
        self.collection: AsyncCollection[Document] = db[name]

    async def ensure_indexes(self) -> None:
        """Districts are read by id, the primary key: no secondary index is needed."""

    async def add_all(self, members: dict[str, set[str]]) -> None:
        """Record cases as members of their districts."""
        ops = [
            UpdateOne({"_id": a}, {"$addToSet": {"cases": {"$each": sorted(ids)}}}, upsert=True)
            for a, ids in members.items()
        ]
        if ops:
            await self.collection.bulk_write(ops, ordered=False)

    async def ids(self) -> list[str]:
        """Every district holding a case."""
        return [doc["_id"] async for doc in self.collection.find({}, {"_id": 1})]

    async def size(self, account: str) -> int:
        """How many cases one district holds."""
        return await self.total([account])

    async def total(self, accounts: list[str] | None) -> int:
        """How many cases the districts hold (None: every district)."""
        query = {} if accounts is None else {"_id": {"$in": accounts}}
        return sum([len(doc.get("cases", [])) async for doc in self.collection.find(query)])


class SubjectStore:
    """The `subjects` collection: per district and gram (two or three characters), the cases
    whose lowercased subject holds it, with that subject, in buckets of about `bucket_size`
    cases: `{_id, gram, account_id, cases: {id: subject}}`.

    This server decodes every document an index scan hands it; a contains lookup reads the
    few buckets of one gram per district instead of every matching case, and checks the
    needle against the subjects they hold. It also rewrites a whole document on each update,
    so a new case is entered only in the newest bucket of each gram (found from the
    district's size: `sizes`, re-read every `SIZE_TTL` seconds and counted on locally). A
    case's subject is set by its submission and never changes after, so an entry is written
    once (again, unchanged, on a redelivery).
    """

    def __init__(
        self,
        db: AsyncDatabase[Document],
        name: str = "subjects",
        sizes: Callable[[str], Awaitable[int]] | None = None,
        bucket_size: int = BUCKET_SIZE,
    ) -> None:
        self.collection: AsyncCollection[Document] = db[name]
        self.sizes = sizes
        self.bucket_size = bucket_size
        self.counted: dict[str, tuple[float, int]] = {}  # district -> (read at, cases)

    async def ensure_indexes(self) -> None:
        """A gram's buckets in some districts, or in all (staff)."""
        if FORMER_GRAM_INDEX in await self.collection.index_information():
            await self.collection.drop_index(FORMER_GRAM_INDEX)  # postings before buckets
        await self.collection.create_index([("gram", ASCENDING), ("account_id", ASCENDING)])

    async def add_all(self, subjects: list[Subject]) -> None:
        """Enter each subject in the newest bucket of each of its grams; one write per bucket.

        Each bucket is first inserted whole (about a tenth of an update's cost on this
        server); those that exist already are then added to.
        """
        await self._enter_all(
            [replace(s, ordinal=await self._next(s.account_id)) for s in subjects]
        )

    async def _enter_all(self, placed: list[Subject]) -> None:
        """Write the buckets of these placed subjects, `POSTING_CHUNK` per round trip."""
        found = list(postings(placed, self.bucket_size).items())
        for start in range(0, len(found), POSTING_CHUNK):
            await self._enter(found[start : start + POSTING_CHUNK])

    async def _next(self, account: str) -> int:
        """The place of a new case among the district's: its size when last read (by any
        writer), plus the cases entered here since. Replicas may give close places to
        different cases; a bucket then holds a few more, never fewer entries."""
        read_at, count = self.counted.get(account, (-SIZE_TTL, 0))
        if self.sizes is not None and time.monotonic() - read_at >= SIZE_TTL:
            read_at, count = time.monotonic(), await self.sizes(account)
        self.counted[account] = (read_at, count + 1)
        return count

    async def _enter(self, found: list[tuple[str, Posting]]) -> None:
        docs = [
            {"_id": key, "gram": gram, "account_id": account, "cases": cases}
            for key, (gram, account, cases) in found
        ]
        try:
            await _bulk(self.collection, [InsertOne(doc) for doc in docs])
        except AlreadyStored as exc:
            await self._upsert([found[i] for i in exc.indexes])

    async def _upsert(self, found: list[tuple[str, Posting]]) -> None:
        ops = [
            UpdateOne(
                {"_id": key},
                {
                    "$set": {f"cases.{c}": text for c, text in cases.items()},
                    "$setOnInsert": {"gram": gram, "account_id": account},
                },
                upsert=True,
            )
            for key, (gram, account, cases) in found
        ]
        try:
            await _bulk(self.collection, ops)
        except AlreadyStored as exc:  # another writer inserted them meanwhile: update them
            await _bulk(self.collection, [ops[i] for i in exc.indexes])

    async def containing(self, accounts: list[str] | None, needle_lc: str) -> list[str]:
        """The ids of the districts' cases (None: every district) whose subject holds the
        needle (two characters or more), exactly."""
        found = await self.collection.find(posting_filter(accounts, needle_lc)).to_list()
        return matching_ids(found, needle_lc)

    async def explain(self, accounts: list[str] | None, needle_lc: str) -> Document:
        """The server's plan for a contains lookup (tests assert an index)."""
        command = {"find": self.collection.name, "filter": posting_filter(accounts, needle_lc)}
        db = self.collection.database
        return await db.command("explain", command, verbosity="queryPlanner")

    async def build(self, cases: "CaseStore", accounts: list[str]) -> int:
        """Enter the subject of every case of these districts, a district at a time, in the
        order of their creation; how many. Then mark the collection built."""
        done = 0
        for account in accounts:
            cursor = cases.collection.find(
                {"account_id": account}, {"account_id": 1, "subject_lc": 1, "created_at": 1}
            ).sort([("created_at", ASCENDING), ("_id", ASCENDING)])
            docs = [doc async for doc in cursor if "subject_lc" in doc]
            subjects = [replace(subject_of(d), ordinal=n) for n, d in enumerate(docs)]
            await self._enter_all(subjects)
            self.counted[account] = (time.monotonic(), len(subjects))
            done += len(subjects)
        built = {"$set": {"at": datetime.now(UTC)}}
        await self.collection.update_one({"_id": BUILT}, built, upsert=True)
        return done

    async def backfill(self, cases: "CaseStore", districts: "DistrictStore") -> int:
        """At start: build the postings of a deployment from before them (or from before
        their buckets: those are removed first); how many subjects. One point read when
        they are built (the rebuild builds its own)."""
        if await self.collection.find_one({"_id": BUILT}, {"_id": 1}) is not None:
            return 0
        await self.collection.delete_many({})
        return await self.build(cases, await districts.ids())


class NoticeStore:
    """The `notices` collection: the latest revision of every incident and maintenance notice."""

    def __init__(self, db: AsyncDatabase[Document], name: str = "notices") -> None:
        self.collection: AsyncCollection[Document] = db[name]

    async def ensure_indexes(self) -> None:
        """Open notices are what the banner reads."""
        await self.collection.create_index("open")

    async def keep(self, notice: Notice) -> None:
        """Store the notice unless a higher revision is already stored."""
        doc: dict[str, Any] = {**notice.model_dump(mode="json"), "open": notice.status.is_open}
        doc["_id"] = notice.id
        with contextlib.suppress(DuplicateKeyError):  # a newer revision is stored
            await self.collection.update_one(
                {"_id": notice.id, "revision": {"$lt": notice.revision}},
                {"$set": doc},
                upsert=True,
            )

    async def open_notices(self) -> list[Notice]:
        """Every open notice."""
        cursor = self.collection.find({"open": True})
        return [Notice.model_validate(doc) async for doc in cursor]


FENCE = "swap"


class SwapFence:
    """The `fences` document that keeps live writes out of a rebuild's collection swap.

    The server's rename is not atomic against writes to its target: a document a live write
    inserts while the rename runs survives next to the renamed one, under the same _id (a
    case's feed held twice). So each live batch writes under a lease on this document, and
    the rebuild raises the fence, waits for every lease to end, then renames. A lease or a
    raise left by a crashed process expires (clocks of one host, or kept in step, assumed).
    """

    def __init__(
        self,
        db: AsyncDatabase[Document],
        name: str = "fences",
        lease_s: float = 300.0,
        poll_s: float = 0.05,
    ) -> None:
        self.collection: AsyncCollection[Document] = db[name]
        self.lease_s = lease_s
        self.poll_s = poll_s

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """Write under a lease, once no swap is under way."""
        token = f"writers.{uuid4().hex}"
        while True:  # the fence lives on the server: poll it
            if await self._enter(token):
                break
            await asyncio.sleep(self.poll_s)
        try:
            yield
        finally:
            await self.collection.update_one({"_id": FENCE}, {"$unset": {token: ""}})

    async def _enter(self, token: str) -> bool:
        now = datetime.now(UTC)
        lowered = {"_id": FENCE, "raised_until": {"$not": {"$gt": now}}}
        try:  # one atomic step: either the raise sees this lease or this sees the raise
            await self.collection.update_one(lowered, {"$set": {token: now}}, upsert=True)
        except DuplicateKeyError:
            return False  # the fence exists and is raised
        return True

    async def raise_for(self, hold_s: float) -> None:
        """Keep new writers out for `hold_s` and wait until those writing are done."""
        until = datetime.now(UTC) + timedelta(seconds=hold_s)
        await self.collection.update_one(
            {"_id": FENCE}, {"$set": {"raised_until": until}}, upsert=True
        )
        while True:
            if not await self._leased():
                return
            await asyncio.sleep(self.poll_s)

    async def _leased(self) -> bool:
        doc = await self.collection.find_one({"_id": FENCE}) or {}
        expired = datetime.now(UTC) - timedelta(seconds=self.lease_s)
        return any(_aware(at) > expired for at in (doc.get("writers") or {}).values())

    async def lower(self) -> None:
        """Let live writers in again."""
        await self.collection.update_one({"_id": FENCE}, {"$unset": {"raised_until": ""}})


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _only_duplicates(exc: BulkWriteError) -> bool:
    errors: Iterable[Document] = exc.details.get("writeErrors", [])
    return all(error.get("code") == DUPLICATE_KEY for error in errors)


async def _bulk(collection: AsyncCollection[Document], ops: list[Any]) -> None:
    """An unordered bulk write; duplicate keys alone raise AlreadyStored."""
    if not ops:
        return
    try:
        await collection.bulk_write(ops, ordered=False)
    except BulkWriteError as exc:
        if _only_duplicates(exc):
            indexes = [error["index"] for error in exc.details["writeErrors"]]
            raise AlreadyStored(str(exc), indexes) from exc
        raise
