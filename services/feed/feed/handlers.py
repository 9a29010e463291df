"""Subscribers of the feed: case events into the read model, directory names, notices."""

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from faststream.kafka import KafkaBroker

from feed.logic import CaseChange, change_for, feed_item, submission_names
from shared.events import (
    AccountUpserted,
    AnyCaseEvent,
    AnyDirectoryEvent,
    AnyNoticeEvent,
    CaseSubmitted,
    ContactUpserted,
    Notice,
)
from shared.kafka import consumer_options
from shared.mongo import Document
from shared.topics import Topics

log = logging.getLogger("feed.handlers")


class Cases(Protocol):
    """What the projection needs of the case store."""

    async def apply(self, case_id: str, event_id: str, change: CaseChange) -> Document | None: ...
    async def get(self, case_id: str) -> Document | None: ...
    async def rename_account(self, account_id: str, name: str) -> None: ...
    async def rename_contact(self, contact_id: str, name: str) -> None: ...


class Feed(Protocol):
    """What the projection needs of the feed store."""

    async def add(self, case_id: str, item: Document) -> None: ...


class Notices(Protocol):
    """What the projection needs of the notice store."""

    async def keep(self, notice: Notice) -> None: ...


class Directory(Protocol):
    """Names of accounts and contacts (shared.directory.DirectoryStore)."""

    async def apply(self, event: AnyDirectoryEvent) -> None: ...
    async def account(self, account_id: str) -> Any: ...
    async def contact(self, contact_id: str) -> Any: ...


@dataclass
class Projection:
    """The stores one event touches; the live consumer and the rebuild catch-up share it."""

    cases: Cases
    feed: Feed
    notices: Notices
    directory: Directory

    async def names(self, event: CaseSubmitted) -> Document:
        """Account and contact names for a submission, when the directory knows them."""
        account = await self.directory.account(event.account_id)
        contact = await self.directory.contact(event.contact_id)
        return submission_names(event, account, contact)

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


def register(broker: KafkaBroker, topics: Topics, group: str, projection: Projection) -> None:
    """Subscribe the feed's handlers; called from create_app, never at import."""

    @broker.subscriber(topics.case_events, **consumer_options(group))  # type: ignore[untyped-decorator]
    async def on_case_event(event: AnyCaseEvent) -> None:
        await projection.project(event)
        log.debug("projected %s on case %s", event.type, event.case_id)

    @broker.subscriber(topics.directory, **consumer_options(group))  # type: ignore[untyped-decorator]
    async def on_directory_event(event: AnyDirectoryEvent) -> None:
        await projection.directory.apply(event)
        if isinstance(event, AccountUpserted):
            await projection.cases.rename_account(event.account.id, event.account.name)
        if isinstance(event, ContactUpserted):
            contact = event.contact
            await projection.cases.rename_contact(contact.id, contact.display_name)

    @broker.subscriber(topics.incident_events, **consumer_options(group))  # type: ignore[untyped-decorator]
    async def on_notice_event(event: AnyNoticeEvent) -> None:
        await projection.notices.keep(event.notice)
