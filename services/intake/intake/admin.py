"""Directory administration: accounts, contacts, staff and API tokens, as directory events."""

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.directory import DirectoryStore, hash_token, new_token
from shared.enums import ActorKind, Department, TokenScope
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

# Publishes (acks=all) and stores the events that change a record; returns how many did.
Publish = Callable[[list[AnyDirectoryEvent]], Awaitable[int]]
TOKEN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class DirectoryAdminError(ValueError):
    """A directory change that cannot be made as asked; the message says how to fix it."""


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued: its stored record and the secret, which exists only here."""

    record: ApiToken
    secret: str


@dataclass(frozen=True)
class Bootstrap:
    """What a first-run bootstrap did: the staff member, and the token if one was issued now."""

    staff: StaffMember
    staff_created: bool
    token: IssuedToken | None
    existing_token: ApiToken | None


class DirectoryAdmin:
    """The directory's use cases for operators; every change goes out as a directory event."""

    def __init__(self, directory: DirectoryStore, publish: Publish) -> None:
        self.directory = directory
        self.publish = publish

    # --- reading ------------------------------------------------------------------------

    async def accounts(self) -> list[Account]:
        """Every account, by id."""
        cursor = self.directory.accounts.find({}).sort("_id", 1)
        return [Account.model_validate(doc) async for doc in cursor]

    async def contacts(self, account_id: str | None, *, inactive: bool) -> list[Contact]:
        """Contacts (of one account), by id; deactivated ones only when asked."""
        query: dict[str, object] = {} if inactive else {"active": True}
        if account_id is not None:
            query["account_ids"] = account_id
        cursor = self.directory.contacts.find(query).sort("_id", 1)
        return [Contact.model_validate(doc) async for doc in cursor]

    async def staff(self, department: Department | None, *, inactive: bool) -> list[StaffMember]:
        """Staff (of one department), by id; deactivated ones only when asked."""
        query: dict[str, object] = {} if inactive else {"active": True}
        if department is not None:
            query["departments"] = department.value
        cursor = self.directory.staff_members.find(query).sort("_id", 1)
        return [StaffMember.model_validate(doc) async for doc in cursor]

    async def tokens(self, subject_id: str | None) -> list[ApiToken]:
        """Token records (of one subject), by id: never a secret, only its hash is stored."""
        query = {} if subject_id is None else {"subject_id": subject_id}
        cursor = self.directory.tokens.find(query).sort("_id", 1)
        return [ApiToken.model_validate(doc) async for doc in cursor]

    # --- accounts, contacts and staff ---------------------------------------------------

    async def save_account(self, account: Account) -> bool:
        """Create or update an account; False when it was already so."""
        return await self.publish([AccountUpserted(account=account)]) > 0

    async def save_contact(self, contact: Contact) -> bool:
        """Create or update a contact of known accounts; False when it was already so."""
        missing = [a for a in contact.account_ids if await self.directory.account(a) is None]
        if missing:
            raise DirectoryAdminError(
                f"no account {', '.join(map(repr, missing))}: add it first with "
                "`add-account --id ID --name NAME` (see `list-accounts`)"
            )
        return await self.publish([ContactUpserted(contact=contact)]) > 0

    async def save_staff(self, staff: StaffMember) -> bool:
        """Create or update a staff member; False when it was already so."""
        return await self.publish([StaffUpserted(staff=staff)]) > 0

    async def deactivate_contact(self, contact_id: str) -> bool:
        """Deactivate a contact (their tokens stop working); False if already inactive."""
        contact = await self.directory.contact(contact_id)
        if contact is None:
            raise DirectoryAdminError(f"no contact {contact_id!r}; see `list-contacts --inactive`")
        changed = contact.model_copy(update={"active": False})
        return await self.publish([ContactUpserted(contact=changed)]) > 0

    async def deactivate_staff(self, staff_id: str) -> bool:
        """Deactivate a staff member (their tokens stop working); False if already inactive."""
        staff = await self.directory.staff(staff_id)
        if staff is None:
            raise DirectoryAdminError(f"no staff member {staff_id!r}; see `list-staff --inactive`")
        changed = staff.model_copy(update={"active": False, "on_duty": False})
        return await self.publish([StaffUpserted(staff=changed)]) > 0

    # --- tokens -------------------------------------------------------------------------

    async def issue_token(
        self,
        kind: ActorKind,
        subject_id: str,
        scopes: Sequence[TokenScope],
        expires_at: datetime | None,
        token_id: str | None = None,
    ) -> IssuedToken:
        """Issue a token for an active contact or staff member; only its SHA-256 is kept."""
        await self._require_active(kind, subject_id)
        token_id = token_id or f"tok-{new_token()[:12]}"
        if not TOKEN_ID.fullmatch(token_id):
            raise DirectoryAdminError(
                "a token id is 1 to 64 letters, digits, '.', '_' or '-', starting with a "
                "letter or digit"
            )
        if await self.directory.tokens.find_one({"_id": token_id}) is not None:
            raise DirectoryAdminError(f"token id {token_id!r} is taken; choose another")
        if expires_at is not None and expires_at <= datetime.now(UTC):
            raise DirectoryAdminError("the expiry is in the past; give a future date")
        secret = new_token()
        record = ApiToken(
            token_id=token_id,
            sha256=hash_token(secret),
            subject_kind=kind,
            subject_id=subject_id,
            scopes=sorted(set(scopes)),
            expires_at=expires_at,
        )
        await self.publish([TokenIssued(token=record)])
        return IssuedToken(record, secret)

    async def revoke_token(self, token_id: str) -> bool:
        """Revoke a token; False when it was already revoked."""
        doc = await self.directory.tokens.find_one({"_id": token_id})
        if doc is None:
            raise DirectoryAdminError(f"no token {token_id!r}; see `list-tokens`")
        revoked = ApiToken.model_validate({**doc, "revoked": True})
        return await self.publish([TokenIssued(token=revoked)]) > 0

    async def _require_active(self, kind: ActorKind, subject_id: str) -> None:
        if kind is ActorKind.STAFF:
            staff = await self.directory.staff(subject_id)
            active, listing = staff is not None and staff.active, "list-staff"
        elif kind is ActorKind.CONTACT:
            contact = await self.directory.contact(subject_id)
            active, listing = contact is not None and contact.active, "list-contacts"
        else:
            raise DirectoryAdminError("tokens are issued to contacts and staff only")
        if not active:
            raise DirectoryAdminError(f"no active {kind.value} {subject_id!r}; see `{listing}`")

    # --- first run ----------------------------------------------------------------------

    async def bootstrap(self, staff: StaffMember, expires_at: datetime | None) -> Bootstrap:
        """Create the first staff member and one token for them, once; a rerun changes nothing.

        An existing staff member is left as is; the token is issued only if the bootstrap
        token id was never used (revoked or expired, it is not issued again).
        """
        existing = await self.directory.staff(staff.id)
        if existing is None:
            await self.save_staff(staff)
        member = existing or staff
        token_id = bootstrap_token_id(staff.id)
        doc = await self.directory.tokens.find_one({"_id": token_id})
        if doc is not None:
            return Bootstrap(member, False, None, ApiToken.model_validate(doc))
        if not member.active:
            raise DirectoryAdminError(f"staff member {staff.id!r} is deactivated")
        scopes = [TokenScope.READ, TokenScope.WRITE]
        issued = await self.issue_token(ActorKind.STAFF, staff.id, scopes, expires_at, token_id)
        return Bootstrap(member, existing is None, issued, None)


def bootstrap_token_id(staff_id: str) -> str:
    """The fixed id of the bootstrap token, so a rerun finds it."""
    return f"bootstrap-{staff_id}"[:64]


def staff_id_for(email: str) -> str:
    """A staff id from an email address's local part, e.g. `ops.lead@x` -> `ops-lead`."""
    local = email.split("@", 1)[0].lower()
    return re.sub(r"[^a-z0-9]+", "-", local).strip("-")[:54] or "admin"


def token_state(token: ApiToken, now: datetime) -> str:
    """`active`, `revoked` or `expired`, as a listing shows it."""
    if token.revoked:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"
