"""Feed subscribers through TestKafkaBroker with in-memory fakes of the stores."""

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from faststream.kafka import TestKafkaBroker

from feed.handlers import CaseBatches, register
from feed.logic import CaseChange, Subject, change_for
from feed.service import Projection
from shared.enums import (
    ActorKind,
    CaseType,
    ContactType,
    Department,
    Module,
    NoticeKind,
    NoticeStatus,
    Priority,
)
from shared.events import (
    Account,
    AccountUpserted,
    AnyDirectoryEvent,
    CaseRouted,
    CaseSubmitted,
    Contact,
    ContactUpserted,
    Notice,
    NoticeUpdated,
)
from shared.kafka import DeadLetterPolicy, make_broker
from shared.messages import Actor
from shared.settings import InfraSettings
from shared.topics import Topics

TOPICS = Topics("unit")
ZACK = Actor(kind=ActorKind.CONTACT, id="c-zack", name="Zack Morris")


class FakeCases:
    """Cases in a dict, applying changes once per event id like the Mongo guard."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    async def apply(self, case_id: str, event_id: str, change: CaseChange) -> dict[str, Any] | None:
        before = self.docs.get(case_id)
        if before is not None and event_id in before["applied"]:
            return None
        self.docs[case_id] = change.apply(before, case_id, event_id)
        return before or {}

    async def save_all(self, saves: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> set[str]:
        missed = set()
        for doc, guard in saves:
            stored = self.docs.get(doc["_id"])
            now = None if stored is None else {k: stored.get(k) for k in guard or {}}
            if (guard is None and stored is not None) or now != guard:
                missed.add(doc["_id"])
            else:
                self.docs[doc["_id"]] = doc
        return missed

    async def many(self, case_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {c: self.docs[c] for c in case_ids if c in self.docs}

    async def get(self, case_id: str) -> dict[str, Any] | None:
        return self.docs.get(case_id)

    async def rename_account(self, account_id: str, name: str) -> None:
        for doc in self.docs.values():
            if doc.get("account_id") == account_id:
                doc["account_name"] = name

    async def rename_contact(self, contact_id: str, name: str) -> None:
        for doc in self.docs.values():
            if doc.get("contact_id") == contact_id:
                doc["contact_name"], doc["contact_lc"] = name, name.lower()

    async def unindexed(self, limit: int) -> list[dict[str, Any]]:
        return [doc for doc in self.docs.values() if doc.get("unindexed")][:limit]

    async def mark_indexed(self, case_ids: list[str]) -> None:
        for case_id in case_ids:
            self.docs[case_id].pop("unindexed", None)


class FakeFeed:
    """Feed items by id; the first write wins."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    async def add(self, case_id: str, item: dict[str, Any]) -> None:
        self.items.setdefault(item["_id"], {**item, "case_id": case_id})

    async def add_all(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        for case_id, item in items:
            await self.add(case_id, item)


class FakeFence:
    """A swap fence that counts the writers inside it."""

    def __init__(self) -> None:
        self.inside = 0
        self.entered = 0

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        self.inside += 1
        self.entered += 1
        try:
            yield
        finally:
            self.inside -= 1


class FencedFeed(FakeFeed):
    """Feed items that note each one added while no writer held the fence."""

    def __init__(self, fence: FakeFence) -> None:
        super().__init__()
        self.fence = fence
        self.unfenced: list[str] = []

    async def add(self, case_id: str, item: dict[str, Any]) -> None:
        if not self.fence.inside:
            self.unfenced.append(item["_id"])
        await super().add(case_id, item)


class FakeDistricts:
    """Case ids of each district."""

    def __init__(self) -> None:
        self.members: dict[str, set[str]] = {}

    async def add_all(self, members: dict[str, set[str]]) -> None:
        for account_id, ids in members.items():
            self.members.setdefault(account_id, set()).update(ids)


class FakeSubjects:
    """Subjects by case id, as the postings hold them (entered once, then unchanged)."""

    def __init__(self) -> None:
        self.subjects: dict[str, Subject] = {}
        self.writes = 0

    async def add_all(self, subjects: list[Subject]) -> None:
        for subject in subjects:
            if self.subjects.get(subject.case_id) != subject:
                self.subjects[subject.case_id] = subject
                self.writes += 1


class FakeNotices:
    """The highest revision of each notice."""

    def __init__(self) -> None:
        self.notices: dict[str, Notice] = {}

    async def keep(self, notice: Notice) -> None:
        known = self.notices.get(notice.id)
        if known is None or known.revision < notice.revision:
            self.notices[notice.id] = notice


class FakeDirectory:
    """Accounts and contacts from directory events."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.contacts: dict[str, Contact] = {}

    async def apply(self, event: AnyDirectoryEvent) -> None:
        if isinstance(event, AccountUpserted):
            self.accounts[event.account.id] = event.account
        if isinstance(event, ContactUpserted):
            self.contacts[event.contact.id] = event.contact

    async def account(self, account_id: str) -> Account | None:
        return self.accounts.get(account_id)

    async def contact(self, contact_id: str) -> Contact | None:
        return self.contacts.get(contact_id)

    async def accounts_by_id(self, account_ids: Iterable[str]) -> dict[str, Account]:
        return {a: self.accounts[a] for a in account_ids if a in self.accounts}

    async def contacts_by_id(self, contact_ids: Iterable[str]) -> dict[str, Contact]:
        return {c: self.contacts[c] for c in contact_ids if c in self.contacts}


def wired() -> tuple[Any, Projection]:
    """A broker with the feed's subscribers over fakes."""
    broker = make_broker(InfraSettings(), client_id="feed", policy=DeadLetterPolicy(group="feed"))
    projection = Projection(
        FakeCases(), FakeFeed(), FakeNotices(), FakeDirectory(), FakeDistricts(), FakeSubjects()
    )
    register(broker, TOPICS, "feed", projection, FakeFence())
    return broker, projection


def submitted() -> CaseSubmitted:
    """A submission by Zack for district a-1."""
    return CaseSubmitted(
        case_id=uuid4(),
        case_number=42,
        account_id="a-1",
        contact_id=ZACK.id,
        submitted_by=ZACK,
        priority=Priority.HIGH,
        subject="Grade Book issues",
        description="Scores do not save",
        details={"case_type": CaseType.ASK_A_QUESTION, "module": Module.GRADE_BOOK},
    )


async def test_redelivered_case_events_project_once() -> None:
    """The same events delivered twice give one case state and one feed item per event."""
    broker, projection = wired()
    sub = submitted()
    routed = CaseRouted(
        case_id=sub.case_id, department=Department.TRAINING, billable=True, queue="q"
    )
    async with TestKafkaBroker(broker) as test_broker:
        for _ in range(2):
            for event in (sub, routed):
                await test_broker.publish(event.model_dump(mode="json"), TOPICS.case_events)
    case = projection.cases.docs[str(sub.case_id)]  # type: ignore[attr-defined]
    assert case["owner"]["name"] == "Training"
    assert case["applied"] == [str(sub.event_id), str(routed.event_id)]
    assert len(projection.feed.items) == 2  # type: ignore[attr-defined]
    assert projection.subjects.subjects == {  # type: ignore[attr-defined]
        str(sub.case_id): Subject(str(sub.case_id), "a-1", "grade book issues")
    }


async def test_directory_names_reach_new_and_existing_cases() -> None:
    """Cases take names from the directory, and a later rename updates them."""
    broker, projection = wired()
    sub = submitted()
    account = AccountUpserted(account=Account(id="a-1", name="Bayside School"))
    renamed = Contact(
        id=ZACK.id,
        first_name="Zachary",
        last_name="Morris",
        email="zack@example.org",
        contact_type=ContactType.AUTHORIZED_SUPPORT,
        account_ids=["a-1"],
    )
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(account.model_dump(mode="json"), TOPICS.directory)
        await test_broker.publish(sub.model_dump(mode="json"), TOPICS.case_events)
        await test_broker.publish(
            ContactUpserted(contact=renamed).model_dump(mode="json"), TOPICS.directory
        )
    case = projection.cases.docs[str(sub.case_id)]  # type: ignore[attr-defined]
    assert case["account_name"] == "Bayside School"
    assert case["contact_name"] == "Zachary Morris"


async def test_notices_keep_the_highest_revision() -> None:
    """An older revision arriving late does not replace a newer one."""
    broker, projection = wired()
    base = {
        "id": "n-1",
        "kind": NoticeKind.INCIDENT,
        "title": "Digicert Incident",
        "body": "Certificates",
        "starts_at": datetime(2024, 7, 30, 18, 27, tzinfo=UTC),
    }
    newer = Notice(**base, status=NoticeStatus.RESOLVED, revision=3)
    older = Notice(**base, status=NoticeStatus.INVESTIGATING, revision=2)
    async with TestKafkaBroker(broker) as test_broker:
        for notice in (newer, older):
            await test_broker.publish(
                NoticeUpdated(notice=notice).model_dump(mode="json"), TOPICS.incident_events
            )
    assert projection.notices.notices["n-1"].revision == 3  # type: ignore[attr-defined]


class FakeRecord:
    """A consumed Kafka record."""

    def __init__(self, value: bytes, offset: int) -> None:
        self.topic, self.partition, self.offset = TOPICS.case_events, 0, offset
        self.key: bytes | None = None
        self.value: bytes | None = value


async def test_batch_applies_in_case_order_and_dead_letters_poison_alone() -> None:
    """A batch with a poison record and a redelivered event: poison out, the rest once."""
    projection = wired()[1]
    poisoned: list[int] = []

    async def poison(record: Any, _: Exception) -> None:
        poisoned.append(record.offset)

    sub = submitted()
    routed = CaseRouted(
        case_id=sub.case_id, department=Department.TRAINING, billable=True, queue="q"
    )
    bad = b'{"type": "case.submitted", "case_id": "nope"}'
    unknown = b'{"type": "case.teleported", "case_id": "nope"}'
    values = [sub.model_dump_json().encode(), bad, routed.model_dump_json().encode(), unknown]
    values.append(sub.model_dump_json().encode())
    records = [FakeRecord(v, k) for k, v in enumerate(values)]
    await CaseBatches(projection, poison, FakeFence()).handle(records)  # type: ignore[arg-type]
    case = projection.cases.docs[str(sub.case_id)]  # type: ignore[attr-defined]
    assert case["applied"] == [str(sub.event_id), str(routed.event_id)]
    assert case["owner"]["name"] == "Training"
    assert poisoned == [1]
    assert len(projection.feed.items) == 2  # type: ignore[attr-defined]
    assert projection.districts.members == {"a-1": {str(sub.case_id)}}  # type: ignore[attr-defined]
    subjects = projection.subjects.subjects  # type: ignore[attr-defined]
    assert list(subjects.values()) == [Subject(str(sub.case_id), "a-1", "grade book issues")]
    assert projection.subjects.writes == 1  # type: ignore[attr-defined]


class RacedCases(FakeCases):
    """Cases where another writer applies a submission just before the batch writes."""

    def __init__(self, first: CaseSubmitted) -> None:
        super().__init__()
        self.first = first

    async def save_all(self, saves: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> set[str]:
        event = self.first
        await self.apply(str(event.case_id), str(event.event_id), change_for(event))
        return await super().save_all(saves)


async def test_batch_racing_another_writer_is_applied_one_by_one_once() -> None:
    """A bulk write that meets an event applied by another writer falls back, applying once."""
    sub = submitted()
    projection = Projection(
        RacedCases(sub), FakeFeed(), FakeNotices(), FakeDirectory(), FakeDistricts(), FakeSubjects()
    )
    routed = CaseRouted(
        case_id=sub.case_id, department=Department.TRAINING, billable=True, queue="q"
    )
    await projection.project_all([sub, routed])
    case = projection.cases.docs[str(sub.case_id)]  # type: ignore[attr-defined]
    assert case["applied"] == [str(sub.event_id), str(routed.event_id)]
    assert len(projection.feed.items) == 2  # type: ignore[attr-defined]
    assert projection.districts.members == {"a-1": {str(sub.case_id)}}  # type: ignore[attr-defined]
    assert list(projection.subjects.subjects) == [str(sub.case_id)]  # type: ignore[attr-defined]


async def test_batch_writes_only_inside_the_swap_fence() -> None:
    """A live batch adds its feed items while it holds the fence a rebuild's swap waits on."""
    fence = FakeFence()
    feed = FencedFeed(fence)
    projection = Projection(
        FakeCases(), feed, FakeNotices(), FakeDirectory(), FakeDistricts(), FakeSubjects()
    )
    sub = submitted()
    routed = CaseRouted(
        case_id=sub.case_id, department=Department.TRAINING, billable=True, queue="q"
    )
    records = [FakeRecord(e.model_dump_json().encode(), k) for k, e in enumerate([sub, routed])]

    async def poison(_: Any, exc: Exception) -> None:
        raise AssertionError(exc)

    await CaseBatches(projection, poison, fence).handle(records)  # type: ignore[arg-type]
    assert (fence.entered, fence.inside) == (1, 0)
    assert len(feed.items) == 2
    assert feed.unfenced == []


async def test_deferred_subjects_are_indexed_after_the_batch_and_once() -> None:
    """A deferred batch makes the case visible with its subject pending; the indexer enters
    it and unmarks the case, and a redelivered submission does not mark it again."""
    _, projection = wired()
    projection.indexer = asyncio.Event()
    sub = submitted()
    case_id = str(sub.case_id)
    await projection.project_all([sub])
    cases = projection.cases.docs  # type: ignore[attr-defined]
    assert cases[case_id]["unindexed"] is True
    assert projection.subjects.subjects == {}  # type: ignore[attr-defined]
    assert projection.indexer.is_set()
    assert await projection.index_pending(10) == 1
    assert projection.subjects.subjects == {  # type: ignore[attr-defined]
        case_id: Subject(case_id, "a-1", "grade book issues")
    }
    assert "unindexed" not in cases[case_id]
    await projection.project_all([sub])
    assert "unindexed" not in cases[case_id]
    assert await projection.index_pending(10) == 0
