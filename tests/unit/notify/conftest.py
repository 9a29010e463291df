"""Factories and in-memory fakes for notify's unit tests (no Mongo, no SMTP, no Kafka)."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from uuid import UUID, uuid4

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from prometheus_client import CollectorRegistry

from notify.delivery import Delivery, Leases
from notify.errors import MailDeferred, MailRejected
from notify.handlers import register
from notify.mailer import BeforeEnd
from notify.models import CaseView, DeadMail, Mail
from notify.render import Composer, Renderer, Sender
from notify.service import Notifier, Timing
from notify.store import ACTIVE, Claims, Parked, SentStatus
from shared.enums import (
    ActorKind,
    ContactType,
    Department,
    Module,
    NoticeKind,
    NoticeStatus,
    Priority,
    Status,
)
from shared.events import (
    AnyNoticeEvent,
    CaseSubmitted,
    Contact,
    Notice,
    NoticePublished,
    PostAdded,
    RecipientsChanged,
    StaffMember,
    StatusChanged,
)
from shared.kafka import DeadLetterPolicy, make_broker
from shared.messages import Actor
from shared.settings import InfraSettings

NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
DOMAIN = "test.invalid"
STAFF = Actor(kind=ActorKind.STAFF, id="s-1", name="Kelly Kapowski")
LEASES = Leases(renew_every=0.01, patience=0.05, poll=0.01)
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="system", name="Support Portal")


def contact(
    cid: str, account: str = "acct-1", kind: ContactType = ContactType.AUTHORIZED_SUPPORT, **kw: Any
) -> Contact:
    """A directory contact with an address derived from its id."""
    first = kw.pop("first_name", cid.title())
    return Contact(
        id=cid,
        first_name=first,
        last_name="Tester",
        email=f"{cid}@example.org",
        contact_type=kind,
        account_ids=[account],
        **kw,
    )


def actor_of(c: Contact) -> Actor:
    """The contact as an actor."""
    return Actor(kind=ActorKind.CONTACT, id=c.id, name=c.display_name)


def submitted(owner: str = "owner", case_id: UUID | None = None, **kw: Any) -> CaseSubmitted:
    """A submitted Ask a Question case owned by `owner`."""
    return CaseSubmitted(
        case_id=case_id or uuid4(),
        case_number=kw.pop("case_number", 1227963),
        account_id=kw.pop("account_id", "acct-1"),
        contact_id=owner,
        submitted_by=Actor(kind=ActorKind.CONTACT, id=owner, name="Owner"),
        priority=Priority.MEDIUM,
        subject=kw.pop("subject", "Snow Day"),
        description="How do I add a snow day to the calendar?",
        details={"case_type": "Ask a Question", "module": Module.CALENDAR.value},
        occurred_at=kw.pop("occurred_at", NOW),
        **kw,
    )


def status(case_id: UUID, to: Status, frm: Status = Status.ASSIGNED, **kw: Any) -> StatusChanged:
    """A status change made by staff unless an actor is given."""
    return StatusChanged(
        case_id=case_id,
        from_status=frm,
        to_status=to,
        actor=kw.pop("actor", STAFF),
        occurred_at=kw.pop("occurred_at", NOW),
        **kw,
    )


def recipients(case_id: UUID, now: list[str], added: list[str], removed: list[str]) -> Any:
    """The full recipient list after adding and removing."""
    return RecipientsChanged(
        case_id=case_id,
        added=added,
        removed=removed,
        recipients=now,
        actor=Actor(kind=ActorKind.CONTACT, id="owner", name="Owner Tester"),
        occurred_at=NOW,
    )


def post(case_id: UUID, author: Actor, text: str = "Please try again.") -> PostAdded:
    """A post to the case feed."""
    return PostAdded(
        case_id=case_id,
        post_id=uuid4(),
        author=author,
        body_html=f"<p>{text}</p>",
        body_text=text,
        occurred_at=NOW,
    )


def notice(
    affected: list[str],
    revision: int = 1,
    kind: NoticeKind = NoticeKind.INCIDENT,
    notice_id: str = "n-1",
    title: str = "Digicert Incident",
) -> Any:
    """A published incident (or maintenance) notice."""
    return NoticePublished(
        notice=Notice(
            id=notice_id,
            kind=kind,
            title=title,
            body="Certificates are being reissued.",
            status=NoticeStatus.INVESTIGATING,
            starts_at=NOW,
            affected_account_ids=affected,
            revision=revision,
        ),
        occurred_at=NOW,
    )


@dataclass
class FakeCases:
    """Case views in a dict."""

    views: dict[UUID, CaseView] = field(default_factory=dict)

    async def many(self, case_ids: list[UUID]) -> dict[UUID, CaseView]:
        return {i: self.views[i] for i in case_ids if i in self.views}

    async def save_all(self, views: list[CaseView]) -> None:
        for view in views:
            self.views[view.case_id] = view


@dataclass
class FakeNotices:
    """Mailed notice revisions and parked notices in dicts."""

    revisions: dict[str, int] = field(default_factory=dict)
    parking: dict[str, Parked] = field(default_factory=dict)

    async def mailed_revision(self, notice_id: str) -> int | None:
        return self.revisions.get(notice_id)

    async def set_mailed(self, notice_id: str, revision: int, at: datetime) -> None:
        self.revisions[notice_id] = max(revision, self.revisions.get(notice_id, 0))

    async def park(
        self, event: AnyNoticeEvent, until: datetime, request_id: str | None = None
    ) -> None:
        there = self.parking.get(event.notice.id)
        if there is None or there.event.notice.revision < event.notice.revision:
            self.parking[event.notice.id] = Parked(event, until, request_id)

    async def parked(self) -> list[Parked]:
        return sorted(self.parking.values(), key=lambda p: p.until)

    async def parked_notice(self, notice_id: str) -> Parked | None:
        return self.parking.get(notice_id)

    async def unpark(self, notice_id: str, revision: int) -> None:
        there = self.parking.get(notice_id)
        if there is not None and there.event.notice.revision <= revision:
            del self.parking[notice_id]


@dataclass
class FakeBook:
    """The directory as a dict of contacts and zones."""

    people: dict[str, Contact] = field(default_factory=dict)
    zones: dict[str, str] = field(default_factory=dict)
    members: dict[str, StaffMember] = field(default_factory=dict)

    def add(self, *contacts: Contact) -> None:
        for c in contacts:
            self.people[c.id] = c

    def hire(self, *staff: StaffMember) -> None:
        for s in staff:
            self.members[s.id] = s

    async def staff(self, ids: list[str]) -> dict[str, StaffMember]:
        return {i: self.members[i] for i in ids if i in self.members}

    async def staff_in(self, department: Department) -> list[StaffMember]:
        found = [s for s in self.members.values() if s.active and department in s.departments]
        return sorted(found, key=lambda s: s.id)

    async def contacts(self, ids: list[str]) -> dict[str, Contact]:
        return {i: self.people[i] for i in ids if i in self.people}

    async def zone(self, account_id: str) -> str:
        return self.zones.get(account_id, "America/Chicago")

    async def contacts_in(self, account_ids: list[str]) -> list[Contact]:
        return [
            c
            for c in self.people.values()
            if c.active and (not account_ids or set(c.account_ids) & set(account_ids))
        ]


@dataclass
class FakeSentLog:
    """The sent log in dicts: key -> status and owner; `ended` holds the expired leases."""

    owner: str = "me"
    status: dict[str, SentStatus] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    ended: set[str] = field(default_factory=set)
    renewals: int = 0

    def hold(self, key: str, status: SentStatus, owner: str, *, ended: bool = False) -> None:
        """Record a claim of `owner` (another sender, in tests)."""
        self.status[key], self.owners[key] = status, owner
        if ended:
            self.ended.add(key)

    async def claim(self, mails: list[Mail]) -> Claims:
        claims = Claims()
        for mail in mails:
            status = self.status.get(mail.key)
            if status is None:
                self.hold(mail.key, SentStatus.SENDING, self.owner)
                claims.mine.append(mail)
            elif status.value not in ACTIVE:
                continue
            elif mail.key in self.ended or self.owners[mail.key] == self.owner:
                self.hold(mail.key, status, self.owner)
                self.ended.discard(mail.key)
                claims.mine.append(mail)
                (claims.in_doubt if status is SentStatus.DATA else claims.resumed).append(mail)
            else:
                claims.held.append(mail)
        return claims

    async def begin_data(self, keys: list[str]) -> set[str]:
        ours = {k for k in keys if self.owners.get(k) == self.owner and self._active(k)}
        self.status |= dict.fromkeys(ours, SentStatus.DATA)
        return ours

    async def advance(self, data: list[str], sent: list[str]) -> set[str]:
        ours = await self.begin_data(data)
        await self.mark(sent, SentStatus.SENT)
        return ours

    def _active(self, key: str) -> bool:
        status = self.status.get(key)
        return status is not None and status.value in ACTIVE

    async def mark(self, keys: list[str], status: SentStatus, reason: str = "") -> None:
        for key in keys:
            self.status[key] = status

    async def renew(self, keys: list[str]) -> None:
        self.renewals += 1

    async def release(self, keys: list[str], unsent: list[str] | None = None) -> None:
        ours = {k for k in keys if self.owners.get(k) == self.owner and self._active(k)}
        self.ended |= ours
        self.status |= dict.fromkeys(ours & set(unsent or []), SentStatus.SENDING)


@dataclass
class FakeTransport:
    """Records what would go over SMTP; `fail` maps an address to the error to raise."""

    sent: list[tuple[str, EmailMessage]] = field(default_factory=list)
    fail: dict[str, Exception] = field(default_factory=dict)
    down: bool = False

    async def send(
        self, message: EmailMessage, recipient: str, before_end: BeforeEnd | None = None
    ) -> None:
        if self.down:
            raise MailDeferred("connection refused")
        if recipient in self.fail:
            raise self.fail[recipient]
        if before_end is not None:
            await before_end()
        self.sent.append((recipient, message))

    def to(self, address: str) -> list[EmailMessage]:
        """Messages sent to `address`."""
        return [m for r, m in self.sent if r == address]

    def templates(self, address: str) -> list[str]:
        """Template names of the messages sent to `address`, in order."""
        return [str(m["X-Support-Template"]) for m in self.to(address)]


@dataclass
class World:
    """A notifier wired to fakes, plus what it dead-lettered."""

    notifier: Notifier
    cases: FakeCases
    book: FakeBook
    sent: FakeSentLog
    transport: FakeTransport
    notices: FakeNotices
    dead: list[DeadMail]
    poisoned: list[tuple[Any, Exception]]


def rejected(code: int = 550) -> MailRejected:
    """A permanent SMTP refusal."""
    return MailRejected(code, f"{code} mailbox unavailable")


@pytest.fixture
def world() -> World:
    """A notifier whose stores, directory and SMTP are in memory, clock fixed at NOW."""
    dead: list[DeadMail] = []
    poisoned: list[tuple[Any, Exception]] = []

    async def bury(item: DeadMail) -> None:
        dead.append(item)

    async def poison(record: Any, exc: Exception) -> None:
        poisoned.append((record, exc))

    cases, book, sent, transport = FakeCases(), FakeBook(), FakeSentLog(), FakeTransport()
    notices = FakeNotices()
    notifier = Notifier(
        cases=cases,
        notices=notices,
        book=book,
        composer=Composer(Renderer(), Sender("Campus Support", "support@test.invalid", DOMAIN)),
        delivery=Delivery(sent, transport, bury, CollectorRegistry(), LEASES),
        timing=Timing(domain=DOMAIN, clock=lambda: NOW + timedelta(seconds=1)),
        poison=poison,
    )
    return World(notifier, cases, book, sent, transport, notices, dead, poisoned)


@pytest.fixture
async def notify_broker(world: World) -> AsyncIterator[KafkaBroker]:
    """Notify's real subscribers on an in-memory broker, delegating to the fake world."""
    settings = InfraSettings(topic_namespace="unit")
    policy = DeadLetterPolicy(group="notify", attempts=2, base_delay=0.001)
    broker: KafkaBroker = make_broker(settings, client_id="notify", policy=policy)
    register(broker, settings, "notify", world.notifier, _NO_DIRECTORY)
    async with TestKafkaBroker(broker) as test_broker:
        yield test_broker


# directory events are not used in these tests: nothing may reach for the directory
_NO_DIRECTORY: Any = None


@pytest.fixture
def topics() -> Any:
    """Topic names of the unit namespace."""
    return InfraSettings(topic_namespace="unit").topics


class Make:
    """The factories above, for tests (which cannot import this conftest)."""

    now = NOW
    domain = DOMAIN
    staff = STAFF
    system = SYSTEM
    contact = staticmethod(contact)
    actor_of = staticmethod(actor_of)
    submitted = staticmethod(submitted)
    status = staticmethod(status)
    recipients = staticmethod(recipients)
    post = staticmethod(post)
    notice = staticmethod(notice)
    rejected = staticmethod(rejected)


@pytest.fixture
def make() -> type[Make]:
    """Event, contact and error factories."""
    return Make
