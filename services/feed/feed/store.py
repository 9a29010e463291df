"""Mongo access of the feed: cases, feed items and notices, one class per collection."""

import contextlib
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from feed.logic import INDEXED_FIELDS, CaseChange, CaseQuery, case_pipeline
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


class CaseStore:
    """The `cases` collection: one document per case, the list and detail read model."""

    def __init__(self, db: AsyncDatabase[Document], name: str = "cases") -> None:
        self.collection: AsyncCollection[Document] = db[name]

    async def ensure_indexes(self) -> None:
        """An index alone and after account_id for every field the list filters on."""
        await self.collection.create_index("contact_id")
        for name in INDEXED_FIELDS:
            await self.collection.create_index([(name, ASCENDING)])
            await self.collection.create_index([("account_id", ASCENDING), (name, ASCENDING)])

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

    async def get(self, case_id: str) -> Document | None:
        """The case by id, without the applied-event ledger."""
        return await self.collection.find_one({"_id": case_id}, {"applied": 0})

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

    async def items(self, case_id: str) -> list[Document]:
        """Every feed item of a case, in the order they were added."""
        doc = await self.collection.find_one({"_id": case_id})
        return list(doc["items"]) if doc else []


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
