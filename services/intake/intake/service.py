"""Intake's use cases: check, publish (acknowledged), then record; api.py only translates HTTP.

Each use case returns a model or raises one of intake's errors (errors.py); an
Idempotency-Key is honoured here, in `_once`, and nowhere else.
"""

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, BinaryIO, TypeVar
from uuid import UUID, uuid4, uuid5
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from intake import logic
from intake.errors import Conflict, InDoubt, Invalid, NotFound, Unavailable, problem
from intake.logic import CaseState, TokenBucket
from intake.models import (
    COMMON_FIELDS,
    AttachmentPublic,
    CaseFields,
    CasePublic,
    CommandAccepted,
    ContactChangePublic,
    ContactCreate,
    ContactPublic,
    ContactRecordPublic,
    ContactsPublic,
    ContactUpdate,
    PostPublic,
    RecipientPublic,
    RecipientsPublic,
    StaffListPublic,
    StaffPublic,
)
from intake.producer import EventPublisher
from intake.seed import publish_directory
from intake.settings import Settings
from intake.store import (
    CHUNK,
    AttachmentStore,
    CaseStore,
    CounterStore,
    IdempotencyStore,
    case_document,
)
from intake.timing import phase
from shared.cases import DETAILS_BY_TYPE, Details
from shared.commands import CloseCase, ReopenCase
from shared.directory import DirectoryStore, Principal
from shared.enums import ActorKind, CaseType, Priority, Status, Visibility
from shared.events import (
    AnyDirectoryEvent,
    ApiToken,
    AttachmentAdded,
    CaseSubmitted,
    Contact,
    ContactUpserted,
    PostAdded,
    RecipientsChanged,
    TokenIssued,
    submitted_event_id,
)
from shared.messages import AttachmentRef, Message, utcnow
from shared.mongo import Document
from shared.topics import Topics
from shared.zones import ZoneCache

RECIPIENT_ATTEMPTS = 20
RECIPIENT_RETRY_SECONDS = 0.05
Change = tuple[list[str], list[str]]
Answer = TypeVar("Answer", bound=BaseModel)


@dataclass(frozen=True)
class Upload:
    """One file of a post, as received."""

    filename: str
    declared_type: str | None
    size: int
    file: BinaryIO


@dataclass(frozen=True)
class Download:
    """An attachment to send: what it is, and its bytes chunk by chunk."""

    attachment: AttachmentPublic
    content: AsyncIterator[bytes]


@dataclass
class Intake:
    """Everything the API does, with its stores and the publisher injected."""

    settings: Settings
    topics: Topics
    directory: DirectoryStore
    cases: CaseStore
    counters: CounterStore
    idempotency: IdempotencyStore
    attachments: AttachmentStore
    publisher: EventPublisher
    zones: ZoneCache
    limiter: TokenBucket

    # --- callers and idempotency -----------------------------------------------------

    def admit(self, principal: Principal) -> Principal:
        """The caller, if their token is within its rate (RateLimited otherwise)."""
        wait = self.limiter.take(f"{principal.kind}:{principal.id}")
        logic.check_rate(wait, self.limiter)
        return principal

    async def _once(
        self,
        principal: Principal,
        key: str | None,
        request: dict[str, Any],
        answer: type[Answer],
        run: Callable[[], Awaitable[Answer]],
    ) -> Answer:
        """Run once per (caller, key): a retry gets the first answer, a different body a 422."""
        if key is None:
            return await run()
        scoped, print_ = logic.scoped_key(principal, key), logic.fingerprint(request)
        earlier = await self.idempotency.reserve(scoped, print_)
        if earlier is not None:
            return answer.model_validate(logic.replayed(earlier, print_))
        try:
            result = await run()
        except BaseException:
            await self.idempotency.release(scoped)
            raise
        await self.idempotency.complete(scoped, result.model_dump(mode="json"))
        return result

    # --- submission -------------------------------------------------------------------

    async def submit(
        self, principal: Principal, body: CaseFields, key: str | None = None
    ) -> CasePublic:
        """Submit a case once per Idempotency-Key (see `_submit`)."""
        request = {"path": "/cases", "body": body.model_dump(mode="json")}
        case_id = logic.keyed_case_id(principal, key)
        run = lambda: self._submit(principal, body, case_id)  # noqa: E731
        return await self._once(principal, key, request, CasePublic, run)

    async def _submit(
        self, principal: Principal, body: CaseFields, case_id: UUID | None
    ) -> CasePublic:
        """Validate a case at the edge, number it, publish CaseSubmitted, record it.

        With `case_id` (from an Idempotency-Key) a case already recorded under it is answered
        as it stands instead of being submitted again.
        """
        if case_id is not None and (known := await self.cases.document(str(case_id))):
            await self._confirm(known)
            return _known_case_public(known)
        logic.check_can_submit(principal)
        account_id = logic.choose_account(principal, body.account_id)
        contact_id = await self._case_contact(principal, account_id, body.contact_id)
        case_type = CaseType(getattr(body, "case_type"))  # noqa: B009 - every CaseCreate has it
        logic.check_priority(case_type, body.priority)
        details = DETAILS_BY_TYPE[case_type].model_validate(
            body.model_dump(exclude=set(COMMON_FIELDS))
        )
        await self._check_dates(account_id, details, body.due_date)
        event = await self._publish_case(
            principal, body, account_id, contact_id, details, case_id or uuid4(), case_id
        )
        self.cases.insert_behind(case_document(event))
        return _case_public(event)

    async def _confirm(self, known: Document) -> None:
        """Re-send a keyed case's event whose first send was never confirmed."""
        if "unconfirmed" not in known:
            return
        event = CaseSubmitted.model_validate(known["unconfirmed"])
        await self.publisher.publish(self.topics.case_events, str(event.case_id), [event])
        await self.cases.confirmed(str(event.case_id))

    async def _case_contact(self, principal: Principal, account_id: str, wanted: str | None) -> str:
        if wanted is None and principal.is_staff:
            raise Invalid(problem("contact_id", "required_for_staff", "staff must set contact_id"))
        if wanted is None or wanted == principal.id:
            return principal.id
        logic.check_case_contact(account_id, await self.directory.contact(wanted), wanted)
        return wanted

    async def _check_dates(self, account_id: str, details: Details, due: date | None) -> None:
        today = datetime.now(ZoneInfo(await self.zones.zone_of(account_id))).date()
        problems = logic.date_problems(details, due, today)
        if problems:
            raise Invalid(*problems)

    async def _publish_case(
        self,
        principal: Principal,
        body: CaseFields,
        account_id: str,
        contact_id: str,
        details: Details,
        case_id: UUID,
        keyed: UUID | None,
    ) -> CaseSubmitted:
        with phase("number"):
            number = await self.counters.take()
        event = CaseSubmitted(
            event_id=submitted_event_id(case_id),
            case_id=case_id,
            case_number=number,
            account_id=account_id,
            contact_id=contact_id,
            submitted_by=principal.actor,
            priority=body.priority,
            subject=body.subject,
            description=body.description,
            due_date=body.due_date,
            details=details,
        )
        try:
            with phase("kafka"):
                await self.publisher.publish(self.topics.case_events, str(event.case_id), [event])
        except InDoubt:
            # The event may stand: its number is never handed out again, and a keyed retry
            # re-sends this very event (same id, same number) instead of making another.
            if keyed is not None:
                self.cases.insert_behind(case_document(event, unconfirmed=True))
            raise
        except Unavailable:
            self.counters.give_back(number)  # nothing was accepted: the number is reused
            raise
        return event

    # --- cases the caller can see -----------------------------------------------------

    async def case_id_of(self, principal: Principal, ref: str) -> UUID:
        """The id of the case a number or an id names (NotFound for anything else).

        An id is taken as given (visible() checks it where it is used); a number is looked
        up, and a case of another district is not found, exactly like its id.
        """
        parsed = logic.check_case_ref(ref)
        if isinstance(parsed, UUID):
            return parsed
        case_id = await self.cases.id_of_number(parsed)
        case = await self.cases.get(case_id) if case_id else None
        if case is None or not principal.sees_account(case.account_id):
            raise logic.case_not_found(ref)
        return UUID(case.case_id)

    async def visible(self, principal: Principal, case_id: UUID) -> CaseState:
        """The case if the caller's districts include it; NotFound otherwise."""
        return logic.check_visible(principal, await self.cases.get(str(case_id)), str(case_id))

    # --- posts and attachments --------------------------------------------------------

    async def add_post(
        self,
        principal: Principal,
        ref: str,
        body: str,
        files: list[Upload],
        key: str | None = None,
        visibility: Visibility = Visibility.PUBLIC,
    ) -> PostPublic:
        """Post once per Idempotency-Key: a retry gets the first answer and adds nothing."""
        case_id = await self.case_id_of(principal, ref)
        request = {
            "path": f"/cases/{case_id}/posts",
            "body": body,
            "files": [_file_print(f) for f in files] if key else [],
            # Only when internal: a public post's fingerprint stays what it was before notes.
            **({"visibility": visibility.value} if visibility is Visibility.INTERNAL else {}),
        }
        post_id = logic.keyed_post_id(principal, key) or uuid4()
        run = lambda: self._post(principal, case_id, body, files, post_id, visibility)  # noqa: E731
        return await self._once(principal, key, request, PostPublic, run)

    async def _post(
        self,
        principal: Principal,
        case_id: UUID,
        body: str,
        files: list[Upload],
        post_id: UUID,
        visibility: Visibility,
    ) -> PostPublic:
        """Sanitize, store the files, publish PostAdded and AttachmentAdded, then show them."""
        case = await self.visible(principal, case_id)
        logic.check_visibility(principal, visibility)
        logic.check_modify(principal, "post to")
        logic.check_staff_department(principal, case)
        logic.check_file_count(len(files), self.settings.max_attachments)
        for index, upload in enumerate(files):
            logic.check_file_size(index, upload.size, self.settings.max_attachment_bytes)
        clean, text = logic.sanitize_html(body)
        logic.check_post(text, clean, len(files))
        refs = [await self._store(principal, case_id, post_id, f, visibility) for f in files]
        post = PostAdded(
            event_id=uuid5(post_id, "post.added"),
            case_id=case_id,
            post_id=post_id,
            author=principal.actor,
            body_html=clean,
            body_text=text,
            attachments=refs,
            visibility=visibility,
        )
        await self._publish_post(post, refs)
        return PostPublic(
            post_id=post_id,
            case_id=case_id,
            body_html=clean,
            attachments=refs,
            visibility=visibility,
        )

    async def _store(
        self,
        principal: Principal,
        case_id: UUID,
        post_id: UUID,
        upload: Upload,
        visibility: Visibility,
    ) -> AttachmentRef:
        head = upload.file.read(8192)
        upload.file.seek(0)
        content_type = logic.sniff_type(head, upload.declared_type)
        meta = {
            "case_id": str(case_id),
            "post_id": str(post_id),
            "uploaded_by": principal.id,
            "visibility": visibility.value,
        }
        name = logic.safe_filename(upload.filename)
        return await self.attachments.upload(upload.file, name, content_type, meta)

    async def _publish_post(self, post: PostAdded, refs: list[AttachmentRef]) -> None:
        added: list[Message] = [
            AttachmentAdded(
                event_id=uuid5(post.post_id, f"attachment.added:{index}"),
                case_id=post.case_id,
                attachment=r,
                post_id=post.post_id,
                author=post.author,
                visibility=post.visibility,
            )
            for index, r in enumerate(refs)
        ]
        ids = [r.attachment_id for r in refs]
        try:
            await self.publisher.publish(self.topics.case_events, str(post.case_id), [post, *added])
        except InDoubt:
            await self.attachments.publish(ids)  # the post may stand: keep what it refers to
            raise
        except Unavailable:
            await self.attachments.discard(ids)
            raise
        await self.attachments.publish(ids)

    async def list_attachments(self, principal: Principal, ref: str) -> list[AttachmentPublic]:
        """The case's attachments the caller may read (a contact: no internal ones), oldest
        first."""
        case_id = await self.case_id_of(principal, ref)
        await self.visible(principal, case_id)
        docs = await self.attachments.list(str(case_id))
        return [_attachment(doc) for doc in docs if logic.readable(principal, _visibility(doc))]

    async def download(self, principal: Principal, ref: str, attachment_id: str) -> Download:
        """One attachment of a visible case, with its bytes; NotFound for anything else."""
        case_id = await self.case_id_of(principal, ref)
        await self.visible(principal, case_id)
        doc = await self.attachments.find(str(case_id), attachment_id)
        if doc is None or not logic.readable(principal, _visibility(doc)):
            raise NotFound(
                problem("attachment_id", "exists", f"no attachment {attachment_id} on this case")
            )
        found = _attachment(doc)
        return Download(found, self.attachments.stream(found.attachment_id))

    # --- close and reopen -------------------------------------------------------------

    async def close(
        self, principal: Principal, ref: str, note: str | None, key: str | None = None
    ) -> CommandAccepted:
        """Send CloseCase; the workflow decides (StatusChanged or CommandRejected)."""
        case_id = await self.case_id_of(principal, ref)
        request = {"path": f"/cases/{case_id}/close", "body": {"note": note}}
        run = lambda: self._close(principal, case_id, note)  # noqa: E731
        return await self._once(principal, key, request, CommandAccepted, run)

    async def _close(
        self, principal: Principal, case_id: UUID, note: str | None
    ) -> CommandAccepted:
        case = await self.visible(principal, case_id)
        logic.check_modify(principal, "close")
        logic.check_close(case)
        return await self._command(CloseCase(case_id=case_id, actor=principal.actor, note=note))

    async def reopen(
        self, principal: Principal, ref: str, details: str, key: str | None = None
    ) -> CommandAccepted:
        """Send ReopenCase after the checks intake can make: role, status, 60-day window."""
        case_id = await self.case_id_of(principal, ref)
        request = {"path": f"/cases/{case_id}/reopen", "body": {"details": details}}
        run = lambda: self._reopen(principal, case_id, details)  # noqa: E731
        return await self._once(principal, key, request, CommandAccepted, run)

    async def _reopen(self, principal: Principal, case_id: UUID, details: str) -> CommandAccepted:
        case = await self.visible(principal, case_id)
        logic.check_modify(principal, "reopen")
        logic.check_reopen(case, utcnow(), await self.zones.zone_of(case.account_id))
        return await self._command(
            ReopenCase(case_id=case_id, actor=principal.actor, details=details)
        )

    async def _command(self, command: CloseCase | ReopenCase) -> CommandAccepted:
        key = str(command.case_id)
        await self.publisher.publish(self.topics.case_commands, key, [command])
        feed = self.settings.feed_public_url.rstrip("/")
        return CommandAccepted(
            command_id=command.event_id,
            case_id=command.case_id,
            command=command.type,
            outcome_url=f"{feed}/cases/{command.case_id}/commands/{command.event_id}",
        )

    # --- notification recipients ------------------------------------------------------

    async def recipients(self, principal: Principal, ref: str) -> RecipientsPublic:
        """Who gets notifications of the case."""
        case_id = await self.case_id_of(principal, ref)
        return await self._recipients_public(await self.visible(principal, case_id))

    async def add_recipients(
        self, principal: Principal, ref: str, wanted: list[str]
    ) -> RecipientsPublic:
        """Add contacts (by id) under the seeds' rules and publish the full list."""
        case_id = await self.case_id_of(principal, ref)
        district = await self._district_name((await self.visible(principal, case_id)).account_id)
        contacts = {c: await self.directory.contact(c) for c in dict.fromkeys(wanted)}
        known = {c: contact for c, contact in contacts.items() if contact is not None}

        def decide(case: CaseState) -> Change:
            return logic.recipients_to_add(principal, case, wanted, known, district), []

        return await self._change_recipients(principal, case_id, decide)

    async def remove_recipients(
        self, principal: Principal, ref: str, wanted: list[str]
    ) -> RecipientsPublic:
        """Remove contacts (never the owner) and publish the full list."""
        case_id = await self.case_id_of(principal, ref)

        def decide(case: CaseState) -> Change:
            return [], logic.recipients_to_remove(principal, case, wanted)

        return await self._change_recipients(principal, case_id, decide)

    async def _change_recipients(
        self, principal: Principal, case_id: UUID, decide: Callable[[CaseState], Change]
    ) -> RecipientsPublic:
        """Decide on the latest list and publish, one change at a time across replicas."""
        for _ in range(RECIPIENT_ATTEMPTS):
            case = await self.visible(principal, case_id)
            added, removed = decide(case)
            if not added and not removed:
                return await self._recipients_public(case)
            lease = uuid4().hex
            if await self.cases.claim_recipients(case.case_id, case.recipients_version, lease):
                return await self._change(principal, case, added, removed, lease)
            await asyncio.sleep(RECIPIENT_RETRY_SECONDS)  # another change went first: re-decide
        raise Conflict(
            problem(
                "contact_ids",
                "concurrent_change",
                "the case's recipients are being changed by another request; retry shortly",
            )
        )

    async def _change(
        self,
        principal: Principal,
        case: CaseState,
        added: list[str],
        removed: list[str],
        lease: str,
    ) -> RecipientsPublic:
        after = logic.apply_change(case.recipients, added, removed)
        event = RecipientsChanged(
            case_id=UUID(case.case_id),
            added=added,
            removed=removed,
            recipients=after,
            actor=principal.actor,
        )
        try:
            await self.publisher.publish(self.topics.case_events, case.case_id, [event])
        except InDoubt:
            raise  # the lease expires; intake's consumer records the change if it stands
        except Unavailable:
            await self.cases.release_recipients(case.case_id, lease)
            raise
        await self.cases.commit_recipients(case.case_id, lease, after, event.occurred_at)
        return await self._recipients_public(
            CaseState(**{**case.__dict__, "recipients": tuple(after)})
        )

    async def _recipients_public(self, case: CaseState) -> RecipientsPublic:
        people = []
        for contact_id in case.recipients:
            contact = await self.directory.contact(contact_id)
            people.append(
                RecipientPublic(
                    contact_id=contact_id,
                    name=contact.display_name if contact else None,
                    contact_type=contact.contact_type if contact else None,
                    owner=contact_id == case.contact_id,
                )
            )
        return RecipientsPublic(case_id=UUID(case.case_id), recipients=people)

    async def _district_name(self, account_id: str) -> str:
        account = await self.directory.account(account_id)
        return account.name if account else account_id

    # --- directory --------------------------------------------------------------------

    async def district_contacts(
        self, principal: Principal, account_id: str | None, query: str | None
    ) -> ContactsPublic:
        """A district's active contacts by name (those matching `query`); emails for the
        district's own contacts only."""
        chosen = logic.choose_account(principal, account_id)
        account = await self.directory.account(chosen)
        if account is None:
            raise NotFound(problem("account_id", "exists", f"no district {logic.excerpt(chosen)}"))
        email = logic.shows_email(principal, chosen)
        found = [
            ContactPublic(
                contact_id=c.id,
                name=c.display_name,
                contact_type=c.contact_type,
                email=str(c.email) if email else None,
            )
            for c in await self.directory.contacts_of(chosen)
            if logic.name_matches(c.display_name, query)
        ]
        found.sort(key=lambda c: (c.name.casefold(), c.contact_id))
        return ContactsPublic(account_id=chosen, account_name=account.name, contacts=found)

    async def department_staff(
        self, principal: Principal, slug: str, query: str | None
    ) -> StaffListPublic:
        """A department's active staff by name (those matching `query`), for staff only."""
        logic.check_staff_directory(principal)
        department = logic.department_of(slug)
        members = [
            StaffPublic(
                staff_id=m.id,
                name=m.name,
                email=str(m.email),
                departments=m.departments,
                on_duty=m.on_duty,
                supervisor=m.supervisor,
            )
            for m in await self.directory.staff_in(department)
            if logic.name_matches(m.name, query)
        ]
        members.sort(key=lambda m: (m.name.casefold(), m.staff_id))
        return StaffListPublic(department=department, staff=members)


def _file_print(upload: Upload) -> dict[str, Any]:
    """What tells one file from another in a retried post: its name, type and content hash."""
    digest = hashlib.sha256()
    while chunk := upload.file.read(CHUNK):
        digest.update(chunk)
    upload.file.seek(0)
    return {"filename": upload.filename, "type": upload.declared_type, "sha256": digest.hexdigest()}


def _case_public(event: CaseSubmitted) -> CasePublic:
    return CasePublic(
        case_id=event.case_id,
        case_number=event.case_number,
        case_type=event.case_type,
        status=Status.NEW,
        priority=event.priority,
        subject=event.subject,
        account_id=event.account_id,
        contact_id=event.contact_id,
        created_at=event.occurred_at,
    )


def _known_case_public(doc: Document) -> CasePublic:
    return CasePublic(
        case_id=UUID(doc["_id"]),
        case_number=doc["case_number"],
        case_type=CaseType(doc["case_type"]),
        status=Status(doc["status"]),
        priority=Priority(doc["priority"]),
        subject=doc["subject"],
        account_id=doc["account_id"],
        contact_id=doc["contact_id"],
        created_at=doc["created_at"],
    )


def _visibility(doc: Document) -> str | None:
    visibility: str | None = doc.get("metadata", {}).get("visibility")
    return visibility


def _attachment(doc: Document) -> AttachmentPublic:
    meta = doc.get("metadata", {})
    post_id = meta.get("post_id")
    return AttachmentPublic(
        attachment_id=str(doc["_id"]),
        filename=doc.get("filename") or "attachment",
        content_type=meta.get("content_type", logic.OCTET_STREAM),
        size=int(doc.get("length", 0)),
        sha256=doc.get("sha256", ""),
        post_id=UUID(post_id) if post_id else None,
        uploaded_at=doc["uploadDate"],
        uploaded_by=meta.get("uploaded_by", ""),
        visibility=meta.get("visibility", Visibility.PUBLIC),
    )


# --- directory changes (staff) -----------------------------------------------------------


def record_public(contact: Contact) -> ContactRecordPublic:
    """A contact as the directory change answers show them."""
    return ContactRecordPublic(
        contact_id=contact.id,
        name=contact.display_name,
        first_name=contact.first_name,
        last_name=contact.last_name,
        email=str(contact.email),
        title=contact.title,
        primary_phone=contact.primary_phone,
        secondary_phone=contact.secondary_phone,
        contact_type=contact.contact_type,
        areas_of_responsibility=contact.areas_of_responsibility,
        account_ids=contact.account_ids,
        active=contact.active,
    )


OPTIONAL_CONTACT = frozenset({"title", "primary_phone", "secondary_phone"})


class DirectoryChanges:
    """Staff add, modify and replace a district's contacts; each change goes out as directory
    events (acks=all) and is stored in intake's directory at once.

    An Idempotency-Key here belongs to the directory, not to one staff member: a change
    applied by one is not applied again when a colleague sends the same key.
    """

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.directory = intake.directory

    async def create(
        self, principal: Principal, body: ContactCreate, key: str | None
    ) -> ContactChangePublic:
        """A new contact of a district; with `replaces`, that contact deactivated and every
        token of theirs revoked, in the same publish."""
        logic.check_directory_write(principal)
        request = {"path": "/directory/contacts", "body": body.model_dump(mode="json")}
        return await self._once(key, request, lambda: self._create(body, key))

    async def update(
        self, principal: Principal, contact_id: str, body: ContactUpdate, key: str | None
    ) -> ContactChangePublic:
        """Change the fields given; the others keep their value."""
        logic.check_directory_write(principal)
        request = {
            "path": f"/directory/contacts/{contact_id}",
            "body": body.model_dump(mode="json", exclude_unset=True),
        }
        return await self._once(key, request, lambda: self._update(contact_id, body))

    async def _once(
        self,
        key: str | None,
        request: dict[str, Any],
        run: Callable[[], Awaitable[ContactChangePublic]],
    ) -> ContactChangePublic:
        if key is None:
            return await run()
        scoped, print_ = f"directory:{key}", logic.fingerprint(request)
        idempotency = self.intake.idempotency
        earlier = await idempotency.reserve(scoped, print_)
        if earlier is not None:
            first = ContactChangePublic.model_validate(logic.replayed(earlier, print_))
            return first.model_copy(update={"replayed": True})
        try:
            result = await run()
        except BaseException:
            await idempotency.release(scoped)
            raise
        await idempotency.complete(scoped, result.model_dump(mode="json"))
        return result

    async def _create(self, body: ContactCreate, key: str | None) -> ContactChangePublic:
        if await self.directory.account(body.account_id) is None:
            raise NotFound(
                problem("account_id", "exists", f"no district {logic.excerpt(body.account_id)}")
            )
        old = None
        if body.replaces is not None:
            found = await self.directory.contact(body.replaces)
            old = logic.check_contact_of(found, body.replaces, body.account_id)
        everyone = await self.directory.active_contacts()
        except_ids = {old.id} if old else set()
        logic.check_email_free(str(body.email), everyone, except_ids=except_ids)
        taken = {str(doc["_id"]) async for doc in self.directory.contacts.find({}, {"_id": 1})}
        salt = key or uuid4().hex
        contact_id = logic.new_contact_id(body.first_name, body.last_name, taken, salt)
        fields = body.model_dump(exclude={"account_id", "replaces"})
        contact = Contact(id=contact_id, account_ids=[body.account_id], **fields)
        events: list[AnyDirectoryEvent] = [ContactUpserted(contact=contact)]
        revoked: list[str] = []
        if old is not None:
            events.append(ContactUpserted(contact=old.model_copy(update={"active": False})))
            async for doc in self.directory.tokens.find({"subject_id": old.id, "revoked": False}):
                token = ApiToken.model_validate(doc)
                if token.subject_kind is ActorKind.CONTACT:
                    events.append(TokenIssued(token=token.model_copy(update={"revoked": True})))
                    revoked.append(token.token_id)
        await self._publish(events)
        return ContactChangePublic(
            change="replaced" if old else "added",
            contact=record_public(contact),
            replaced=record_public(old.model_copy(update={"active": False})) if old else None,
            revoked_token_ids=sorted(revoked),
        )

    async def _update(self, contact_id: str, body: ContactUpdate) -> ContactChangePublic:
        found = await self.directory.contact(contact_id)
        contact = logic.check_contact_of(found, contact_id, body.account_id)
        wanted = body.model_dump(exclude={"account_id"}, exclude_unset=True)
        if wanted.get("email") is not None:
            everyone = await self.directory.active_contacts()
            logic.check_email_free(str(wanted["email"]), everyone, except_ids={contact.id})
        # null clears an optional field (title, phones); a required one keeps its value
        wanted = {k: v for k, v in wanted.items() if v is not None or k in OPTIONAL_CONTACT}
        changed = Contact.model_validate({**contact.model_dump(), **wanted})
        fields = sorted(k for k in wanted if getattr(changed, k) != getattr(contact, k))
        if fields:
            await self._publish([ContactUpserted(contact=changed)])
        return ContactChangePublic(
            change="modified", contact=record_public(changed), changed_fields=fields
        )

    async def _publish(self, events: list[AnyDirectoryEvent]) -> None:
        intake = self.intake
        await publish_directory(events, intake.topics.directory, intake.directory, intake.publisher)
