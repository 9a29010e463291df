"""Mongo access of intake: cases, case-number counter, idempotency keys, attachments (GridFS)."""

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, BinaryIO

from bson import ObjectId
from bson.errors import InvalidId
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from intake.logic import CaseState, NumberPool
from shared.enums import Status
from shared.events import StatusChanged
from shared.messages import AttachmentRef, utcnow
from shared.mongo import Document

PENDING_TTL = timedelta(seconds=60)
CHUNK = 256 * 1024


class GroupWriter:
    """Batches concurrent inserts into one insert_many; each caller waits for its batch."""

    def __init__(self, collection: Any, max_batch: int = 500) -> None:
        self.collection = collection
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Document, asyncio.Future[None]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def insert(self, doc: Document) -> None:
        """Insert `doc` durably, batched with whatever else is waiting."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((doc, done))
        await done

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
    """The `cases` collection: intake's record of each case (scope, status, recipients)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["cases"]
        self.writer = GroupWriter(self.collection)

    async def ensure_indexes(self) -> None:
        """Indexes every query here uses."""
        await self.collection.create_index("case_number", unique=True)
        await self.collection.create_index("account_id")

    async def insert(self, doc: Document) -> None:
        """Record a submitted case (after Kafka acknowledged it)."""
        await self.writer.insert(doc)

    async def get(self, case_id: str) -> CaseState | None:
        """The case's last known state."""
        doc = await self.collection.find_one({"_id": case_id})
        return _state(doc) if doc else None

    async def apply_status(self, event: StatusChanged) -> None:
        """Keep the newest status; an older or repeated event changes nothing."""
        closed_at = event.occurred_at if event.to_status is Status.CLOSED else None
        update = {
            "status": event.to_status.value,
            "closed_at": closed_at,
            "status_at": event.occurred_at,
        }
        newer = {"_id": str(event.case_id), "status_at": {"$lt": event.occurred_at}}
        await self.collection.update_one(newer, {"$set": update})

    async def set_recipients(self, case_id: str, recipients: list[str]) -> None:
        """Store the full recipient list after a change."""
        await self.collection.update_one({"_id": case_id}, {"$set": {"recipients": recipients}})


def _state(doc: Document) -> CaseState:
    return CaseState(
        case_id=doc["_id"],
        account_id=doc["account_id"],
        contact_id=doc["contact_id"],
        status=Status(doc["status"]),
        closed_at=doc.get("closed_at"),
        recipients=tuple(doc.get("recipients", ())),
    )


class CounterStore:
    """The `counters` collection: case numbers, allocated in blocks shared by all replicas."""

    def __init__(self, db: AsyncDatabase[Document], block: int, start: int) -> None:
        self.collection = db["counters"]
        self.block, self.start = block, start
        self.pool = NumberPool()
        self._lock = asyncio.Lock()

    async def take(self) -> int:
        """The next case number of this replica; a Mongo round trip once per block."""
        number = self.pool.take()
        while number is None:
            async with self._lock:
                if not len(self.pool):
                    self.pool.add_block(await self._next_block(), self.block)
            number = self.pool.take()
        return number

    def give_back(self, number: int) -> None:
        """A number whose case was not accepted is reused."""
        self.pool.give_back(number)

    async def _next_block(self) -> int:
        doc = await self.collection.find_one_and_update(
            {"_id": "case_number"},
            {"$inc": {"last": self.block}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return self.start + int(doc["last"]) if doc else self.start


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
            stale = {"_id": key, "status": {"$exists": False}, "at": {"$lt": now - PENDING_TTL}}
            taken = await self.collection.find_one_and_update(
                stale, {"$set": {"fingerprint": fingerprint, "at": now}}
            )
            return None if taken else await self.collection.find_one({"_id": key})

    async def complete(self, key: str, status: int, body: Any) -> None:
        """Store the answer that retries will get."""
        await self.collection.update_one({"_id": key}, {"$set": {"status": status, "body": body}})

    async def release(self, key: str) -> None:
        """Forget a claim whose request failed, so a retry starts afresh."""
        await self.collection.delete_one({"_id": key, "status": {"$exists": False}})


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
