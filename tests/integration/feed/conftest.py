"""Real-stack fixtures for feed: isolated topics and database, the app in-process, a fixture set."""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

import devstack
from feed.app import create_app
from feed.logic import Subject, subject_grams
from feed.settings import Settings
from feed.store import BUILT
from shared.directory import directory_key, hash_token
from shared.enums import ActorKind, CaseType, ContactType, Department, Module, Priority, Status
from shared.events import (
    Account,
    AccountUpserted,
    ApiToken,
    CaseAssigned,
    CaseRouted,
    CaseSubmitted,
    Contact,
    ContactUpserted,
    PostAdded,
    StaffMember,
    StaffUpserted,
    StatusChanged,
    TokenIssued,
)
from shared.kafka import ensure_topics
from shared.messages import Actor, Message, StaffRef

DISTRICT_A, DISTRICT_B = "acc-bayside", "acc-valley"
CONTACTS_A = [
    ("c-zack", "Zack", "Morris (TESTING)"),
    ("c-lisa", "Lisa", "Turtle (TESTING)"),
    ("c-slater", "A.C.", "Slater"),
]
STAFF = Actor(kind=ActorKind.STAFF, id="s-belding", name="Richard Belding")
SUBJECTS = [
    "Grade Book issues",
    "grade book export",
    "Attendance report",
    "Snow Day",
    "Day Rotation Update",
    "Contract question: Straße ÄRGER Café İstanbul",
    "19-20 CMS teachers can't save scores",
    "Sandbox refresh (urgent)",
    "Bus route [draft] 50%",
    "Transcript GPA.*",
]
MODULES = [Module.GRADE_BOOK, Module.ATTENDANCE, Module.CALENDAR, Module.REPORTS, Module.HEALTH]
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
N_A, N_B = 240, 20


def details_for(case_type: CaseType, module: Module) -> dict[str, Any]:
    """Valid form details of a case type."""
    forms: dict[CaseType, dict[str, Any]] = {
        CaseType.ASK_A_QUESTION: {"module": module},
        CaseType.APPLICATION_ISSUE: {
            "application_type": "Campus Application",
            "module": module,
            "steps_to_reproduce": "1. open grade book",
            "expected_results": "scores save",
            "who_is_impacted": "all teachers",
            "issue_began": "2026-05-01",
        },
        CaseType.DATA_RESTORE: {
            "module": module,
            "approximate_date_of_loss": "2026-05-20",
            "reason_for_restore": "deleted by mistake",
            "written_permission": True,
        },
        CaseType.SERVER_ISSUE: {"module": module, "issue_began": "2026-05-01"},
        CaseType.REQUEST_TECHNICAL_SERVICES: {
            "services_type": "Other Services",
            "module": module,
            "desired_completion_date": "2026-09-01",
        },
        CaseType.REPORT_AN_OUTAGE: {},
        CaseType.SERVER_ACCESS: {"request_type": "Server"},
        CaseType.REQUEST_TRAINING: {
            "request_type": "Grade Book",
            "preferred_training_date": "2026-08-05",
        },
        CaseType.REQUEST_CONSULTING: {"preferred_consult_date": "2026-08-05"},
        CaseType.MODIFY_SUPPORT_CONTACTS: {
            "request_type": "Add",
            "contact_first_name": "Ann",
            "contact_last_name": "Lee",
            "contact_email": "ann@example.org",
            "contact_title": "Registrar",
            "contact_primary_phone": "555-123-4567",
            "contact_type": "Technical",
            "areas_of_responsibility": ["SIS"],
        },
    }
    return {"case_type": case_type, **forms[case_type]}


@dataclass
class Expected:
    """What a generated case should look like in the read model."""

    case_id: str
    number: int
    account_id: str
    subject: str
    status: str
    priority: str
    module: str | None
    case_type: str
    contact: str
    created_at: datetime
    last_modified: datetime
    closed: bool
    events: list[Message] = field(default_factory=list)


def generate_case(i: int, account_id: str, number: int) -> Expected:
    """Case `i`: deterministic fields and its event history."""
    case_id = uuid5(NAMESPACE_URL, f"feed-test/{account_id}/{i}")
    contact_id, first, family = CONTACTS_A[i % 3]
    contact = Actor(kind=ActorKind.CONTACT, id=contact_id, name=f"{first} {family}")
    case_type = list(CaseType)[i % 10]
    module = MODULES[i % 5]
    subject = SUBJECTS[i % 10] if i % 3 else f"{SUBJECTS[i % 10]} #{i}"
    at = T0 + timedelta(hours=7 * i)
    details = details_for(case_type, module)
    sub = CaseSubmitted(
        event_id=uuid5(case_id, "submitted"),
        occurred_at=at,
        case_id=case_id,
        case_number=number,
        account_id=account_id,
        contact_id=contact_id,
        submitted_by=contact,
        priority=list(Priority)[i % 4],
        subject=subject,
        description=f"Description of case {i}",
        details=details,
    )
    routed = CaseRouted(
        event_id=uuid5(case_id, "routed"),
        occurred_at=at + timedelta(seconds=1),
        case_id=case_id,
        department=Department.CAMPUS_SUPPORT,
        billable=False,
        queue="queue.campus-support",
    )
    events: list[Message] = [sub, routed]
    status, last = Status.NEW, at + timedelta(seconds=1)
    for step, (target, note) in enumerate(_path(i)):
        last = at + timedelta(minutes=30 * (step + 1))
        if target is Status.ASSIGNED:
            events.append(_assigned(case_id, last))
        events.append(_status(case_id, status, target, note, last, step))
        status = target
    if i % 4 == 0:
        last = at + timedelta(hours=5)
        events.append(_post(case_id, contact, f"Any update on case {i}? Zebra-{i}", last))
    module_value = module.value if "module" in details else None
    return Expected(
        case_id=str(case_id),
        number=number,
        account_id=account_id,
        subject=subject,
        status=status.value,
        priority=list(Priority)[i % 4].value,
        module=module_value,
        case_type=case_type.value,
        contact=contact.name,
        created_at=at,
        last_modified=last,
        closed=status is Status.CLOSED,
        events=events,
    )


def question_events(
    case_id: UUID,
    *,
    number: int,
    account_id: str,
    contact: Actor,
    subject: str,
    at: datetime,
    description: str,
) -> list[Message]:
    """A Grade Book question submitted by `contact` and routed to Campus Support."""
    submitted = CaseSubmitted(
        event_id=uuid5(case_id, "submitted"),
        occurred_at=at,
        case_id=case_id,
        case_number=number,
        account_id=account_id,
        contact_id=contact.id,
        submitted_by=contact,
        priority=Priority.MEDIUM,
        subject=subject,
        description=description,
        details=details_for(CaseType.ASK_A_QUESTION, Module.GRADE_BOOK),
    )
    routed = CaseRouted(
        event_id=uuid5(case_id, "routed"),
        occurred_at=at + timedelta(seconds=1),
        case_id=case_id,
        department=Department.CAMPUS_SUPPORT,
        billable=False,
        queue="campus-support",
    )
    return [submitted, routed]


def _path(i: int) -> list[tuple[Status, str | None]]:
    paths: list[list[tuple[Status, str | None]]] = [
        [],
        [(Status.ASSIGNED, None)],
        [(Status.ASSIGNED, None), (Status.PENDING_CUSTOMER_VERIFICATION, "Fixed the calendar")],
        [(Status.ASSIGNED, None), (Status.CLOSED, None)],
        [(Status.ASSIGNED, None), (Status.ASSIGNED_TO_DEVELOPMENT, "Needs a code change")],
    ]
    return paths[i % 5]


def _assigned(case_id: UUID, at: datetime) -> CaseAssigned:
    return CaseAssigned(
        event_id=uuid5(case_id, "assigned"),
        occurred_at=at - timedelta(seconds=1),
        case_id=case_id,
        department=Department.CAMPUS_SUPPORT,
        assignee=StaffRef(id=STAFF.id, name=STAFF.name),
        actor=STAFF,
    )


def _status(
    case_id: UUID, old: Status, new: Status, note: str | None, at: datetime, step: int
) -> StatusChanged:
    return StatusChanged(
        event_id=uuid5(case_id, f"status-{step}"),
        occurred_at=at,
        case_id=case_id,
        from_status=old,
        to_status=new,
        actor=STAFF,
        note=note,
        development_issue="DEV-4242" if new is Status.ASSIGNED_TO_DEVELOPMENT else None,
    )


def _post(case_id: UUID, author: Actor, text: str, at: datetime) -> PostAdded:
    return PostAdded(
        event_id=uuid5(case_id, "post"),
        occurred_at=at,
        case_id=case_id,
        post_id=uuid5(case_id, "post-id"),
        author=author,
        body_html=f"<p>{text}</p>",
        body_text=text,
    )


def fixture_cases() -> list[Expected]:
    """240 cases in district A and 20 in district B, deterministic."""
    cases = [generate_case(i, DISTRICT_A, 1121000 + 7 * i) for i in range(N_A)]
    cases += [generate_case(i, DISTRICT_B, 2000000 + i) for i in range(N_B)]
    return cases


def directory_events(tokens: dict[str, str]) -> list[Message]:
    """Districts, contacts, a staff member and their tokens."""
    events: list[Message] = [
        AccountUpserted(account=Account(id=DISTRICT_A, name="Bayside School (TESTING)")),
        AccountUpserted(account=Account(id=DISTRICT_B, name="Valley High", time_zone="UTC")),
        StaffUpserted(
            staff=StaffMember(
                id=STAFF.id,
                name=STAFF.name,
                email="belding@example.org",
                departments=[Department.CAMPUS_SUPPORT],
            )
        ),
    ]
    for cid, first, last in CONTACTS_A:
        contact = Contact(
            id=cid,
            first_name=first,
            last_name=last,
            email=f"{cid}@example.org",
            contact_type=ContactType.AUTHORIZED_SUPPORT,
            account_ids=[DISTRICT_A],
        )
        events.append(ContactUpserted(contact=contact))
    reader = Contact(
        id="c-valley",
        first_name="Vera",
        last_name="Valley",
        email="vera@example.org",
        contact_type=ContactType.READ_ONLY,
        account_ids=[DISTRICT_B],
    )
    events.append(ContactUpserted(contact=reader))
    subjects = {"zack": ("c-zack", ActorKind.CONTACT), "vera": ("c-valley", ActorKind.CONTACT)}
    subjects["staff"] = (STAFF.id, ActorKind.STAFF)
    for who, (sid, kind) in subjects.items():
        token = ApiToken(
            token_id=f"t-{who}", sha256=hash_token(tokens[who]), subject_kind=kind, subject_id=sid
        )
        events.append(TokenIssued(token=token))
    return events


class Bus:
    """A real Kafka producer publishing the shared contract messages."""

    def __init__(self, producer: AIOKafkaProducer, settings: Settings) -> None:
        self.producer = producer
        self.topics = settings.topics

    async def case_events(self, events: list[Message]) -> None:
        """Publish case events keyed by case id."""
        for event in events:
            key = str(event.case_id).encode()  # type: ignore[attr-defined]
            await self.producer.send(
                self.topics.case_events, event.model_dump_json().encode(), key=key
            )
        await self.producer.flush()

    async def directory(self, events: list[Message]) -> None:
        """Publish directory events keyed by their compaction key."""
        for event in events:
            key = directory_key(event).encode()  # type: ignore[arg-type]
            await self.producer.send(
                self.topics.directory, event.model_dump_json().encode(), key=key
            )
        await self.producer.flush()

    async def notices(self, events: list[Message]) -> None:
        """Publish notice events keyed by notice id."""
        for event in events:
            key = event.notice.id.encode()  # type: ignore[attr-defined]
            await self.producer.send(
                self.topics.incident_events, event.model_dump_json().encode(), key=key
            )
        await self.producer.flush()


async def eventually(check: Callable[[], Awaitable[bool]], deadline_s: float = 60.0) -> None:
    """Poll `check` until it holds, failing after the deadline."""
    deadline = time.monotonic() + deadline_s
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {deadline_s:.0f} s")
        await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
def feed_settings(stack: devstack.StackSettings) -> Settings:
    """Settings with a unique namespace, database and consumer group."""
    ns = "t" + uuid4().hex[:8]
    return Settings(
        kafka_bootstrap_servers=stack.kafka_bootstrap,
        mongo_url=stack.mongo_url,
        topic_namespace=ns,
        mongo_database=f"feed_{ns}",
        service_name=f"feed-{ns}",
        log_format="text",
        rebuild_batch=500,
    )


@pytest.fixture(scope="module")
async def mongo_db(feed_settings: Settings) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """The test database; dropped at the end."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        feed_settings.mongo_url.get_secret_value(), tz_aware=True
    )
    yield client[feed_settings.mongo_database]
    await client.drop_database(feed_settings.mongo_database)
    await client.close()


@pytest.fixture(scope="module")
async def bus(feed_settings: Settings) -> AsyncIterator[Bus]:
    """A producer on the test namespace, topics created."""
    await ensure_topics(feed_settings.kafka_bootstrap_servers, feed_settings.topics.all_specs())
    producer = AIOKafkaProducer(
        bootstrap_servers=feed_settings.kafka_bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    yield Bus(producer, feed_settings)
    await producer.stop()


@pytest.fixture(scope="module")
def tokens() -> dict[str, str]:
    """Bearer tokens of a district A contact, a district B read-only contact and staff."""
    return {
        "zack": "tok-zack-" + uuid4().hex,
        "vera": "tok-vera-" + uuid4().hex,
        "staff": "tok-staff-" + uuid4().hex,
    }


@pytest.fixture(scope="module")
async def feed_app(feed_settings: Settings, bus: Bus) -> AsyncIterator[FastAPI]:
    """The feed app with its lifespan running against the real stack."""
    app = create_app(feed_settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="module")
async def http(feed_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client bound to the in-process app."""
    transport = httpx.ASGITransport(app=feed_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://feed") as client:
        yield client


def auth(token: str) -> dict[str, str]:
    """The Authorization header of a token."""
    return {"Authorization": f"Bearer {token}"}


Postings = dict[tuple[str, str], dict[str, str]]  # (district, gram) -> case id -> subject


def expected_postings(subjects: list[Subject]) -> Postings:
    """What `subjects` holds for these subjects, buckets merged."""
    out: Postings = {}
    for subject in subjects:
        for gram in subject_grams(subject.subject_lc):
            out.setdefault((subject.account_id, gram), {})[subject.case_id] = subject.subject_lc
    return out


def subjects_of(cases: list[Expected]) -> list[Subject]:
    """The subjects of generated cases."""
    return [Subject(c.case_id, c.account_id, c.subject.lower()) for c in cases]


async def stored_postings(collection: Any, bucket_size: int) -> Postings:
    """The postings of a `subjects` collection, buckets merged; fails on a case held in two
    buckets of one gram with different subjects, a bucket held twice, or a bucket far over
    its size (a redelivered submission may sit in two buckets, with the same subject)."""
    out: Postings = {}
    seen: set[str] = set()
    async for doc in collection.find({"_id": {"$ne": BUILT}}):
        assert doc["_id"] not in seen, f"posting {doc['_id']!r} held twice"
        seen.add(doc["_id"])
        assert len(doc["cases"]) <= 2 * bucket_size, f"bucket {doc['_id']!r} overfull"
        merged = out.setdefault((doc["account_id"], doc["gram"]), {})
        for case_id, text in doc["cases"].items():
            assert merged.setdefault(case_id, text) == text, f"{case_id} differs in {doc['_id']!r}"
    return out
