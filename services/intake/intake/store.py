"""Mongo access of intake: cases, case-number counter, idempotency keys, attachments (GridFS)."""

import asyncio
import contextlib
import hashlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import BinaryIO

from bson import ObjectId
from bson.errors import InvalidId
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from intake.logic import CaseState, NumberPool
from shared.enums import Department, Status
from shared.events import CaseRouted, CaseSubmitted, RecipientsChanged, StatusChanged
from shared.messages import AttachmentRef, utcnow
from shared.mongo import Document

log = logging.getLogger("intake.store")
PENDING_TTL = timedelta(seconds=60)
RECIPIENTS_LEASE_TTL = timedelta(seconds=10)  # well over the 2 s publish timeout
CHUNK = 256 * 1024


class GroupWriter:
    """Batches concurrent inserts into one insert_many; each caller gets a future for its batch."""

    def __init__(self, collection: AsyncCollection[Document], max_batch: int = 500) -> None:
        self.collection = collection
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Document, asyncio.Future[None]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def submit(self, doc: Document) -> "asyncio.Future[None]":
        """Queue `doc`; the future resolves once its batch is written (or failed)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((doc, done))
        return done

    async def insert(self, doc: Document) -> None:
        """Insert `doc` durably, batched with whatever else is waiting."""
        await self.submit(doc)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < self.max_batch:
                batch.append(self._queue.get_nowait())
            await self._flush(batch)

    async def _flush(self, batch: list[tuple[Document, asyncio.Future[None]]]) -> None:
        try:
            await self.collection.insert_many([doc for doc, _ in batch], ordered=False)
            error: BaseException | None = None
        except Exception as exc:  # every waiter of the batch learns of the failure
            error = exc
        for _, done in batch:
            if not done.done():
                done.set_result(None) if error is None else done.set_exception(error)

    async def close(self) -> None:
        """Stop the writer task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class CaseStore:
    """The `cases` collection: intake's record of each case (scope, status, recipients).

    A submission's record is written behind the answer (the Kafka ack is the commitment) and
    served from memory until written; the CaseSubmitted consumer makes sure it exists, so a
    crash between the ack and the write loses nothing.
    """

    def __init__(self, db: AsyncDatabase[Document], remembered: int = 100_000) -> None:
        self.collection = db["cases"]
        self.writer = GroupWriter(self.collection)
        self._pending: dict[str, tuple[Document, asyncio.Future[None]]] = {}
        self._pending_numbers: dict[int, str] = {}
        self._written: OrderedDict[str, None] = OrderedDict()
        self._remembered = remembered

    async def ensure_indexes(self) -> None:
        """Indexes every query here uses."""
        await self.collection.create_index("case_number", unique=True)
        await self.collection.create_index("account_id")

    def insert_behind(self, doc: Document) -> None:
        """Record a submitted case (already acknowledged by Kafka) without waiting for Mongo."""
        done = self.writer.submit(doc)
        self._pending[doc["_id"]] = (doc, done)
        self._pending_numbers[doc["case_number"]] = doc["_id"]
        done.add_done_callback(lambda future: self._settled(doc["_id"], future))

    def _settled(self, case_id: str, future: "asyncio.Future[None]") -> None:
        doc, _ = self._pending.pop(case_id, ({}, None))
        self._pending_numbers.pop(doc.get("case_number", 0), None)
        if future.cancelled() or future.exception() is not None:
            return  # the CaseSubmitted consumer will write it
        if "unconfirmed" in doc:
            return  # the consumer still has to confirm it, should the event be on Kafka
        self._written[case_id] = None
        while len(self._written) > self._remembered:
            self._written.popitem(last=False)

    async def insert(self, doc: Document) -> None:
        """Record a case and wait until it is written."""
        self.insert_behind(doc)
        await self.flushed(doc["_id"])

    async def flushed(self, case_id: str) -> None:
        """Wait for this replica's pending write of the case, if any."""
        pending = self._pending.get(case_id)
        if pending is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(pending[1])

    async def ensure(self, doc: Document) -> None:
        """Make sure a submitted case's record exists (idempotent on the case id)."""
        if doc["_id"] in self._written:
            return
        if doc["_id"] in self._pending:
            await self.flushed(doc["_id"])
            if doc["_id"] in self._written:
                return
        fields = {k: v for k, v in doc.items() if k != "_id"}
        # The event is on Kafka: a record kept while its send was in doubt is now confirmed.
        update = {"$setOnInsert": fields, "$unset": {"unconfirmed": ""}}
        await self.collection.update_one({"_id": doc["_id"]}, update, upsert=True)

    async def document(self, case_id: str) -> Document | None:
        """The case's record as stored (or about to be), if intake has it."""
        pending = self._pending.get(case_id)
        return pending[0] if pending else await self.collection.find_one({"_id": case_id})

    async def id_of_number(self, number: int) -> str | None:
        """The id of the case with this number, if intake has it (the unique index)."""
        pending = self._pending_numbers.get(number)
        if pending is not None:
            return pending
        doc = await self.collection.find_one({"case_number": number}, {"_id": 1})
        return str(doc["_id"]) if doc else None

    async def get(self, case_id: str) -> CaseState | None:
        """The case's last known state (none while its event's send is in doubt)."""
        doc = await self.document(case_id)
        return _state(doc) if doc and "unconfirmed" not in doc else None

    async def apply_status(self, event: StatusChanged) -> None:
        """Keep the newest status; an older or repeated event changes nothing."""
        await self.flushed(str(event.case_id))
        closed_at = event.occurred_at if event.to_status is Status.CLOSED else None
        update = {
            "status": event.to_status.value,
            "closed_at": closed_at,
            "status_at": event.occurred_at,
        }
        newer = {"_id": str(event.case_id), "status_at": {"$lt": event.occurred_at}}
        await self.collection.update_one(newer, {"$set": update})

    async def apply_routed(self, event: CaseRouted) -> None:
        """Keep the department of the newest routing (at submission, or a transfer)."""
        await self.flushed(str(event.case_id))
        newer = {
            "_id": str(event.case_id),
            "$or": [{"routed_at": {"$lt": event.occurred_at}}, {"routed_at": None}],
        }
        update = {"$set": {"department": event.department.value, "routed_at": event.occurred_at}}
        await self.collection.update_one(newer, update)

    async def confirmed(self, case_id: str) -> None:
        """The case's event is now acknowledged by Kafka."""
        await self.flushed(case_id)
        await self.collection.update_one({"_id": case_id}, {"$unset": {"unconfirmed": ""}})

    async def claim_recipients(self, case_id: str, version: int, lease: str) -> bool:
        """Hold the recipient list for one change: only if still at `version` and not held.

        The conditional write makes replicas take turns: a change decided on a list another
        replica has changed since is refused here, before anything is published.
        """
        await self.flushed(case_id)
        now = utcnow()
        at_version: Document = (
            {"recipients_version": version}
            if version
            else {"$or": [{"recipients_version": 0}, {"recipients_version": {"$exists": False}}]}
        )
        free = {
            "$or": [
                {"recipients_lease": {"$exists": False}},
                {"recipients_lease_at": {"$lt": now - RECIPIENTS_LEASE_TTL}},
            ]
        }
        claim = {"$set": {"recipients_lease": lease, "recipients_lease_at": now}}
        result = await self.collection.update_one(
            {"_id": case_id, "$and": [at_version, free]}, claim
        )
        return bool(result.matched_count)

    async def commit_recipients(
        self, case_id: str, lease: str, recipients: list[str], at: datetime
    ) -> None:
        """Store the list a published RecipientsChanged carries, and let the next change in."""
        update = {
            "$set": {"recipients": recipients},
            # never backwards: an older event replayed by the consumer must not win (clock skew)
            "$max": {"recipients_at": at},
            "$inc": {"recipients_version": 1},
            "$unset": {"recipients_lease": "", "recipients_lease_at": ""},
        }
        await self.collection.update_one({"_id": case_id, "recipients_lease": lease}, update)

    async def release_recipients(self, case_id: str, lease: str) -> None:
        """Give the list back unchanged (the change was not accepted)."""
        unset = {"$unset": {"recipients_lease": "", "recipients_lease_at": ""}}
        await self.collection.update_one({"_id": case_id, "recipients_lease": lease}, unset)

    async def apply_recipients(self, event: RecipientsChanged) -> None:
        """Converge on a RecipientsChanged whose replica died before recording it."""
        await self.flushed(str(event.case_id))
        older = {"$or": [{"recipients_at": {"$lt": event.occurred_at}}, {"recipients_at": None}]}
        update = {
            "$set": {"recipients": event.recipients, "recipients_at": event.occurred_at},
            "$inc": {"recipients_version": 1},
        }
        await self.collection.update_one({"_id": str(event.case_id), **older}, update)


def case_document(event: CaseSubmitted, *, unconfirmed: bool = False) -> Document:
    """Intake's record of a submitted case (with the event itself while its send is in doubt)."""
    doc: Document = {
        "_id": str(event.case_id),
        "case_number": event.case_number,
        "account_id": event.account_id,
        "contact_id": event.contact_id,
        "case_type": event.case_type.value,
        "priority": event.priority.value,
        "subject": event.subject,
        "status": Status.NEW.value,
        "status_at": event.occurred_at,
        "closed_at": None,
        "recipients": [event.contact_id],
        "created_at": event.occurred_at,
        "submitted_by": event.submitted_by.id,
    }
    if unconfirmed:
        doc["unconfirmed"] = event.model_dump(mode="json")
    return doc


def _state(doc: Document) -> CaseState:
    return CaseState(
        case_id=doc["_id"],
        account_id=doc["account_id"],
        contact_id=doc["contact_id"],
        status=Status(doc["status"]),
        closed_at=doc.get("closed_at"),
        recipients=tuple(doc.get("recipients", ())),
        recipients_version=int(doc.get("recipients_version", 0)),
        department=Department(doc["department"]) if doc.get("department") else None,
    )


class CounterStore:
    """The `counters` collection: case numbers, allocated in blocks shared by all replicas.

    Spare blocks are kept in reserve: a block lasts ~80 ms at 1,300 submissions/s while the
    counter's round trip under load took 100-250 ms (seconds when the shared Mongo server was
    overloaded), so waiting for a quarter block stalled requests behind the refill. One spare
    block to start with; each time the pool runs dry the reserve doubles (up to
    MAX_SPARE_BLOCKS), and one round trip fetches all the blocks it lacks.
    """

    MAX_SPARE_BLOCKS = 8

    def __init__(self, db: AsyncDatabase[Document], block: int, start: int) -> None:
        self.collection = db["counters"]
        self.block, self.start = block, start
        self.spare_blocks = 1
        self._fetches, self._grown_at = 0, -1
        self.pool = NumberPool()
        self._lock = asyncio.Lock()
        self._refilling: asyncio.Task[None] | None = None

    @property
    def low_water(self) -> int:
        """Fewer numbers than this left: fetch more now."""
        return self.block * self.spare_blocks

    async def prime(self) -> None:
        """Fetch the first blocks at start-up, so no early request waits for the counter."""
        await self._refill(self.low_water + 1)

    async def take(self) -> int:
        """The next case number of this replica; more blocks are fetched before they are needed."""
        if len(self.pool) <= self.low_water:
            self._refill_soon()
        if not self.pool:
            self._grow()
        while (number := self.pool.take()) is None:
            await self._refill(1)
        return number

    def _grow(self) -> None:
        """The pool ran dry: keep more in reserve (once per fetch, however many wait)."""
        if self._grown_at != self._fetches:
            self._grown_at = self._fetches
            self.spare_blocks = min(self.MAX_SPARE_BLOCKS, self.spare_blocks * 2)

    def _refill_soon(self) -> None:
        if self._refilling is None or self._refilling.done():
            self._refilling = asyncio.create_task(self._refill(self.low_water + 1))
            self._refilling.add_done_callback(_log_refill_failure)

    async def _refill(self, wanted: int) -> None:
        async with self._lock:
            missing = wanted - len(self.pool)
            if missing <= 0:
                return
            size = self.block * -(-missing // self.block)  # whole blocks, one counter update
            self.pool.add_block(await self._next_block(size), size)
            self._fetches += 1

    def give_back(self, number: int) -> None:
        """A number whose case was not accepted is reused."""
        self.pool.give_back(number)

    async def _next_block(self, size: int) -> int:
        doc = await self.collection.find_one_and_update(
            {"_id": "case_number"},
            {"$inc": {"last": size}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return self.start + int(doc["last"]) if doc else self.start


def _log_refill_failure(task: "asyncio.Task[None]") -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("case-number block not fetched ahead (%r); a request will fetch it", exc)


class IdempotencyStore:
    """The `idempotency_keys` collection: first answer per (caller, key)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["idempotency_keys"]

    async def reserve(self, key: str, fingerprint: str) -> Document | None:
        """Claim the key; the stored record when someone claimed it before."""
        now = utcnow()
        try:
            await self.collection.insert_one({"_id": key, "fingerprint": fingerprint, "at": now})
            return None
        except DuplicateKeyError:
            stale = {"_id": key, "body": {"$exists": False}, "at": {"$lt": now - PENDING_TTL}}
            taken = await self.collection.find_one_and_update(
                stale, {"$set": {"fingerprint": fingerprint, "at": now}}
            )
            return None if taken else await self.collection.find_one({"_id": key})

    async def complete(self, key: str, body: Document) -> None:
        """Store the answer that retries will get."""
        await self.collection.update_one({"_id": key}, {"$set": {"body": body}})

    async def release(self, key: str) -> None:
        """Forget a claim whose request failed, so a retry starts afresh."""
        await self.collection.delete_one({"_id": key, "body": {"$exists": False}})


class AttachmentStore:
    """Attachment bytes and metadata in GridFS (bucket `attachments`)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.bucket = AsyncGridFSBucket(db, bucket_name="attachments", chunk_size_bytes=CHUNK)
        self.files = db["attachments.files"]

    async def ensure_indexes(self) -> None:
        """Listing is by case."""
        await self.files.create_index([("metadata.case_id", 1), ("metadata.state", 1)])

    async def upload(
        self, stream: BinaryIO, filename: str, content_type: str, meta: Document
    ) -> AttachmentRef:
        """Store one file (hidden until `publish`), hashing it on the way."""
        digest, size = hashlib.sha256(), 0
        file_id = ObjectId()
        grid_in = self.bucket.open_upload_stream_with_id(
            file_id, filename, metadata={**meta, "content_type": content_type, "state": "pending"}
        )
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            await grid_in.write(chunk)
        await grid_in.set("sha256", digest.hexdigest())
        await grid_in.close()
        return AttachmentRef(
            attachment_id=str(file_id),
            filename=filename,
            content_type=content_type,
            size=size,
            sha256=digest.hexdigest(),
        )

    async def publish(self, attachment_ids: list[str]) -> None:
        """Make stored files visible once their events are on Kafka."""
        ids = [ObjectId(a) for a in attachment_ids]
        await self.files.update_many({"_id": {"$in": ids}}, {"$set": {"metadata.state": "stored"}})

    async def discard(self, attachment_ids: list[str]) -> None:
        """Delete files whose post was not accepted."""
        for attachment_id in attachment_ids:
            with contextlib.suppress(NoFile):
                await self.bucket.delete(ObjectId(attachment_id))

    async def list(self, case_id: str) -> list[Document]:
        """Visible files of a case, oldest first."""
        query = {"metadata.case_id": case_id, "metadata.state": "stored"}
        cursor = self.files.find(query).sort("uploadDate", 1)
        return [doc async for doc in cursor]

    async def find(self, case_id: str, attachment_id: str) -> Document | None:
        """A visible file of this case, or None."""
        try:
            oid = ObjectId(attachment_id)
        except (InvalidId, TypeError):
            return None
        query = {"_id": oid, "metadata.case_id": case_id, "metadata.state": "stored"}
        return await self.files.find_one(query)

    async def stream(self, attachment_id: str) -> AsyncIterator[bytes]:
        """The file's bytes, chunk by chunk."""
        grid_out = await self.bucket.open_download_stream(ObjectId(attachment_id))
        while chunk := await grid_out.readchunk():
            yield chunk
