"""Mongo access of notify: case views, the sent-mail log, mailed notices, a cached directory."""

import asyncio
import time
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from pymongo import ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from notify.models import CaseView, Mail
from shared.directory import DirectoryStore
from shared.events import Contact
from shared.messages import utcnow
from shared.mongo import Document
from shared.workflow import DEFAULT_TIME_ZONE

_DUPLICATE_KEY = 11000


class SentStatus(StrEnum):
    """Life of one (event, recipient) mail in the sent log."""

    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"


class CaseStore:
    """Per-case views (`cases`), keyed by case id; read and written once per batch."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["cases"]

    async def many(self, case_ids: list[UUID]) -> dict[UUID, CaseView]:
        """The stored views of these cases (unknown ones are absent), in one round trip."""
        cursor = self.collection.find({"_id": {"$in": [str(i) for i in case_ids]}})
        views = [CaseView.model_validate(doc) async for doc in cursor]
        return {view.case_id: view for view in views}

    async def save_all(self, views: list[CaseView]) -> None:
        """Store these views, in one round trip."""
        if views:
            writes = [
                ReplaceOne({"_id": str(v.case_id)}, v.model_dump(), upsert=True) for v in views
            ]
            await self.collection.bulk_write(writes, ordered=False)

    async def get(self, case_id: UUID) -> CaseView | None:
        """The view, if the case is known."""
        doc = await self.collection.find_one({"_id": str(case_id)})
        return CaseView.model_validate(doc) if doc else None


class CaseViews(Protocol):
    """Case views as handlers use them (Mongo here, a dict in unit tests)."""

    async def many(self, case_ids: list[UUID]) -> dict[UUID, CaseView]:
        """The stored views of these cases."""
        ...

    async def save_all(self, views: list[CaseView]) -> None:
        """Store these views."""
        ...


class NoticeLog(Protocol):
    """Mailed notice revisions as handlers use them."""

    async def mailed_revision(self, notice_id: str) -> int | None:
        """The last revision mailed, if any."""
        ...

    async def set_mailed(self, notice_id: str, revision: int, at: datetime) -> None:
        """Remember `revision` as mailed."""
        ...


class Directory(Protocol):
    """Directory reads as handlers use them."""

    async def contacts(self, ids: list[str]) -> dict[str, Contact]:
        """Known contacts among `ids`."""
        ...

    async def zone(self, account_id: str) -> str:
        """The district's time zone name."""
        ...

    async def contacts_in(self, account_ids: list[str]) -> list[Contact]:
        """Active contacts of these districts, or of all when none is named."""
        ...


class SentLog(Protocol):
    """The sent-mail log as delivery uses it (Mongo here, a dict in unit tests)."""

    async def claim(self, mails: list[Mail]) -> list[Mail]:
        """Record mails as sending; return those to send now."""
        ...

    async def mark(self, keys: list[str], status: SentStatus, reason: str = "") -> None:
        """Set the status of these keys."""
        ...


class SentStore:
    """`sent_mail`: one document per (event, recipient), the dedupe of every send."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["sent_mail"]

    async def ensure_indexes(self) -> None:
        """Status lookups (in-doubt mails after a crash) use this index."""
        await self.collection.create_index("status")

    async def claim(self, mails: list[Mail]) -> list[Mail]:
        """Write `sending` records in one round trip; new mails are returned, and so are
        mails a crashed process left `sending` (in doubt: sent again, same Message-ID)."""
        if not mails:
            return []
        try:
            await self.collection.insert_many([_sending(m) for m in mails], ordered=False)
            return mails
        except BulkWriteError as exc:
            seen = _duplicate_indexes(exc)
        fresh = [m for i, m in enumerate(mails) if i not in seen]
        again = [mails[i] for i in sorted(seen)]
        statuses = await self.statuses([m.key for m in again])
        return fresh + [m for m in again if statuses.get(m.key) == SentStatus.SENDING]

    async def mark(self, keys: list[str], status: SentStatus, reason: str = "") -> None:
        """Set the status of these keys in one round trip."""
        if keys:
            change = {"status": status.value, "updated_at": utcnow(), "reason": reason}
            await self.collection.update_many({"_id": {"$in": keys}}, {"$set": change})

    async def statuses(self, keys: list[str]) -> dict[str, str]:
        """Status by key, for the keys that are recorded."""
        cursor = self.collection.find({"_id": {"$in": keys}}, {"status": 1})
        return {doc["_id"]: doc["status"] async for doc in cursor}

    async def with_status(self, status: SentStatus) -> list[Document]:
        """Every record in `status` (e.g. the in-doubt `sending` ones after a crash)."""
        return [doc async for doc in self.collection.find({"status": status.value})]

    async def claim_replay(self, mail: Mail) -> bool:
        """Take a dead-lettered mail back for sending; False when it was sent meanwhile."""
        doc = {**_sending(mail), "replayed_at": utcnow()}
        del doc["_id"]
        try:
            await self.collection.update_one(
                {"_id": mail.key, "status": {"$ne": SentStatus.SENT.value}},
                {"$set": doc},
                upsert=True,
            )
            return True
        except DuplicateKeyError:
            return False


def _sending(mail: Mail) -> Document:
    return {
        "_id": mail.key,
        "event_id": str(mail.event_id),
        "recipient": mail.recipient,
        "message_id": mail.message_id,
        "template": mail.template,
        "case_id": str(mail.case_id) if mail.case_id else None,
        "status": SentStatus.SENDING.value,
        "claimed_at": utcnow(),
    }


def _duplicate_indexes(exc: BulkWriteError) -> set[int]:
    errors = exc.details.get("writeErrors", [])
    if any(error.get("code") != _DUPLICATE_KEY for error in errors):
        raise exc
    return {int(error["index"]) for error in errors}


class NoticeStore:
    """`notices`: the highest revision of each notice already mailed."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["notices"]

    async def mailed_revision(self, notice_id: str) -> int | None:
        """The last revision mailed, if any."""
        doc = await self.collection.find_one({"_id": notice_id})
        return int(doc["revision"]) if doc else None

    async def set_mailed(self, notice_id: str, revision: int, at: datetime) -> None:
        """Remember `revision` as mailed; never moves backwards."""
        await self.collection.update_one(
            {"_id": notice_id}, {"$max": {"revision": revision}, "$set": {"at": at}}, upsert=True
        )


class ContactBook:
    """Directory reads for mail, cached briefly: a rename shows within `ttl` seconds."""

    def __init__(self, directory: DirectoryStore, ttl: float = 30.0) -> None:
        self.directory = directory
        self.ttl = ttl
        self._contacts: dict[str, tuple[float, Contact]] = {}
        self._zones: dict[str, tuple[float, str]] = {}

    async def contacts(self, ids: list[str]) -> dict[str, Contact]:
        """Known contacts among `ids` (unknown ones are simply absent)."""
        found = await asyncio.gather(*(self.contact(i) for i in ids))
        return {c.id: c for c in found if c is not None}

    async def contact(self, contact_id: str) -> Contact | None:
        """One contact; misses are not cached, so a newcomer shows at once."""
        cached = self._contacts.get(contact_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        contact = await self.directory.contact(contact_id)
        if contact is not None:
            self._contacts[contact_id] = (time.monotonic() + self.ttl, contact)
        return contact

    async def zone(self, account_id: str) -> str:
        """The district's time zone name (default America/Chicago)."""
        cached = self._zones.get(account_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        account = await self.directory.account(account_id)
        name = account.time_zone if account else DEFAULT_TIME_ZONE
        self._zones[account_id] = (time.monotonic() + self.ttl, name)
        return name

    async def contacts_in(self, account_ids: list[str]) -> list[Contact]:
        """Active contacts of these districts, or of every district when none is named."""
        if not account_ids:
            cursor = self.directory.contacts.find({"active": True}).sort("_id", 1)
            return [Contact.model_validate(doc) async for doc in cursor]
        found: dict[str, Contact] = {}
        for account_id in account_ids:
            for contact in await self.directory.contacts_of(account_id):
                found.setdefault(contact.id, contact)
        return list(found.values())
