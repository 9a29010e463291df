"""A service's view of the directory topic (accounts, contacts, staff, tokens) and bearer auth."""

import asyncio
import contextlib
import hashlib
import secrets
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from faststream.kafka import KafkaBroker
from pydantic import BaseModel, ConfigDict
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.access import note_caller
from shared.enums import ActorKind, ContactType, Department, TokenScope
from shared.events import (
    Account,
    AccountUpserted,
    AnyDirectoryEvent,
    ApiToken,
    Contact,
    ContactUpserted,
    StaffMember,
    StaffUpserted,
    TokenIssued,
)
from shared.identity import IdentityKeys, keys_from_environment, looks_like_jwt
from shared.kafka import consumer_options
from shared.messages import Actor
from shared.mongo import Document

TOKEN_CACHE_SECONDS = 30.0
# An unknown token is remembered only briefly: a token issued a moment ago on another replica
# works within a second, while a flood of bad tokens still costs one lookup a second each.
UNKNOWN_TOKEN_CACHE_SECONDS = 1.0
TOKEN_CACHE_LIMIT = 10_000
# Requests a token without the `write` scope may make.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def new_token() -> str:
    """A fresh bearer token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 of a token; high-entropy tokens need no slow hash, and only this is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def directory_key(event: AnyDirectoryEvent) -> str:
    """Compaction key of a directory event: one live record per account, contact, staff, token."""
    match event:
        case AccountUpserted():
            return f"account:{event.account.id}"
        case ContactUpserted():
            return f"contact:{event.contact.id}"
        case StaffUpserted():
            return f"staff:{event.staff.id}"
        case TokenIssued():
            return f"token:{event.token.token_id}"


class Principal(BaseModel):
    """The caller behind a bearer token: a district contact or a staff member."""

    model_config = ConfigDict(frozen=True)

    kind: ActorKind
    id: str
    name: str
    email: str
    contact_type: ContactType | None = None
    account_ids: list[str] = []
    departments: list[Department] = []
    supervisor: bool = False
    scopes: frozenset[TokenScope] = frozenset(TokenScope)
    expires_at: datetime | None = None

    @property
    def actor(self) -> Actor:
        """The principal as the actor recorded on events."""
        return Actor(kind=self.kind, id=self.id, name=self.name)

    @property
    def is_staff(self) -> bool:
        """Staff see every district."""
        return self.kind is ActorKind.STAFF

    @property
    def can_modify_cases(self) -> bool:
        """Staff and authorized contacts modify cases; Read-Only contacts do not."""
        return self.is_staff or bool(self.contact_type and self.contact_type.can_modify_cases)

    def acts_for(self, department: Department) -> bool:
        """Staff act on cases routed to their departments; supervisors on every case."""
        return self.is_staff and (self.supervisor or department in self.departments)

    def sees_account(self, account_id: str) -> bool:
        """Contacts see their districts only; staff see all."""
        return self.is_staff or account_id in self.account_ids

    def allows(self, method: str) -> bool:
        """Whether the token's scopes allow this HTTP method: changes need `write`."""
        return method.upper() in SAFE_METHODS or TokenScope.WRITE in self.scopes

    def expired(self) -> bool:
        """The token's expiry has passed."""
        return self.expires_at is not None and datetime.now(UTC) >= self.expires_at


def principal_of_contact(contact: Contact) -> Principal:
    """A contact as a principal."""
    return Principal(
        kind=ActorKind.CONTACT,
        id=contact.id,
        name=contact.display_name,
        email=str(contact.email),
        contact_type=contact.contact_type,
        account_ids=contact.account_ids,
    )


def principal_of_staff(staff: StaffMember) -> Principal:
    """A staff member as a principal."""
    return Principal(
        kind=ActorKind.STAFF,
        id=staff.id,
        name=staff.name,
        email=str(staff.email),
        departments=staff.departments,
        supervisor=staff.supervisor,
    )


class DirectoryStore:
    """Accounts, contacts, staff and token hashes, projected from the directory topic."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        prefix: str = "dir_",
        identity: IdentityKeys | None = None,
    ) -> None:
        # The portal's short-lived identity tokens verify with this key (IDENTITY_SIGNING_KEY).
        self.identity = identity if identity is not None else keys_from_environment()
        self.accounts = db[f"{prefix}accounts"]
        self.contacts = db[f"{prefix}contacts"]
        self.staff_members = db[f"{prefix}staff"]
        self.tokens = db[f"{prefix}tokens"]
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lookups: dict[str, asyncio.Future[Principal | None]] = {}

    async def ensure_indexes(self) -> None:
        """Indexes every lookup here uses."""
        await self.contacts.create_index("account_ids")
        await self.staff_members.create_index("departments")
        await self.tokens.create_index("sha256", unique=True)

    async def apply(self, event: AnyDirectoryEvent) -> None:
        """Upsert the record the event carries; an older event never overwrites a newer one."""
        match event:
            case AccountUpserted():
                await self._upsert(self.accounts, event.account.id, event.account, event)
            case ContactUpserted():
                await self._upsert(self.contacts, event.contact.id, event.contact, event)
            case StaffUpserted():
                await self._upsert(self.staff_members, event.staff.id, event.staff, event)
            case TokenIssued():
                await self._upsert(self.tokens, event.token.token_id, event.token, event)
        if not isinstance(event, AccountUpserted):  # who a token stands for may have changed
            self._cache.clear()

    async def _upsert(self, collection: Any, key: str, record: BaseModel, event: Any) -> None:
        doc = {**record.model_dump(mode="json"), "_id": key, "_at": event.occurred_at}
        newer = {"_id": key, "$or": [{"_at": {"$lte": event.occurred_at}}, {"_at": None}]}
        with contextlib.suppress(DuplicateKeyError):  # a newer version is already stored
            await collection.update_one(newer, {"$set": doc}, upsert=True)

    async def account(self, account_id: str) -> Account | None:
        """The account, if known."""
        doc = await self.accounts.find_one({"_id": account_id})
        return Account.model_validate(doc) if doc else None

    async def contact(self, contact_id: str) -> Contact | None:
        """The contact, if known."""
        doc = await self.contacts.find_one({"_id": contact_id})
        return Contact.model_validate(doc) if doc else None

    async def accounts_by_id(self, account_ids: Iterable[str]) -> dict[str, Account]:
        """The known accounts among these ids, by id, in one read."""
        cursor = self.accounts.find({"_id": {"$in": sorted(set(account_ids))}})
        return {doc["_id"]: Account.model_validate(doc) async for doc in cursor}

    async def contacts_by_id(self, contact_ids: Iterable[str]) -> dict[str, Contact]:
        """The known contacts among these ids, by id, in one read."""
        cursor = self.contacts.find({"_id": {"$in": sorted(set(contact_ids))}})
        return {doc["_id"]: Contact.model_validate(doc) async for doc in cursor}

    async def contacts_of(self, account_id: str) -> list[Contact]:
        """Active contacts of a district."""
        cursor = self.contacts.find({"account_ids": account_id, "active": True})
        return [Contact.model_validate(doc) async for doc in cursor]

    async def active_contacts(self) -> list[Contact]:
        """Active contacts of every district, in id order."""
        cursor = self.contacts.find({"active": True}).sort("_id", 1)
        return [Contact.model_validate(doc) async for doc in cursor]

    async def staff(self, staff_id: str) -> StaffMember | None:
        """The staff member, if known."""
        doc = await self.staff_members.find_one({"_id": staff_id})
        return StaffMember.model_validate(doc) if doc else None

    async def staff_in(self, department: Department) -> list[StaffMember]:
        """Active staff of a department, by id."""
        cursor = self.staff_members.find({"departments": department.value, "active": True})
        return sorted([StaffMember.model_validate(d) async for d in cursor], key=lambda s: s.id)

    async def principal_for(self, token: str) -> Principal | None:
        """Who holds this live token; cached briefly, so a revocation applies within 30 s.

        An expired token is refused from its expiry on, cached or not. A portal identity
        token (a signed JWT) stands for its subject as the directory has them now.
        """
        if looks_like_jwt(token):
            return await self._principal_of_identity(token)
        principal = await self._principal_for(token)
        return None if principal is None or principal.expired() else principal

    async def _principal_for(self, token: str) -> Principal | None:
        """The token's principal through the cache.

        Concurrent requests with the same uncached token share one lookup, an unknown token
        is remembered for a second only, and the cache holds at most TOKEN_CACHE_LIMIT tokens.
        """
        digest = hash_token(token)
        cached = self._cache.get(digest)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        pending = self._lookups.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)
        lookup = asyncio.ensure_future(self._resolve(digest))
        self._lookups[digest] = lookup
        try:
            principal = await asyncio.shield(lookup)
        finally:
            self._lookups.pop(digest, None)
        self._remember(digest, principal)
        return principal

    async def _principal_of_identity(self, token: str) -> Principal | None:
        """The subject of a valid identity token, with the token's scopes and expiry; the
        subject is cached like a token's, so each fresh token costs no lookup."""
        found = self.identity.verify(token) if self.identity is not None else None
        if found is None:
            return None
        key = f"identity:{found.subject_kind}:{found.subject_id}"
        cached = self._cache.get(key)
        if cached and cached[0] > time.monotonic():
            subject = cached[1]
        else:
            subject = await self._subject_of(found.subject_kind, found.subject_id)
            self._remember(key, subject)
        if subject is None:
            return None
        return subject.model_copy(update={"scopes": found.scopes, "expires_at": found.expires_at})

    def _remember(self, digest: str, principal: Principal | None) -> None:
        ttl = TOKEN_CACHE_SECONDS if principal is not None else UNKNOWN_TOKEN_CACHE_SECONDS
        self._cache.pop(digest, None)
        while len(self._cache) >= TOKEN_CACHE_LIMIT:
            self._cache.pop(next(iter(self._cache)))  # the oldest entry
        self._cache[digest] = (time.monotonic() + ttl, principal)

    async def _resolve(self, digest: str) -> Principal | None:
        doc = await self.tokens.find_one({"sha256": digest, "revoked": False})
        if doc is None:
            return None
        token = ApiToken.model_validate(doc)
        subject = await self._subject(token)
        if subject is None:
            return None
        return subject.model_copy(
            update={"scopes": frozenset(token.scopes), "expires_at": token.expires_at}
        )

    async def _subject(self, token: ApiToken) -> Principal | None:
        return await self._subject_of(token.subject_kind, token.subject_id)

    async def _subject_of(self, kind: ActorKind, subject_id: str) -> Principal | None:
        if kind is ActorKind.STAFF:
            staff = await self.staff(subject_id)
            return principal_of_staff(staff) if staff and staff.active else None
        contact = await self.contact(subject_id)
        return principal_of_contact(contact) if contact and contact.active else None


def subscribe_directory(
    broker: KafkaBroker, topic: str, group: str, store: Callable[[], DirectoryStore]
) -> None:
    """Keep `store` in step with the directory topic, from its beginning."""

    @broker.subscriber(topic, **consumer_options(group))  # type: ignore[untyped-decorator]
    async def on_directory_event(event: AnyDirectoryEvent) -> None:
        await store().apply(event)


_bearer = HTTPBearer(auto_error=False, description="API token issued to a contact or staff member")


def bearer_auth(store: Callable[[], DirectoryStore]) -> Callable[..., Any]:
    """FastAPI dependency resolving the bearer token to a Principal, or 401 saying what to do."""

    async def current_principal(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None:
            raise _unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
        principal = await store().principal_for(credentials.credentials)
        if principal is None:
            raise _unauthorized(
                "unknown, revoked or expired token: ask your administrator for a new one"
            )
        note_caller(request.scope, principal.kind.value, principal.id)  # for the access line
        if not principal.allows(request.method):
            raise _out_of_scope(request.method)
        return principal

    return current_principal


def _out_of_scope(method: str) -> HTTPException:
    return HTTPException(
        status.HTTP_403_FORBIDDEN,
        detail=(
            f"this token has only the 'read' scope, and {method} needs 'write': use a token "
            "issued with `--scope write` (python -m intake.cli issue-token)"
        ),
    )


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )
