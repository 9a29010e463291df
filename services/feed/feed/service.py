"""Use cases of the feed: project case, directory and notice events; answer the case reads."""

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from feed.errors import BadWait, CaseNotFound, NotYourDistrict
from feed.logic import (
    CaseChange,
    CaseFilter,
    SortKey,
    Subject,
    banner_of,
    change_for,
    contained_needle,
    containing,
    excluded_needle,
    feed_item,
    feed_page,
    first_window,
    is_lone_contains,
    is_newest_first,
    linked_incidents,
    not_containing,
    outcome_of,
    pages,
    plan_among,
    plan_query,
    readable,
    subject_of,
    submission_names,
)
from feed.models import (
    BannerPublic,
    CasePagePublic,
    CasePublic,
    CaseSummaryPublic,
    CommandOutcomePublic,
    FeedItemPublic,
    FeedPagePublic,
)
from feed.store import (
    UNINDEXED,
    CaseStore,
    DistrictStore,
    FeedStore,
    NoticeStore,
    Save,
    SubjectStore,
)
from shared.cases import parse_case_ref
from shared.directory import DirectoryStore, Principal
from shared.enums import NoticeKind
from shared.events import (
    Account,
    AccountUpserted,
    AnyCaseEvent,
    AnyDirectoryEvent,
    CaseSubmitted,
    CommandRejected,
    Contact,
    ContactUpserted,
    Notice,
    StatusChanged,
)
from shared.mongo import Document
from shared.zones import DEFAULT_TIME_ZONE, ZoneCache, local_time

WINDOW_PER_ID = 3
MAX_WAIT_S = 10.0  # longest a reader may wait for a command's outcome
FeedSort = Literal["newest", "oldest"]
log = logging.getLogger("feed.service")


class Stopwatch:
    """Milliseconds spent in each named step since the previous one (for the batch log)."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        """Close the step `name`."""
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + (now - self.last) * 1000
        self.last = now

    def __str__(self) -> str:
        return " ".join(f"{name} {ms:.0f} ms" for name, ms in self.laps.items())


# --- ports of the projection ------------------------------------------------------------


class Cases(Protocol):
    """What the projection needs of the case store."""

    async def apply(self, case_id: str, event_id: str, change: CaseChange) -> Document | None: ...
    async def save_all(self, saves: list[Save]) -> set[str]: ...
    async def many(self, case_ids: list[str]) -> dict[str, Document]: ...
    async def get(self, case_id: str) -> Document | None: ...
    async def rename_account(self, account_id: str, name: str) -> None: ...
    async def rename_contact(self, contact_id: str, name: str) -> None: ...
    async def unindexed(self, limit: int) -> list[Document]: ...
    async def mark_indexed(self, case_ids: list[str]) -> None: ...


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


class Notices(Protocol):
    """What the projection needs of the notice store."""

    async def keep(self, notice: Notice) -> None: ...


class Directory(Protocol):
    """Names of accounts and contacts (shared.directory.DirectoryStore)."""

    async def apply(self, event: AnyDirectoryEvent) -> None: ...
    async def account(self, account_id: str) -> Account | None: ...
    async def contact(self, contact_id: str) -> Contact | None: ...
    async def accounts_by_id(self, account_ids: Iterable[str]) -> dict[str, Account]: ...
    async def contacts_by_id(self, contact_ids: Iterable[str]) -> dict[str, Contact]: ...


# --- the projection -----------------------------------------------------------------------


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
    # Set: a batch's subjects are indexed after its commit, by `index_pending` (the cases
    # carry UNINDEXED until then); None: within the batch, before its commit.
    indexer: asyncio.Event | None = None

    async def names(self, event: CaseSubmitted) -> Document:
        """Account and contact names for a submission, when the directory knows them."""
        account = await self.directory.account(event.account_id)
        contact = await self.directory.contact(event.contact_id)
        return submission_names(event, account, contact)

    async def names_of(self, events: list[CaseSubmitted]) -> dict[str, Document]:
        """Names for a batch's submissions by event id: one read of its accounts, one of its
        contacts (a read per account and contact cost more than the batch's writes)."""
        if not events:
            return {}
        accounts = await self.directory.accounts_by_id(e.account_id for e in events)
        contacts = await self.directory.contacts_by_id(e.contact_id for e in events)
        return {
            str(e.event_id): submission_names(
                e, accounts.get(e.account_id), contacts.get(e.contact_id)
            )
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
        clock = Stopwatch()
        names = await self.names_of([e for e in events if isinstance(e, CaseSubmitted)])
        clock.lap("names")
        batch = Batch.over(
            await self.cases.many(list(dict.fromkeys(str(e.case_id) for e in events))),
            deferred=self.indexer is not None,
        )
        clock.lap("read")
        for event in events:
            batch.fold(event, names.get(str(event.event_id)))
        missed = await self.cases.save_all(batch.saves())
        clock.lap("cases")
        await self.districts.add_all(batch.members)
        clock.lap("districts")
        await self.feed.add_all([(c, item) for c, item in batch.items if c not in missed])
        clock.lap("feed")
        if self.indexer is None:
            await self.subjects.add_all([s for c, s in batch.subjects.items() if c not in missed])
            clock.lap("subjects")
        else:
            self.indexer.set()
        for event in events:
            if str(event.case_id) in missed:
                await self.project(event)
        self.wakeups.wake(decided_commands(events))
        log.info("batch of %d events: %s", len(events), clock)

    async def index_pending(self, limit: int) -> int:
        """Index the subjects of up to `limit` cases still marked UNINDEXED, then unmark
        them; how many. A crash in between indexes them again (an entry is idempotent)."""
        docs = await self.cases.unindexed(limit)
        if docs:
            await self.subjects.add_all([subject_of(d) for d in docs])
            await self.cases.mark_indexed([d["_id"] for d in docs])
        return len(docs)

    async def learn(self, event: AnyDirectoryEvent) -> None:
        """Keep the directory record the event carries (names, zones, tokens)."""
        await self.directory.apply(event)

    async def rename(self, event: AnyDirectoryEvent) -> None:
        """A district's or contact's new name on all their cases."""
        if isinstance(event, AccountUpserted):
            await self.cases.rename_account(event.account.id, event.account.name)
        if isinstance(event, ContactUpserted):
            await self.cases.rename_contact(event.contact.id, event.contact.display_name)

    async def keep_notice(self, notice: Notice) -> None:
        """Keep the notice's newest revision for the banner."""
        await self.notices.keep(notice)


@dataclass
class Batch:
    """A batch of case events folded over the stored cases: the writes it takes."""

    states: dict[str, Document]
    guards: dict[str, Document] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)
    items: list[tuple[str, Document]] = field(default_factory=list)
    members: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    subjects: dict[str, Subject] = field(default_factory=dict)
    deferred: bool = False  # new cases are marked UNINDEXED, their subjects left to the indexer

    @classmethod
    def over(cls, stored: dict[str, Document], deferred: bool = False) -> "Batch":
        """A batch over the stored cases; what each looked like is the guard of its write."""
        guards = {c: guard_of(doc) for c, doc in stored.items()}
        return cls(dict(stored), guards, deferred=deferred)

    def fold(self, event: AnyCaseEvent, names: Document | None) -> None:
        """One event: its change unless applied before, its feed entry, its district."""
        case_id, event_id = str(event.case_id), str(event.event_id)
        before = self.states.get(case_id)
        if before is None or event_id not in before.get("applied", []):
            change = change_for(event, names)
            self.states[case_id] = change.apply(before, case_id, event_id)
            self.changed.add(case_id)
            if self.deferred and isinstance(event, CaseSubmitted):
                self.states[case_id][UNINDEXED] = True
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


# --- the reads --------------------------------------------------------------------------


@dataclass
class ReadModel:
    """What the reads use: the stores, the district zones and this replica's wake-ups."""

    cases: CaseStore
    feed: FeedStore
    notices: NoticeStore
    directory: DirectoryStore
    districts: DistrictStore
    subjects: SubjectStore
    status_board_url: str
    wakeups: Wakeups = field(default_factory=Wakeups)
    outcome_poll_s: float = 0.5
    zones: ZoneCache = field(init=False)

    def __post_init__(self) -> None:
        # A district's zone rarely changes; a minute's cache keeps a round trip off every read.
        self.zones = ZoneCache(self.directory)


async def list_cases(
    model: ReadModel,
    who: Principal,
    filters: CaseFilter,
    sort: SortKey,
    descending: bool,
    page: int,
    page_size: int,
    account_id: str | None = None,
) -> CasePagePublic:
    """One page of the cases of the caller's districts (or of `account_id`), with the total."""
    zone = filters.time_zone or await _zone_of(model, who)
    flt = replace(await _contact_by_id(model, who, filters), time_zone=zone)
    scope, skip = _scope(who, account_id), (page - 1) * page_size
    total, docs = await case_page(model, flt, scope, sort, descending, skip, page_size)
    items = [CaseSummaryPublic.model_validate(_local(d, zone)) for d in docs]
    return CasePagePublic(
        total=total, page=page, page_size=page_size, pages=pages(total, page_size), items=items
    )


async def case_detail(
    model: ReadModel, who: Principal, case_ref: str, feed_page_size: int
) -> CasePublic:
    """A case of the caller's districts by id or number, with the newest page of its feed."""
    doc = await _visible_case(model, who, case_ref)
    zone = await _zone_of(model, who)
    feed = await _feed_page(model, who, doc["_id"], 1, feed_page_size, "newest", None, zone)
    files = readable(doc.get("attachments", []), who.is_staff)
    incidents = linked_incidents(doc.get("incident_links", []))
    return CasePublic.model_validate(
        {**_local(doc, zone), "attachments": files, "incidents": incidents, "feed": feed}
    )


async def case_feed(
    model: ReadModel,
    who: Principal,
    case_ref: str,
    page: int,
    page_size: int,
    sort: FeedSort,
    q: str | None,
) -> FeedPagePublic:
    """One page of a visible case's posts and activity, searched for `q` when given."""
    doc = await _visible_case(model, who, case_ref)
    zone = await _zone_of(model, who)
    return await _feed_page(model, who, doc["_id"], page, page_size, sort, q, zone)


async def command_outcome(
    model: ReadModel, who: Principal, case_ref: str, command_id: str, wait: float
) -> CommandOutcomePublic:
    """A command's outcome on a visible case, waiting up to `wait` seconds while pending."""
    if not 0 <= wait <= MAX_WAIT_S:
        raise BadWait(wait, MAX_WAIT_S)
    return CommandOutcomePublic.model_validate(
        await _awaited_outcome(model, who, case_ref, command_id, wait)
    )


async def banner(model: ReadModel, who: Principal) -> BannerPublic:
    """The portal banner for the caller's districts: open incident, maintenance or none."""
    scope = None if who.is_staff else who.account_ids
    notice = banner_of(await model.notices.open_notices(), scope)
    link = model.status_board_url.rstrip("/") + "/notifications"
    if notice is None:
        return BannerPublic(state="none", color="gray", link=link)
    incident = notice.kind is NoticeKind.INCIDENT
    return BannerPublic(
        state="incident" if incident else "maintenance",
        color="orange" if incident else "green",
        title=notice.title,
        notice_id=notice.id,
        status=notice.status.value,
        link=link,
    )


async def _contact_by_id(model: ReadModel, who: Principal, flt: CaseFilter) -> CaseFilter:
    """`contact` is a contact's id or the start of their name: the id of a contact of the
    caller's districts filters on that contact's name, as their cases carry it."""
    if flt.contact is None:
        return flt
    contact = await model.directory.contact(flt.contact)
    if contact is None or not any(who.sees_account(a) for a in contact.account_ids):
        return flt
    return replace(flt, contact=contact.display_name)


def _scope(who: Principal, account_id: str | None) -> list[str] | None:
    """The districts a query may read: the caller's (staff: all), narrowed by account_id."""
    if account_id is None:
        return None if who.is_staff else sorted(who.account_ids)
    if not who.sees_account(account_id):
        raise NotYourDistrict(account_id)
    return [account_id]


async def case_page(
    model: ReadModel,
    flt: CaseFilter,
    scope: list[str] | None,
    sort: SortKey,
    descending: bool,
    skip: int,
    limit: int,
) -> tuple[int, list[Document]]:
    """The total and one page of the list; the default list has its own cheaper reads."""
    needle = excluded_needle(flt, sort, descending)
    if needle is not None:
        return await _not_containing_page(model, needle, scope, skip, limit)
    needle = contained_needle(flt)
    if needle is not None:
        return await _containing_page(model, flt, scope, sort, descending, skip, limit)
    if not is_newest_first(flt, sort, descending):
        return await model.cases.search(plan_query(flt, scope, sort, descending), skip, limit)
    # The member sets count without reading a case; the window read sorts only a page's worth.
    total = await model.districts.total(scope)
    docs = await model.cases.newest(scope, skip + limit) if skip < total else []
    return total, docs[skip:]


async def _containing_page(
    model: ReadModel,
    flt: CaseFilter,
    scope: list[str] | None,
    sort: SortKey,
    descending: bool,
    skip: int,
    limit: int,
) -> tuple[int, list[Document]]:
    """The matching ids from the subject postings (the total when alone); the page from the
    newest-first windows when that reads fewer cases than the matches by id, else by id."""
    needle = str(contained_needle(flt))
    case_ids = await _containing_ids(model, scope, needle)
    if not case_ids:
        return 0, []
    if is_lone_contains(flt, sort, descending):
        if skip >= len(case_ids):
            return len(case_ids), []
        count = skip + limit
        first = first_window(count, await model.districts.total(scope), len(case_ids))
        # Reading a case by id costs this server about three cases of an index range.
        if first <= WINDOW_PER_ID * len(case_ids):
            docs = await model.cases.newest_matching(scope, count, containing(needle), first)
            return len(case_ids), docs[skip:]
    return await model.cases.search(plan_among(flt, case_ids, sort, descending), skip, limit)


async def _not_containing_page(
    model: ReadModel, needle: str, scope: list[str] | None, skip: int, limit: int
) -> tuple[int, list[Document]]:
    """Every case of the districts minus those containing the needle (from the subject
    postings); the page from the newest-first windows, where most cases match."""
    contained = await _containing_ids(model, scope, needle)
    total = await model.districts.total(scope) - len(contained)
    if skip >= total:
        return total, []
    docs = await model.cases.newest_matching(scope, skip + limit, not_containing(needle))
    return total, docs[skip:]


async def _containing_ids(model: ReadModel, scope: list[str] | None, needle: str) -> list[str]:
    """The cases whose subject holds the needle: from the postings, and among the few cases
    not indexed yet (visible before their subjects are), so the answer is always exact."""
    indexed = await model.subjects.containing(scope, needle)
    pending = await model.cases.unindexed_matching(scope, containing(needle))
    return list(dict.fromkeys([*indexed, *pending]))


async def _zone_of(model: ReadModel, who: Principal) -> str:
    """The caller's district time zone (the first district's); staff read Central time."""
    if who.is_staff or not who.account_ids:
        return DEFAULT_TIME_ZONE
    return await model.zones.zone_of(sorted(who.account_ids)[0])


async def _visible_case(model: ReadModel, who: Principal, case_ref: str) -> Document:
    """The case if the caller's districts include it; another district's case is not found."""
    ref = parse_case_ref(case_ref)
    doc = None
    if isinstance(ref, int):
        doc = await model.cases.by_number(ref)
    elif ref is not None:
        doc = await model.cases.get(str(ref))
    if doc is None or "account_id" not in doc or not who.sees_account(doc["account_id"]):
        raise CaseNotFound(case_ref)
    return doc


async def _awaited_outcome(
    model: ReadModel, who: Principal, case_ref: str, command_id: str, wait: float
) -> Document:
    """The command's outcome, waiting up to `wait` seconds while it is pending: woken when
    this replica projects it, else read again every `outcome_poll_s`."""
    deadline = time.monotonic() + wait
    with model.wakeups.watch(command_id) as woken:  # before the read: no wake-up is missed
        while True:
            outcome = outcome_of(await _visible_case(model, who, case_ref), command_id)
            left = deadline - time.monotonic()
            if outcome["outcome"] != "pending" or left <= 0:
                return outcome
            woken.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), min(left, model.outcome_poll_s))


async def _feed_page(
    model: ReadModel,
    who: Principal,
    case_id: str,
    page: int,
    size: int,
    sort: str,
    q: str | None,
    zone: str,
) -> FeedPagePublic:
    # Internal notes go before the search and the count: a contact's total never counts one.
    everything = readable(await model.feed.items(case_id), who.is_staff)
    total, docs = feed_page(everything, q, sort == "newest", (page - 1) * size, size)
    items = [
        FeedItemPublic.model_validate({**d, "at_local": local_time(d["at"], zone)}) for d in docs
    ]
    return FeedPagePublic(
        total=total,
        page=page,
        page_size=size,
        pages=pages(total, size),
        sort="newest" if sort == "newest" else "oldest",
        items=items,
    )


def _local(doc: Document, zone: str) -> dict[str, Any]:
    return {
        **doc,
        "last_modified_local": local_time(doc.get("last_modified"), zone),
        "created_local": local_time(doc.get("created_at"), zone),
    }
