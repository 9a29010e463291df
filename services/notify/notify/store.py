"""Mongo access of notify: case views, the sent-mail log, mailed notices, a cached directory."""

import asyncio
import contextlib
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol
from uuid import UUID, uuid4

from pymongo import ReplaceOne, UpdateMany
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from notify.models import CaseView, Mail
from shared.directory import DirectoryStore
from shared.enums import Department
from shared.events import NOTICE_EVENTS, AnyNoticeEvent, Contact, StaffMember
from shared.messages import utcnow
from shared.mongo import Document
from shared.zones import ZoneCache

_DUPLICATE_KEY = 11000


class SentStatus(StrEnum):
    """Life of one (event, recipient) mail in the sent log."""

    SENDING = "sending"  # claimed; the end of its data has not been sent: safe to send again
    DATA = "data"  # the end-of-data dot may have reached the server: in doubt until SENT
    SENT = "sent"
    DEAD = "dead"


ACTIVE = [SentStatus.SENDING.value, SentStatus.DATA.value]
DEFAULT_LEASE = timedelta(seconds=15)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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

    async def park(
        self, event: AnyNoticeEvent, until: datetime, request_id: str | None = None
    ) -> None:
        """Keep a notice with nobody to mail aside until `until`, with the request id that
        caused it (a newer revision replaces an older one; parking the same revision again
        keeps its first deadline)."""
        ...

    async def parked(self) -> list["Parked"]:
        """Every parked notice."""
        ...

    async def parked_notice(self, notice_id: str) -> "Parked | None":
        """The parked revision of this notice, if any."""
        ...

    async def unpark(self, notice_id: str, revision: int) -> None:
        """Drop the parked notice unless a newer revision was parked meanwhile."""
        ...


@dataclass(frozen=True)
class Parked:
    """A notice event set aside for want of recipients, and when it stops being waited for."""

    event: AnyNoticeEvent
    until: datetime
    request_id: str | None = None  # its mail, sent later, still carries it


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

    async def staff(self, ids: list[str]) -> dict[str, StaffMember]:
        """Known staff members among `ids`."""
        ...

    async def staff_in(self, department: Department) -> list[StaffMember]:
        """Active staff of a department."""
        ...


@dataclass(frozen=True)
class Claims:
    """What a claim got: mails to send now, and mails a live sender elsewhere holds."""

    mine: list[Mail] = field(default_factory=list)
    held: list[Mail] = field(default_factory=list)
    resumed: list[Mail] = field(default_factory=list)  # of mine: taken over before DATA
    in_doubt: list[Mail] = field(default_factory=list)  # of mine: taken over after DATA


class SentLog(Protocol):
    """The sent-mail log as delivery uses it (Mongo here, a dict in unit tests)."""

    async def claim(self, mails: list[Mail]) -> Claims:
        """Claim new mails and expired claims for this sender; report the ones held."""
        ...

    async def advance(self, data: list[str], sent: list[str]) -> set[str]:
        """`data` on the keys of `data` still ours, `sent` on those of `sent`; the ours."""
        ...

    async def mark(self, keys: list[str], status: SentStatus, reason: str = "") -> None:
        """Set the status of these keys."""
        ...

    async def renew(self, keys: list[str]) -> None:
        """Extend this sender's leases on these keys."""
        ...

    async def release(self, keys: list[str], unsent: list[str] | None = None) -> None:
        """Let any sender take these claims of ours over at once (their send was given up);
        those of `unsent` never had an end of data go out: back to `sending`, not in doubt."""
        ...


class ReplayLog(Protocol):
    """The sent log as a replay of dead mail uses it."""

    async def claim_replay(self, mail: Mail) -> bool:
        """Take the mail back for sending; False when it was sent meanwhile."""
        ...

    async def begin_data(self, keys: list[str]) -> set[str]:
        """Record that these mails' end of data may go out; the keys still ours."""
        ...

    async def mark(self, keys: list[str], status: SentStatus, reason: str = "") -> None:
        """Set the status of these keys."""
        ...


class SentStore:
    """`sent_mail`: one document per (event, recipient), the dedupe of every send.

    A claim belongs to one sender (`owner`, a process instance) until its lease ends; the
    owner renews it while sending, so only a sender that stopped loses its claims."""

    def __init__(
        self, db: AsyncDatabase[Document], owner: str = "", lease: timedelta = DEFAULT_LEASE
    ) -> None:
        self.collection = db["sent_mail"]
        self.owner = owner or f"{socket.gethostname()}/{os.getpid()}/{uuid4().hex[:8]}"
        self.lease = lease

    async def ensure_indexes(self) -> None:
        """Status lookups (in-doubt mails after a crash) use this index."""
        await self.collection.create_index("status")

    async def claim(self, mails: list[Mail]) -> Claims:
        """Insert new claims in one round trip; for mails already recorded, take over the
        claims whose lease ended (or that are ours) in one more, and read the outcome."""
        if not mails:
            return Claims()
        try:
            await self.collection.insert_many([self._claimed(m) for m in mails], ordered=False)
            return Claims(mine=mails)
        except BulkWriteError as exc:
            seen = _duplicate_indexes(exc)
        fresh = [m for i, m in enumerate(mails) if i not in seen]
        again = [mails[i] for i in sorted(seen)]
        docs = await self._take_over([m.key for m in again])
        return _sorted(fresh, again, docs, self.owner)

    async def _take_over(self, keys: list[str]) -> dict[str, Document]:
        now = utcnow()
        ended = [{"lease_until": {"$lt": now}}, {"lease_until": None}, {"owner": self.owner}]
        await self.collection.update_many(
            {"_id": {"$in": keys}, "status": {"$in": ACTIVE}, "$or": ended},
            {"$set": {"owner": self.owner, "lease_until": now + self.lease, "taken_at": now}},
        )
        cursor = self.collection.find({"_id": {"$in": keys}}, {"status": 1, "owner": 1})
        return {doc["_id"]: doc async for doc in cursor}

    async def begin_data(self, keys: list[str]) -> set[str]:
        """The fence before the end-of-data dot: `data` made durable on the keys whose claim
        is still ours (a sender whose lease was taken over must not finish the mail)."""
        return await self.advance(keys, [])

    async def advance(self, data: list[str], sent: list[str]) -> set[str]:
        """In one round trip, `data` on the keys of `data` whose claim is still ours and `sent`
        on the keys of `sent`; returns the keys of `data` that were ours."""
        now = utcnow()
        ours: Document = {"_id": {"$in": data}, "owner": self.owner, "status": {"$in": ACTIVE}}
        until = now + self.lease
        data_set = {"status": SentStatus.DATA.value, "data_at": now, "lease_until": until}
        sent_set = {"status": SentStatus.SENT.value, "updated_at": now, "reason": ""}
        writes = [UpdateMany(ours, {"$set": data_set})] if data else []
        if sent:
            writes.append(UpdateMany({"_id": {"$in": sent}}, {"$set": sent_set}))
        if not writes:
            return set()
        done = await self.collection.bulk_write(writes)
        if done.matched_count == len(data) + len(sent):
            return set(data)
        ours["status"] = SentStatus.DATA.value
        return {doc["_id"] async for doc in self.collection.find(ours, {"_id": 1})}

    async def mark(self, keys: list[str], status: SentStatus, reason: str = "") -> None:
        """Set the status of these keys in one round trip."""
        if keys:
            change = {"status": status.value, "updated_at": utcnow(), "reason": reason}
            await self.collection.update_many({"_id": {"$in": keys}}, {"$set": change})

    async def renew(self, keys: list[str]) -> None:
        """Extend our leases on the keys still in progress, in one round trip."""
        await self._set_lease(keys, utcnow() + self.lease)

    async def release(self, keys: list[str], unsent: list[str] | None = None) -> None:
        """End our leases on these keys now, and put those of `unsent` (no end of data went
        out) back to `sending`, in one round trip."""
        if not keys:
            return
        ours = {"owner": self.owner, "status": {"$in": ACTIVE}}
        writes = [UpdateMany({"_id": {"$in": keys}, **ours}, {"$set": {"lease_until": _EPOCH}})]
        if unsent:
            back = {"status": SentStatus.SENDING.value}
            writes.append(UpdateMany({"_id": {"$in": unsent}, **ours}, {"$set": back}))
        await self.collection.bulk_write(writes)

    async def _set_lease(self, keys: list[str], until: datetime) -> None:
        if keys:
            await self.collection.update_many(
                {"_id": {"$in": keys}, "owner": self.owner, "status": {"$in": ACTIVE}},
                {"$set": {"lease_until": until}},
            )

    async def statuses(self, keys: list[str]) -> dict[str, str]:
        """Status by key, for the keys that are recorded."""
        cursor = self.collection.find({"_id": {"$in": keys}}, {"status": 1})
        return {doc["_id"]: doc["status"] async for doc in cursor}

    async def with_status(self, status: SentStatus) -> list[Document]:
        """Every record in `status` (e.g. the in-doubt `data` ones after a crash)."""
        return [doc async for doc in self.collection.find({"status": status.value})]

    async def claim_replay(self, mail: Mail) -> bool:
        """Take a dead-lettered mail back for sending; False when it was sent meanwhile (or
        a live sender holds it)."""
        doc = {**self._claimed(mail), "replayed_at": utcnow()}
        try:
            await self.collection.insert_one(doc)
            return True
        except DuplicateKeyError:
            pass
        del doc["_id"]
        now = utcnow()
        ended = [{"status": SentStatus.DEAD.value},
                 {"status": {"$in": ACTIVE}, "lease_until": {"$lt": now}}]  # fmt: skip
        done = await self.collection.update_one(
            {"_id": mail.key, "$or": ended}, {"$set": {**doc, "status": SentStatus.SENDING.value}}
        )
        return done.matched_count == 1

    def _claimed(self, mail: Mail) -> Document:
        now = utcnow()
        return {
            "_id": mail.key,
            "event_id": str(mail.event_id),
            "recipient": mail.recipient,
            "message_id": mail.message_id,
            "template": mail.template,
            "case_id": str(mail.case_id) if mail.case_id else None,
            "request_id": mail.request_id,
            "status": SentStatus.SENDING.value,
            "owner": self.owner,
            "claimed_at": now,
            "lease_until": now + self.lease,
        }


def _sorted(fresh: list[Mail], again: list[Mail], docs: dict[str, Document], owner: str) -> Claims:
    """Split mails already recorded by their record after the takeover."""
    claims = Claims(mine=list(fresh))
    for mail in again:
        doc = docs.get(mail.key, {})
        if doc.get("status") not in ACTIVE:
            continue  # sent or dead-lettered: nothing to do
        if doc.get("owner") != owner:
            claims.held.append(mail)
            continue
        claims.mine.append(mail)
        was_data = doc["status"] == SentStatus.DATA.value
        (claims.in_doubt if was_data else claims.resumed).append(mail)
    return claims


def _duplicate_indexes(exc: BulkWriteError) -> set[int]:
    errors = exc.details.get("writeErrors", [])
    if any(error.get("code") != _DUPLICATE_KEY for error in errors):
        raise exc
    return {int(error["index"]) for error in errors}


class NoticeStore:
    """`notices`: the highest revision of each notice already mailed; `parked_notices`: the
    newest revision of each notice that found nobody to mail yet, with its deadline."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["notices"]
        self.parking = db["parked_notices"]

    async def mailed_revision(self, notice_id: str) -> int | None:
        """The last revision mailed, if any."""
        doc = await self.collection.find_one({"_id": notice_id})
        return int(doc["revision"]) if doc else None

    async def set_mailed(self, notice_id: str, revision: int, at: datetime) -> None:
        """Remember `revision` as mailed; never moves backwards."""
        await self.collection.update_one(
            {"_id": notice_id}, {"$max": {"revision": revision}, "$set": {"at": at}}, upsert=True
        )

    async def park(
        self, event: AnyNoticeEvent, until: datetime, request_id: str | None = None
    ) -> None:
        """Upsert unless this or a newer revision is parked already (then the insert of the
        same `_id` fails, and that is the answer)."""
        notice = event.notice
        doc = {"revision": notice.revision, "until": until, "event": event.model_dump(mode="json")}
        doc["request_id"] = request_id
        with contextlib.suppress(DuplicateKeyError):
            await self.parking.update_one(
                {"_id": notice.id, "revision": {"$lt": notice.revision}}, {"$set": doc}, upsert=True
            )

    async def parked(self) -> list[Parked]:
        """Every parked notice, oldest deadline first."""
        cursor = self.parking.find({}).sort("until", 1)
        return [_parked(doc) async for doc in cursor]

    async def parked_notice(self, notice_id: str) -> Parked | None:
        """The parked revision of this notice, if any."""
        doc = await self.parking.find_one({"_id": notice_id})
        return _parked(doc) if doc else None

    async def unpark(self, notice_id: str, revision: int) -> None:
        """Delete it if its revision is `revision` or older."""
        await self.parking.delete_one({"_id": notice_id, "revision": {"$lte": revision}})


def _parked(doc: Document) -> Parked:
    event = NOTICE_EVENTS.validate_python(doc["event"])
    return Parked(event, doc["until"], doc.get("request_id"))


class ContactBook:
    """Directory reads for mail, cached briefly: a rename shows within `ttl` seconds."""

    def __init__(self, directory: DirectoryStore, ttl: float = 30.0) -> None:
        self.directory = directory
        self.ttl = ttl
        self._contacts: dict[str, tuple[float, Contact]] = {}
        self._staff: dict[str, tuple[float, StaffMember]] = {}
        self._zones = ZoneCache(directory, ttl=ttl)

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

    async def staff(self, ids: list[str]) -> dict[str, StaffMember]:
        """Known staff members among `ids` (unknown ones are simply absent)."""
        found = await asyncio.gather(*(self.staff_member(i) for i in ids))
        return {s.id: s for s in found if s is not None}

    async def staff_member(self, staff_id: str) -> StaffMember | None:
        """One staff member; misses are not cached, as for contacts."""
        cached = self._staff.get(staff_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        member = await self.directory.staff(staff_id)
        if member is not None:
            self._staff[staff_id] = (time.monotonic() + self.ttl, member)
        return member

    async def staff_in(self, department: Department) -> list[StaffMember]:
        """Active staff of a department, by id."""
        return await self.directory.staff_in(department)

    async def zone(self, account_id: str) -> str:
        """The district's time zone name (the default zone for an unknown district)."""
        return await self._zones.zone_of(account_id)

    async def contacts_in(self, account_ids: list[str]) -> list[Contact]:
        """Active contacts of these districts, or of every district when none is named."""
        if not account_ids:
            return await self.directory.active_contacts()
        found: dict[str, Contact] = {}
        for account_id in account_ids:
            for contact in await self.directory.contacts_of(account_id):
                found.setdefault(contact.id, contact)
        return list(found.values())
