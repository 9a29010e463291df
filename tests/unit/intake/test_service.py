"""Intake's submit use case with fakes: which case numbers come back after a failed send."""

from typing import Any

import pytest
from pydantic import TypeAdapter

from intake import logic
from intake.errors import InDoubt, Unavailable, problem
from intake.logic import TokenBucket
from intake.models import CaseCreate
from intake.service import Intake
from intake.settings import Settings
from intake.store import CounterStore
from shared.directory import Principal
from shared.enums import ActorKind, ContactType
from shared.messages import Message
from shared.topics import Topics
from shared.zones import ZoneCache

ZACK = Principal(
    kind=ActorKind.CONTACT,
    id="zack",
    name="Zack",
    email="z@x.example",
    contact_type=ContactType.AUTHORIZED_SUPPORT,
    account_ids=["bayside"],
)
BODY = TypeAdapter(CaseCreate).validate_python(
    {"case_type": "Report an Outage", "subject": "Down", "description": "All of it"}
)


class FakePublisher:
    """Fails every send with `error` (if any), else records it."""

    def __init__(self, error: Exception | None) -> None:
        self.error, self.sent = error, list[Message]()

    async def publish(self, topic: str, key: str, messages: list[Message]) -> None:
        if self.error is not None:
            raise self.error
        self.sent += messages


class FakeDirectory:
    """No account is known: the default time zone applies."""

    async def account(self, account_id: str) -> None:
        return None


class FakeCases:
    """Keeps the documents intake records, by case id."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    def insert_behind(self, doc: dict[str, Any]) -> None:
        self.docs[doc["_id"]] = doc

    async def document(self, case_id: str) -> dict[str, Any] | None:
        return self.docs.get(case_id)

    async def confirmed(self, case_id: str) -> None:
        self.docs[case_id].pop("unconfirmed")


class FakeKeys:
    """Idempotency records in memory: a claim, then the first answer."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}

    async def reserve(self, key: str, fingerprint: str) -> dict[str, Any] | None:
        if key in self.records:
            return self.records[key]
        self.records[key] = {"fingerprint": fingerprint}
        return None

    async def complete(self, key: str, body: dict[str, Any]) -> None:
        self.records[key]["body"] = body

    async def release(self, key: str) -> None:
        self.records.pop(key, None)


Wired = tuple[Intake, CounterStore, FakeCases, FakePublisher]


def intake(error: Exception | None) -> Wired:
    """Intake with a counter holding numbers 1-10 and a publisher failing with `error`."""
    counters = CounterStore({"counters": None}, block=4, start=0)  # type: ignore[arg-type]
    counters.pool.add_block(10, 10)
    cases, publisher = FakeCases(), FakePublisher(error)
    service = Intake(
        settings=Settings(),
        topics=Topics("unit"),
        directory=FakeDirectory(),  # type: ignore[arg-type]
        cases=cases,  # type: ignore[arg-type]
        counters=counters,
        idempotency=FakeKeys(),  # type: ignore[arg-type]
        attachments=None,  # type: ignore[arg-type]
        publisher=publisher,  # type: ignore[arg-type]
        zones=ZoneCache(FakeDirectory()),
        limiter=TokenBucket(rate=1.0, burst=1),
    )
    return service, counters, cases, publisher


async def test_number_of_a_refused_send_is_handed_out_again() -> None:
    """Kafka refused the event before it was sent: its number goes to the next case."""
    service, counters, _, _ = intake(Unavailable(problem("kafka", "acknowledged", "down")))
    with pytest.raises(Unavailable):
        await service.submit(ZACK, BODY)
    assert await counters.take() == 1


async def test_number_of_a_send_in_doubt_is_never_handed_out_again() -> None:
    """Kafka may have recorded the event: its number is not reused; a keyed case keeps it."""
    service, counters, cases, _ = intake(InDoubt(problem("kafka", "acknowledged", "timed out")))
    case_id = logic.keyed_case_id(ZACK, "key-1")
    with pytest.raises(InDoubt):
        await service.submit(ZACK, BODY, "key-1")
    assert await counters.take() == 2
    assert cases.docs[str(case_id)]["unconfirmed"]["case_number"] == 1


async def test_keyed_retry_after_doubt_resends_the_same_event() -> None:
    """A retry of a keyed case in doubt re-sends the first event and answers with its number."""
    service, _, cases, publisher = intake(InDoubt(problem("kafka", "acknowledged", "timed out")))
    case_id = logic.keyed_case_id(ZACK, "key-1")
    with pytest.raises(InDoubt):
        await service.submit(ZACK, BODY, "key-1")
    first = cases.docs[str(case_id)]["unconfirmed"]
    publisher.error = None
    case = await service.submit(ZACK, BODY, "key-1")
    assert case.case_number == 1
    assert [str(m.event_id) for m in publisher.sent] == [first["event_id"]]
    assert "unconfirmed" not in cases.docs[str(case_id)]
