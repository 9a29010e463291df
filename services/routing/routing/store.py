"""Mongo access of routing: cases (with timers), command outcomes, assignment cursors."""

import asyncio
import itertools
import json
import logging
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID

from pymongo import ASCENDING, DESCENDING, ReplaceOne, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from routing.errors import AlreadyStored
from routing.logic import queue_fields
from routing.models import CaseState, Outcome
from routing.sla import TARGETS, SlaMark, SlaState, next_due
from shared.enums import CaseType, Department, Disruption, Priority, Status
from shared.mongo import Document

log = logging.getLogger(__name__)

QUEUE_ORDER = [("priority_rank", ASCENDING), ("due_sort", ASCENDING), ("created_at", ASCENDING)]
# Most urgent first: the nearest SLA due point (passed ones first, none last), then work order.
URGENCY_ORDER = [("sla_due", ASCENDING), *QUEUE_ORDER]
NO_SLA_DUE = datetime(9999, 12, 31, tzinfo=UTC)
QueueOrder = Literal["work", "urgency", "number", "subject", "priority", "status", "last_activity"]
Direction = Literal["asc", "desc"]
# The column each column order sorts by first (then work order); `work` and `urgency` are whole.
ORDER_FIELDS = {
    "number": "case_number",
    "subject": "subject",
    "priority": "priority_rank",
    "status": "status",
    "last_activity": "last_activity_at",
}
# Text columns sort as people read them: case-insensitive.
TEXT_ORDER = {"subject", "status"}
CASELESS = {"locale": "en", "strength": 2}
TAKEABLE = [Status.NEW.value, Status.RE_OPENED.value]
CLAIM_SECONDS = 60
DUPLICATE_KEY = 11000
# Orders served from an index window: the one stored field they sort by whole. Work order is
# `queue_key` (priority rank, due date, age, id as one string; None once Closed), a number
# order the unique case number.
WINDOW_FIELDS = {"work": "queue_key", "number": "case_number"}
# Pages reaching past this many items are read whole (a window would hold too many anyway).
WINDOW_MAX_ITEMS = 1_000
# Windows remembered per store; past this many the memory is started over.
MAX_WINDOWS = 10_000
# Counts a read may be served from: refreshed in the background once older than FRESH,
# read again before answering once older than STALE (or never read).
COUNTS_FRESH_S = 1.0
COUNTS_STALE_S = 30.0
COUNT_SLICE = 500
WORK_KEYS_MIGRATION = "cases.queue_key"


def to_doc(state: CaseState) -> Document:
    """The case as stored: BSON-friendly dates, queue sort fields, the id as `_id`."""
    doc = state.model_dump(mode="python")
    doc["_id"] = str(state.case_id)
    doc["due_date"] = state.due_date.isoformat() if state.due_date else None
    if state.timers is not None:
        doc["timers"]["closes_on"] = state.timers.closes_on.isoformat()
    recent = {k: [r.model_dump(mode="json") for r in v] for k, v in state.recent.items()}
    doc["recent"] = json.dumps(recent, separators=(",", ":"))
    sort = queue_fields(state.priority, state.due_date)
    open_ = state.status is not Status.CLOSED
    work = work_key(sort["priority_rank"], sort["due_sort"], state.created_at, doc["_id"])
    return {**doc, **sort, "queue_key": work if open_ else None, **sla_fields(state)}


def work_key(rank: int, due_sort: str, created_at: datetime, case_id: str) -> str:
    """Work order as one string that sorts as the stored fields do (priority rank, due date
    with none last, creation to the millisecond as BSON keeps it, then the id), so a page
    in work order is one index range."""
    at = created_at.astimezone(UTC)
    return f"{rank}|{due_sort}|{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}|{case_id}"


def sla_fields(state: CaseState) -> Document:
    """Stored fields for the urgency order and the SLA counts: the next due point, and each
    target as `due`, `met` or `breached`."""
    sla = state.sla
    if sla is None:
        return {"sla_due": NO_SLA_DUE}
    closed = state.status is Status.CLOSED
    standing = {f"sla_{target}": _standing(sla.mark(target), closed) for target in TARGETS}
    return {"sla_due": next_due(sla) or NO_SLA_DUE, **standing}


def _standing(mark: SlaMark, closed: bool) -> str:
    if mark.breached:
        return "breached"
    if mark.met_at is not None:
        return "met"
    # A case closed before its first response (the contact closed it) owes nothing more.
    return "unmet" if closed else "due"


async def insert_or_replace(
    collection: AsyncCollection[Document], docs: list[Document], *, replace: bool = True
) -> None:
    """Insert in one round trip; documents that already exist are then replaced (if asked)."""
    if not docs:
        return
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        if not replace or not _only_duplicates(exc):
            raise
        errors = exc.details.get("writeErrors", [])
        await replace_all(collection, [docs[error["index"]] for error in errors], upsert=True)


def _only_duplicates(exc: BulkWriteError) -> bool:
    errors = exc.details.get("writeErrors", [])
    return bool(errors) and all(error.get("code") == DUPLICATE_KEY for error in errors)


async def replace_all(
    collection: AsyncCollection[Document], docs: list[Document], *, upsert: bool = True
) -> None:
    """Replace documents whole by `_id`, in one round trip."""
    if docs:
        ops = [ReplaceOne({"_id": d["_id"]}, d, upsert=upsert) for d in docs]
        await collection.bulk_write(ops, ordered=False)


@dataclass(frozen=True)
class QueueFilter:
    """Which items of a department's queue to list."""

    status: Status | None = None
    priority: Priority | None = None
    assignee_id: str | None = None
    unassigned: bool = False
    # The impact assessment's answers (None: either way); `triaged` False: not assessed yet.
    triaged: bool | None = None
    disruption: Disruption | None = None
    blocked: bool | None = None
    workaround: bool | None = None
    defect: bool | None = None
    case_type: CaseType | None = None
    # Every word must occur in the subject, in any case (words, not a pattern).
    subject_words: tuple[str, ...] = ()
    customer_replied: bool | None = None

    def query(self, department: Department) -> Document:
        """The Mongo filter; open cases only unless a status is asked for."""
        query: Document = {"department": department.value}
        query["status"] = self.status.value if self.status else {"$ne": Status.CLOSED.value}
        if self.priority:
            query["priority"] = self.priority.value
        if self.assignee_id:
            query["assignee.id"] = self.assignee_id
        if self.unassigned:
            query["assignee"] = None
        if self.triaged is not None:
            query["triage"] = {"$ne": None} if self.triaged else None
        if self.disruption is not None:
            query["triage.disruption"] = self.disruption.value
        answers = {
            "triage.daily_functions_blocked": self.blocked,
            "triage.workaround_exists": self.workaround,
            "triage.defect_qualified": self.defect,
        }
        query.update({field: value for field, value in answers.items() if value is not None})
        if self.case_type is not None:
            query["case_type"] = self.case_type.value
        if self.customer_replied is not None:
            query["customer_replied"] = self.customer_replied
        if self.subject_words:
            words = [{"subject": _contains(word)} for word in self.subject_words]
            query.update(words[0] if len(words) == 1 else {"$and": words})
        return query


def _contains(word: str) -> Document:
    """A case-insensitive substring match of `word`, taken literally."""
    return {"$regex": re.escape(word), "$options": "i"}


def _retrieved(task: "asyncio.Task[dict[str, int]]") -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("queue count failed: %s", task.exception())


def window_field(order: QueueOrder, where: QueueFilter) -> str | None:
    """The stored field an order's index window runs on, if it has one for this filter
    (Closed items have no work key)."""
    if order == "work" and where.status is Status.CLOSED:
        return None
    return WINDOW_FIELDS.get(order)


def _stored_work_key(doc: Document) -> str:
    created = doc["created_at"]
    created = created if created.tzinfo else created.replace(tzinfo=UTC)
    return work_key(int(doc["priority_rank"]), str(doc["due_sort"]), created, str(doc["_id"]))


def queue_sort(order: QueueOrder, direction: Direction = "asc") -> list[tuple[str, int]]:
    """The sort of a queue order: a column (then work order), or work order or urgency whole,
    reversed when `desc`; the case id last so pages never overlap."""
    if order in ORDER_FIELDS:
        way = DESCENDING if direction == "desc" else ASCENDING
        return [(ORDER_FIELDS[order], way), *QUEUE_ORDER, ("_id", ASCENDING)]
    whole = [*(URGENCY_ORDER if order == "urgency" else QUEUE_ORDER), ("_id", ASCENDING)]
    return [(field, -way) for field, way in whole] if direction == "desc" else whole


@dataclass(frozen=True)
class SlaCase:
    """What the SLA report reads of a case: its department, clocks and what picks their
    calendar (priority, type, district and its time zone)."""

    department: str
    sla: SlaState
    priority: Priority
    case_type: CaseType
    account_id: str
    time_zone: str


def _sla_case(doc: Document) -> SlaCase:
    return SlaCase(
        department=doc["department"],
        sla=SlaState.model_validate(doc["sla"]),
        priority=Priority(doc["priority"]),
        case_type=CaseType(doc["case_type"]),
        account_id=doc["account_id"],
        time_zone=doc["time_zone"],
    )


class CaseStore:
    """The `cases` collection: routing's state of every case, one document per case."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["cases"]
        # Per (department, order, direction, filter, items): the sort key that bounded twice
        # that many matches when last read (see `queue`).
        self.windows: dict[tuple[object, ...], object] = {}
        # Per (department, filter): when the counts were read and what they were.
        self.counted: dict[tuple[Department, QueueFilter], tuple[float, dict[str, int]]] = {}
        self._counting: dict[tuple[Department, QueueFilter], asyncio.Task[dict[str, int]]] = {}
        # Per department: work keys about COUNT_SLICE open items apart (see `_count_now`).
        self.slices: dict[Department, list[str]] = {}

    async def ensure_indexes(self) -> None:
        """Indexes for the queue view, the timers and the load counts."""
        await self.collection.create_index([("department", 1), ("status", 1), *QUEUE_ORDER])
        await self.collection.create_index([("department", 1), ("assignee.id", 1), ("status", 1)])
        for kind in ("commands", "events"):
            await self.collection.create_index([(f"partitions.{kind}", 1), (f"offsets.{kind}", -1)])
        await self.collection.create_index("timers.remind_at", sparse=True)
        await self.collection.create_index("timers.close_at", sparse=True)
        await self.collection.create_index("case_number")
        await self.collection.create_index("sla.next_at", sparse=True)
        await self.collection.create_index("sla.runs.0.start", sparse=True)
        await self.collection.create_index([("department", 1), ("status", 1), *URGENCY_ORDER])
        await self.collection.create_index("incidents.notice_id", sparse=True)
        await self.collection.create_index([("department", 1), ("queue_key", 1)])
        await self.collection.create_index([("department", 1), ("case_number", 1)])
        await self._add_work_keys()

    async def _add_work_keys(self) -> None:
        """Give open cases stored before `queue_key` existed their key, once per database:
        a marker in `migrations` says it is done, so later starts skip the scan (no index
        serves `$exists: false`). Closed cases need none: a missing key is outside every
        window, as None is."""
        migrations = self.collection.database["migrations"]
        if await migrations.find_one({"_id": WORK_KEYS_MIGRATION}):
            return
        missing = {"queue_key": {"$exists": False}, "status": {"$ne": Status.CLOSED.value}}
        fields = {"priority_rank": 1, "due_sort": 1, "created_at": 1}
        updates = [
            UpdateOne({"_id": doc["_id"]}, {"$set": {"queue_key": _stored_work_key(doc)}})
            async for doc in self.collection.find(missing, fields)
        ]
        for start in range(0, len(updates), 1_000):
            await self.collection.bulk_write(updates[start : start + 1_000], ordered=False)
        await migrations.update_one(
            {"_id": WORK_KEYS_MIGRATION}, {"$set": {"cases": len(updates)}}, upsert=True
        )

    async def get(self, case_id: UUID) -> CaseState | None:
        """One case, if routing knows it."""
        doc = await self.collection.find_one({"_id": str(case_id)})
        return CaseState.model_validate(doc) if doc else None

    async def by_number(self, number: int) -> CaseState | None:
        """The case with this number, if routing knows it."""
        doc = await self.collection.find_one({"case_number": number})
        return CaseState.model_validate(doc) if doc else None

    async def get_many(self, case_ids: Iterable[UUID]) -> dict[UUID, CaseState]:
        """The known cases among `case_ids`, in one round trip."""
        ids = [str(case_id) for case_id in set(case_ids)]
        cursor = self.collection.find({"_id": {"$in": ids}})
        return {UUID(doc["_id"]): CaseState.model_validate(doc) async for doc in cursor}

    async def max_offset(self, kind: str, partition: int) -> int:
        """The highest input offset of `kind` any case on `partition` applied (-1 if none)."""
        cursor = self.collection.find({f"partitions.{kind}": partition}, {"offsets": 1})
        docs = [doc async for doc in cursor.sort(f"offsets.{kind}", -1).limit(1)]
        return int(docs[0]["offsets"][kind]) if docs else -1

    async def save_many(self, states: Iterable[CaseState], new: set[UUID]) -> None:
        """Insert new cases and replace known ones whole: the server's two cheapest writes."""
        docs = [to_doc(s) for s in states]
        fresh = [d for d in docs if UUID(d["_id"]) in new]
        known = [d for d in docs if UUID(d["_id"]) not in new]
        inserted, replaced = await asyncio.gather(
            insert_or_replace(self.collection, fresh, replace=False),
            replace_all(self.collection, known),
            return_exceptions=True,
        )
        if isinstance(inserted, BulkWriteError) and _only_duplicates(inserted):
            raise AlreadyStored("a case taken for new exists; decide again with lookups")
        for outcome in (inserted, replaced):
            if isinstance(outcome, BaseException):
                raise outcome

    async def queue(
        self,
        department: Department,
        where: QueueFilter,
        limit: int,
        skip: int,
        order: QueueOrder = "work",
        direction: Direction = "asc",
    ) -> list[Document]:
        """A department's queue in order: priority, due date (none last), age; or by urgency
        (the nearest SLA due point first) before that; or by a column, then work order.

        Work order and number order are read from an index window: the Mongo-wire server
        fetches every document a query matches before it sorts and limits, so a page of 50
        from a 10,000-item queue costs all 10,000. The store remembers, per query and page
        end, the sort key of the item twice that far in; the next read asks only for items
        up to that key and keeps the answer when it holds the page (every item up to the
        key is in it, so the page is exact), and reads everything otherwise (and learns the
        key again). Any change of the queue meanwhile is seen: the window is read, not kept.
        """
        field = window_field(order, where)
        items = skip + limit
        if field is None or items > WINDOW_MAX_ITEMS:
            cursor = self.collection.find(where.query(department))
            cursor = cursor.sort(queue_sort(order, direction))
            if order in TEXT_ORDER:
                cursor = cursor.collation(CASELESS)
            return [doc async for doc in cursor.skip(skip).limit(limit)]
        way = DESCENDING if direction == "desc" else ASCENDING
        key = (department, order, direction, where, items)
        bound = self.windows.get(key)
        if bound is not None:
            docs = await self._window(department, where, field, way, bound, 2 * items)
            if len(docs) >= items:
                if len(docs) == 2 * items:  # tighten it to twice the page again
                    self._remember(key, docs[-1][field])
                return docs[skip:items]
        docs = await self._window(department, where, field, way, None, 2 * items)
        if len(docs) == 2 * items:
            self._remember(key, docs[-1][field])
        else:  # fewer matches than that in all: no window narrows the read
            self.windows.pop(key, None)
        return docs[skip:items]

    async def _window(
        self,
        department: Department,
        where: QueueFilter,
        field: str,
        way: int,
        bound: object,
        limit: int,
    ) -> list[Document]:
        """The first `limit` matches in `field` order, among items up to `bound` (all without
        one). The filter is a stage of its own: folded into the range's match, a `$ne` makes
        the server scan the whole department."""
        edge: Document = {"$lte" if way == ASCENDING else "$gte": bound}
        window: Document = {"department": department.value}
        window[field] = edge if bound is not None else {"$ne": None}
        pipeline: list[Document] = [
            {"$match": window},
            {"$match": where.query(department)},
            {"$sort": {field: way}},
            {"$limit": limit},
        ]
        cursor = await self.collection.aggregate(pipeline)
        return [doc async for doc in cursor]

    def _remember(self, key: tuple[object, ...], bound: object) -> None:
        if len(self.windows) >= MAX_WINDOWS and key not in self.windows:
            self.windows.clear()
        self.windows[key] = bound

    async def queue_counts(self, department: Department, where: QueueFilter) -> dict[str, int]:
        """How many of the queue's items match `where`, per status: at most COUNTS_FRESH_S
        old plus one count's time while the queue is looked at (older counts are served once
        while a count runs in the background), counted before answering when never counted
        or older than COUNTS_STALE_S. Counting is a full pass over the department's open
        items on the Mongo-wire server (~30 us an item), which the live queue pages would
        otherwise pay on every look."""
        key = (department, where)
        at, counts = self.counted.get(key, (-math.inf, {}))
        age = time.monotonic() - at
        if age <= COUNTS_FRESH_S:
            return counts
        running = self._counting.get(key)
        if running is None:
            running = asyncio.create_task(self._count(key))
            running.add_done_callback(_retrieved)  # a failed background count is only logged
            self._counting[key] = running
        if age <= COUNTS_STALE_S:
            return counts
        return await asyncio.shield(running)

    async def _count(self, key: tuple[Department, QueueFilter]) -> dict[str, int]:
        began = time.monotonic()
        try:
            counts = await self._count_now(*key)
        finally:
            self._counting.pop(key, None)
        if len(self.counted) >= MAX_WINDOWS:
            self.counted.clear()
        self.counted[key] = (began, counts)
        return counts

    async def _count_now(self, department: Department, where: QueueFilter) -> dict[str, int]:
        """Count in slices of about COUNT_SLICE open items each (work-key ranges the last
        whole count of the department marked), so a page read waits for one slice on the
        single-threaded server, not for a pass over the department; Closed counts whole."""
        if where.status is Status.CLOSED:
            pipeline: list[Document] = [
                {"$match": where.query(department)},
                {"$group": {"_id": "$status", "n": {"$sum": 1}}},
            ]
            cursor = await self.collection.aggregate(pipeline)
            return {str(doc["_id"]): int(doc["n"]) async for doc in cursor}
        edges: list[str | None] = [None, *self.slices.get(department, []), None]
        counts: dict[str, int] = {}
        keys: list[str] = []
        for low, high in itertools.pairwise(edges):
            span: Document = {"$gt": low} if low is not None else {"$gte": ""}
            if high is not None:
                span["$lte"] = high
            pipeline = [
                {"$match": {"department": department.value, "queue_key": span}},
                {"$match": where.query(department)},
                {"$project": {"_id": 0, "queue_key": 1, "status": 1}},
            ]
            async for doc in await self.collection.aggregate(pipeline):
                counts[doc["status"]] = counts.get(doc["status"], 0) + 1
                keys.append(doc["queue_key"])
        if where == QueueFilter():  # every open key seen: mark the slices for next time
            keys.sort()
            self.slices[department] = keys[COUNT_SLICE - 1 :: COUNT_SLICE]
        return counts

    async def linked_to(self, notice_id: str, limit: int = 1_000) -> list[CaseState]:
        """The cases linked to a status-board incident, in case-number order."""
        cursor = self.collection.find({"incidents.notice_id": notice_id}).sort("case_number", 1)
        return [CaseState.model_validate(doc) async for doc in cursor.limit(limit)]

    async def takeable(self, department: Department, limit: int = 20) -> list[UUID]:
        """The first unassigned New or Re-Opened cases of a queue, in work order."""
        query = {"department": department.value, "status": {"$in": TAKEABLE}, "assignee": None}
        cursor = self.collection.find(query, {"_id": 1}).sort(QUEUE_ORDER).limit(limit)
        return [UUID(doc["_id"]) async for doc in cursor]

    async def due(
        self, field: str, flags: tuple[str, ...], now: datetime, limit: int = 500
    ) -> list[CaseState]:
        """Cases whose timer `field` is due and not yet acted on (every flag in `flags` unset)."""
        query: Document = {f"timers.{field}": {"$lte": now}}
        query.update({f"timers.{flag}": False for flag in flags})
        cursor = self.collection.find(query).limit(limit)
        return [CaseState.model_validate(doc) async for doc in cursor]

    async def mark_timer(self, case_id: UUID, flag: str, close_at: datetime) -> None:
        """Remember that the timer command was published (only for the same timer)."""
        await self.collection.update_one(
            {"_id": str(case_id), "timers.close_at": close_at}, {"$set": {f"timers.{flag}": True}}
        )

    async def sla_due(self, now: datetime, limit: int = 500) -> list[CaseState]:
        """Cases owing an SLA warning or breach by `now` that no check was asked for yet."""
        query = {"sla.next_at": {"$lte": now}, "sla.check_requested": False}
        cursor = self.collection.find(query).limit(limit)
        return [CaseState.model_validate(doc) async for doc in cursor]

    async def mark_sla(self, case_id: UUID, next_at: datetime) -> None:
        """Remember that the check for that moment was published (only for that moment)."""
        await self.collection.update_one(
            {"_id": str(case_id), "sla.next_at": next_at}, {"$set": {"sla.check_requested": True}}
        )

    async def sla_counts(self) -> dict[tuple[str, str, str, str], int]:
        """Cases per (department, priority, target, standing): due, met, breached or unmet
        (closed without it)."""
        counts: dict[tuple[str, str, str, str], int] = {}
        for target in TARGETS:
            pipeline: list[Document] = [
                {"$match": {f"sla_{target}": {"$exists": True}}},
                {
                    "$group": {
                        "_id": {"d": "$department", "p": "$priority", "s": f"$sla_{target}"},
                        "n": {"$sum": 1},
                    }
                },
            ]
            async for doc in await self.collection.aggregate(pipeline):
                key = doc["_id"]
                counts[(key["d"], key["p"], target, key["s"])] = int(doc["n"])
        return counts

    async def sla_started_since(
        self, since: datetime, departments: list[Department] | None, limit: int = 50_000
    ) -> list[SlaCase]:
        """The cases whose clocks first started at or after `since`, as the report reads them."""
        query: Document = {"sla.runs.0.start": {"$gte": since}}
        if departments is not None:
            query["department"] = {"$in": [d.value for d in departments]}
        fields = ("department", "sla", "priority", "case_type", "account_id", "time_zone")
        cursor = self.collection.find(query, dict.fromkeys(fields, 1)).limit(limit)
        return [_sla_case(doc) async for doc in cursor]

    async def open_loads(self, department: Department, staff_ids: list[str]) -> dict[str, int]:
        """Open cases per staff member of a department."""
        match = {
            "department": department.value,
            "assignee.id": {"$in": staff_ids},
            "status": {"$ne": Status.CLOSED.value},
        }
        pipeline: list[Document] = [
            {"$match": match},
            {"$group": {"_id": "$assignee.id", "n": {"$sum": 1}}},
        ]
        cursor = await self.collection.aggregate(pipeline)
        return {doc["_id"]: int(doc["n"]) async for doc in cursor}


class ClaimStore:
    """The `claims` collection: who is taking which case, so two takers never collide."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["claims"]

    async def claim(self, case_id: UUID, staff_id: str, now: datetime) -> bool:
        """Claim the case for a minute; False when someone else holds a live claim."""
        until = now + timedelta(seconds=CLAIM_SECONDS)
        try:
            await self.collection.insert_one({"_id": str(case_id), "by": staff_id, "until": until})
            return True
        except DuplicateKeyError:
            expired = {"_id": str(case_id), "until": {"$lt": now}}
            result = await self.collection.update_one(
                expired, {"$set": {"by": staff_id, "until": until}}
            )
            return result.modified_count == 1


class CommandStore:
    """The `commands` collection: the outcome of every command, for `GET /commands/{id}`."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["commands"]

    async def pending(
        self, command_id: UUID, case_id: UUID, command_type: str, now: datetime
    ) -> None:
        """Record a published command unless its outcome is already known."""
        doc = {
            "case_id": str(case_id),
            "outcome": Outcome.PENDING.value,
            "command_type": command_type,
            "updated_at": now,
        }
        await self.collection.update_one(
            {"_id": str(command_id)}, {"$setOnInsert": doc}, upsert=True
        )

    async def record_many(self, outcomes: list[Document]) -> None:
        """Store outcomes (`_id` = command id); a pending record or a repeat is overwritten."""
        await insert_or_replace(self.collection, outcomes)

    async def get(self, command_id: UUID) -> Document | None:
        """A command's outcome, if recorded."""
        return await self.collection.find_one({"_id": str(command_id)})


class CursorStore:
    """The `assignment_cursors` collection: whose turn it is per department (round robin)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["assignment_cursors"]

    async def next_turn(self, department: Department) -> int:
        """Advance the department's cursor and return the turn before it."""
        doc = await self.collection.find_one_and_update(
            {"_id": department.slug},
            {"$inc": {"turn": 1}},
            upsert=True,
            return_document=ReturnDocument.BEFORE,
        )
        return int(doc["turn"]) if doc else 0


def outcome_doc(
    command_id: UUID,
    case_id: UUID,
    command_type: str,
    outcome: Outcome,
    reason: str | None,
    now: datetime,
) -> Document:
    """A command outcome as stored."""
    return {
        "_id": str(command_id),
        "case_id": str(case_id),
        "command_type": command_type,
        "outcome": outcome.value,
        "reason": reason,
        "updated_at": now,
    }
