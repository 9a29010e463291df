"""Subscribers of the feed: case events into the read model, directory names, notices."""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError
from pymongo.errors import PyMongoError

from feed.logic import CaseChange, Subject, change_for, feed_item, subject_of, submission_names
from feed.store import Save
from shared.events import (
    CASE_EVENTS,
    AccountUpserted,
    AnyCaseEvent,
    AnyDirectoryEvent,
    AnyNoticeEvent,
    CaseSubmitted,
    CommandRejected,
    ContactUpserted,
    Notice,
    StatusChanged,
)
from shared.kafka import Record, Transient, consumer_options, dead_letter_record
from shared.messages import UnknownMessage, decode
from shared.mongo import Document
from shared.topics import Topics

log = logging.getLogger("feed.handlers")


class Cases(Protocol):
    """What the projection needs of the case store."""

    async def apply(self, case_id: str, event_id: str, change: CaseChange) -> Document | None: ...
    async def save_all(self, saves: list[Save]) -> set[str]: ...
    async def many(self, case_ids: list[str]) -> dict[str, Document]: ...
    async def get(self, case_id: str) -> Document | None: ...
    async def rename_account(self, account_id: str, name: str) -> None: ...
    async def rename_contact(self, contact_id: str, name: str) -> None: ...


class Feed(Protocol):
    """What the projection needs of the feed store."""

    async def add(self, case_id: str, item: Document) -> None: ...
    async def add_all(self, items: list[tuple[str, Document]]) -> None: ...


class Districts(Protocol):
    """What the projection needs of the district member sets."""

    async def add_all(self, members: dict[str, set[str]]) -> None: ...


class Subjects(Protocol):
    """What the projection needs of the subject grams (store.SubjectStore)."""

    async def add_all(self, subjects: list[Subject]) -> None: ...


class Fence(Protocol):
    """What live writers hold while they write the renamed collections (store.SwapFence)."""

    def writing(self) -> AbstractAsyncContextManager[None]: ...


Poison = Callable[[Record, Exception], Awaitable[None]]


class Notices(Protocol):
    """What the projection needs of the notice store."""

    async def keep(self, notice: Notice) -> None: ...


class Directory(Protocol):
    """Names of accounts and contacts (shared.directory.DirectoryStore)."""

    async def apply(self, event: AnyDirectoryEvent) -> None: ...
    async def account(self, account_id: str) -> Any: ...
    async def contact(self, contact_id: str) -> Any: ...


class Wakeups:
    """Readers waiting in this process for a command's outcome, woken when it is projected.

    Only this replica's consumer wakes them; a reader whose outcome another replica projects
    finds it on its next poll.
    """

    def __init__(self) -> None:
        self.waiting: dict[str, set[asyncio.Event]] = defaultdict(set)

    @contextmanager
    def watch(self, command_id: str) -> Iterator[asyncio.Event]:
        """An event set when an outcome of this command is projected, while inside."""
        woken = asyncio.Event()
        self.waiting[command_id].add(woken)
        try:
            yield woken
        finally:
            self.waiting[command_id].discard(woken)
            if not self.waiting[command_id]:
                del self.waiting[command_id]

    def wake(self, command_ids: Iterable[str]) -> None:
        """Wake the readers of these commands."""
        for command_id in command_ids:
            for woken in self.waiting.get(command_id, ()):
                woken.set()


def decided_commands(events: list[AnyCaseEvent]) -> list[str]:
    """The commands whose outcome these events record."""
    return [
        str(e.command_id)
        for e in events
        if isinstance(e, StatusChanged | CommandRejected) and e.command_id is not None
    ]


@dataclass
class Projection:
    """The stores one event touches; the live consumer and the rebuild catch-up share it."""

    cases: Cases
    feed: Feed
    notices: Notices
    directory: Directory
    districts: Districts
    subjects: Subjects
    wakeups: Wakeups = field(default_factory=Wakeups)

    async def names(self, event: CaseSubmitted) -> Document:
        """Account and contact names for a submission, when the directory knows them."""
        account = await self.directory.account(event.account_id)
        contact = await self.directory.contact(event.contact_id)
        return submission_names(event, account, contact)

    async def names_of(self, events: list[CaseSubmitted]) -> dict[str, Document]:
        """Names for a batch's submissions by event id, each account and contact read once."""
        accounts = {a: await self.directory.account(a) for a in {e.account_id for e in events}}
        contacts = {c: await self.directory.contact(c) for c in {e.contact_id for e in events}}
        return {
            str(e.event_id): submission_names(e, accounts[e.account_id], contacts[e.contact_id])
            for e in events
        }

    async def project(self, event: AnyCaseEvent) -> None:
        """Apply the event to its case once, then add its feed entry once."""
        names = await self.names(event) if isinstance(event, CaseSubmitted) else None
        case_id, event_id = str(event.case_id), str(event.event_id)
        before = await self.cases.apply(case_id, event_id, change_for(event, names))
        if before is None:  # applied before; the entry may still be missing after a crash
            before = await self.cases.get(case_id)
        item = feed_item(event, before)
        if item is not None:
            await self.feed.add(case_id, item)
        if isinstance(event, CaseSubmitted):
            subject = Subject(case_id, event.account_id, event.subject.lower())
            await self.subjects.add_all([subject])
            await self.districts.add_all({event.account_id: {case_id}})
        self.wakeups.wake(decided_commands([event]))

    async def project_all(self, events: list[AnyCaseEvent]) -> None:
        """Apply a batch with one write per case, then its district members and feed entries.

        Cases are read once and each one's events folded in memory, in order. A case is
        written back only if nothing changed it since the read (its event ledger and names
        are the write's guard); a case another writer got to first (the rebuild's catch-up)
        takes its events one by one through the guarded per-event path instead.
        """
        names = await self.names_of([e for e in events if isinstance(e, CaseSubmitted)])
        batch = Batch.over(
            await self.cases.many(list(dict.fromkeys(str(e.case_id) for e in events)))
        )
        for event in events:
            batch.fold(event, names.get(str(event.event_id)))
        missed = await self.cases.save_all(batch.saves())
        await self.subjects.add_all([s for c, s in batch.subjects.items() if c not in missed])
        await self.districts.add_all(batch.members)
        await self.feed.add_all([(c, item) for c, item in batch.items if c not in missed])
        for event in events:
            if str(event.case_id) in missed:
                await self.project(event)
        self.wakeups.wake(decided_commands(events))


@dataclass
class Batch:
    """A batch of case events folded over the stored cases: the writes it takes."""

    states: dict[str, Document]
    guards: dict[str, Document] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)
    items: list[tuple[str, Document]] = field(default_factory=list)
    members: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    subjects: dict[str, Subject] = field(default_factory=dict)

    @classmethod
    def over(cls, stored: dict[str, Document]) -> "Batch":
        """A batch over the stored cases; what each looked like is the guard of its write."""
        return cls(dict(stored), {c: guard_of(doc) for c, doc in stored.items()})

    def fold(self, event: AnyCaseEvent, names: Document | None) -> None:
        """One event: its change unless applied before, its feed entry, its district."""
        case_id, event_id = str(event.case_id), str(event.event_id)
        before = self.states.get(case_id)
        if before is None or event_id not in before.get("applied", []):
            change = change_for(event, names)
            self.states[case_id] = change.apply(before, case_id, event_id)
            self.changed.add(case_id)
        else:  # applied before; the entry may still be missing after a crash
            before = self.states[case_id]
        item = feed_item(event, before)
        if item is not None:
            self.items.append((case_id, item))
        if isinstance(event, CaseSubmitted):
            self.members[event.account_id].add(case_id)
            # Written again when applied before: the write may have been lost after the case's.
            self.subjects[case_id] = subject_of(self.states[case_id])

    def saves(self) -> list[Save]:
        """Each changed case and the guard of its write (None: a new case, inserted)."""
        return [(self.states[c], self.guards.get(c)) for c in sorted(self.changed)]


def guard_of(doc: Document) -> Document:
    """What a write of the case checks is unchanged: its event ledger and the renamed names."""
    return {key: doc.get(key) for key in ("applied", "account_name", "contact_name")}


@dataclass
class CaseBatches:
    """The live consumer's batches: decoded one by one, poison dead-lettered, applied in bulk."""

    projection: Projection
    poison: Poison
    fence: Fence

    async def handle(self, records: list[Record]) -> None:
        """Apply the batch, never while a rebuild swaps the collections; a Mongo fault
        retries the whole batch (every write is guarded)."""
        events = [event for record in records if (event := await self._decode(record))]
        try:
            async with self.fence.writing():
                await self.projection.project_all(events)
        except PyMongoError as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc
        log.info("projected %d case events of %d records", len(events), len(records))

    async def _decode(self, record: Record) -> AnyCaseEvent | None:
        try:
            event: AnyCaseEvent = decode(CASE_EVENTS, record.value or b"")
        except UnknownMessage:
            log.info("skipped a case event of unknown type at offset %d", record.offset)
            return None
        except (ValidationError, ValueError) as exc:
            await self.poison(record, exc)
            return None
        return event


def poison_to(broker: KafkaBroker, group: str) -> Poison:
    """Dead-letter one record of a batch to `<topic>.dlq`, as DeadLetterPolicy does for one."""

    async def publish(record: Record, exc: Exception) -> None:
        await dead_letter_record(broker, record, group, exc)

    return publish


def register(
    broker: KafkaBroker,
    topics: Topics,
    group: str,
    projection: Projection,
    fence: Fence,
    max_records: int = 2_000,
) -> None:
    """Subscribe the feed's handlers; called from create_app, never at import.

    Case events come in polled batches and the offsets are committed after the batch's
    writes return (NACK_ON_ERROR): a failed batch is redelivered whole, and applied once.
    """
    batches = CaseBatches(projection, poison_to(broker, group), fence)

    @broker.subscriber(  # type: ignore[untyped-decorator]
        topics.case_events, batch=True, max_records=max_records, **consumer_options(group)
    )
    async def on_case_events(_: list[Any], message: KafkaMessage) -> None:
        raw = message.raw_message
        await batches.handle(list(raw) if isinstance(raw, tuple | list) else [raw])

    @broker.subscriber(topics.directory, **consumer_options(group))  # type: ignore[untyped-decorator]
    async def on_directory_event(event: AnyDirectoryEvent) -> None:
        await projection.directory.apply(event)
        async with fence.writing():  # a rename of cases mid-swap would miss some of them
            if isinstance(event, AccountUpserted):
                await projection.cases.rename_account(event.account.id, event.account.name)
            if isinstance(event, ContactUpserted):
                contact = event.contact
                await projection.cases.rename_contact(contact.id, contact.display_name)

    @broker.subscriber(topics.incident_events, **consumer_options(group))  # type: ignore[untyped-decorator]
    async def on_notice_event(event: AnyNoticeEvent) -> None:
        await projection.notices.keep(event.notice)
