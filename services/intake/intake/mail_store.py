"""Mongo for inbound mail: senders by address, the log of every message, the kept originals."""

import contextlib
import hashlib
import re
from typing import Any
from uuid import UUID, uuid5

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from intake.mail_logic import ORIGINAL_NAME, ORIGINAL_TYPE
from intake.store import AttachmentStore
from shared.directory import DirectoryStore, Principal, principal_of_contact, principal_of_staff
from shared.events import Contact, StaffMember
from shared.messages import AttachmentRef, utcnow
from shared.mongo import Document

ORIGINALS = UUID("3c8e1f4a-7b2d-4c6e-9a1f-5d3b7e2c8a40")


class Senders:
    """Who an address belongs to: the directory's active contacts and staff with that email."""

    def __init__(self, directory: DirectoryStore) -> None:
        self.directory = directory

    async def of(self, address: str) -> list[Principal]:
        """Every active principal whose email is `address` (any case), contacts first."""
        query = {"email": {"$regex": f"^{re.escape(address)}$", "$options": "i"}, "active": True}
        contacts = [
            principal_of_contact(Contact.model_validate(doc))
            async for doc in self.directory.contacts.find(query)
        ]
        staff = [
            principal_of_staff(StaffMember.model_validate(doc))
            async for doc in self.directory.staff_members.find(query)
        ]
        return sorted(contacts, key=lambda p: p.id) + sorted(staff, key=lambda p: p.id)


class MailLog:
    """The `inbound_mail` collection: every message received and what became of it."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["inbound_mail"]

    async def ensure_indexes(self) -> None:
        """Looked at by sender and time when something loops or floods."""
        await self.collection.create_index([("sender", 1), ("received_at", -1)])

    async def outcome(self, key: str) -> Document | None:
        """The record of an earlier delivery of the same message, if it was settled."""
        return await self.collection.find_one({"_id": key, "outcome": {"$exists": True}})

    async def record(self, key: str, facts: dict[str, Any]) -> None:
        """Write what became of the message (the last delivery's outcome wins)."""
        now = utcnow()
        await self.collection.update_one(
            {"_id": key},
            {"$set": {**facts, "settled_at": now}, "$setOnInsert": {"received_at": now}},
            upsert=True,
        )


class Originals:
    """Each reply's raw message, kept as an attachment of its post under a derived id."""

    def __init__(self, attachments: AttachmentStore) -> None:
        self.attachments = attachments

    async def keep(self, case_id: UUID, post_id: UUID, raw: bytes, author: str) -> AttachmentRef:
        """Store the message once per post (a redelivery finds it), visible at once."""
        file_id = ObjectId(uuid5(ORIGINALS, str(post_id)).bytes[:12])
        found = await self.attachments.files.find_one({"_id": file_id})
        if found is None:
            # DuplicateKeyError: the same message, delivered twice at once, stored it first
            with contextlib.suppress(DuplicateKeyError):
                await self._upload(file_id, case_id, post_id, raw, author)
        await self.attachments.publish([str(file_id)])
        return AttachmentRef(
            attachment_id=str(file_id),
            filename=ORIGINAL_NAME,
            content_type=ORIGINAL_TYPE,
            size=len(raw),
            sha256=hashlib.sha256(raw).hexdigest(),
        )

    async def _upload(
        self, file_id: ObjectId, case_id: UUID, post_id: UUID, raw: bytes, author: str
    ) -> None:
        meta = {
            "case_id": str(case_id),
            "post_id": str(post_id),
            "uploaded_by": author,
            "content_type": ORIGINAL_TYPE,
            "role": "original message",
            "state": "pending",
        }
        grid_in = self.attachments.bucket.open_upload_stream_with_id(
            file_id, ORIGINAL_NAME, metadata=meta
        )
        await grid_in.write(raw)
        await grid_in.set("sha256", hashlib.sha256(raw).hexdigest())
        await grid_in.close()
