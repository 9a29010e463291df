"""Intake's subscribers through FastStream's TestKafkaBroker, with a fake case store."""

from typing import Any
from uuid import uuid4

from faststream.kafka import KafkaBroker, TestKafkaBroker

from intake import handlers
from intake.settings import Settings
from shared.enums import ActorKind, Status
from shared.events import CaseSubmitted, PostAdded, RecipientsChanged, StatusChanged
from shared.kafka import DeadLetterPolicy, make_broker
from shared.messages import Actor
from shared.settings import InfraSettings

SETTINGS = Settings(topic_namespace="unit")
TOPICS = SETTINGS.topics
STAFF = Actor(kind=ActorKind.STAFF, id="s1", name="Pat")


class FakeCases:
    """Records what the handlers asked of the case store."""

    def __init__(self) -> None:
        self.ensured: list[str] = []
        self.statuses: list[tuple[str, Status]] = []
        self.recipients: list[tuple[str, list[str]]] = []

    async def ensure(self, doc: dict[str, Any]) -> None:
        self.ensured.append(doc["_id"])

    async def apply_status(self, event: StatusChanged) -> None:
        self.statuses.append((str(event.case_id), event.to_status))

    async def apply_recipients(self, event: RecipientsChanged) -> None:
        self.recipients.append((str(event.case_id), event.recipients))


def wired() -> tuple[KafkaBroker, FakeCases]:
    """A broker with intake's handlers, its dead-letter policy and a fake store."""
    broker = make_broker(
        InfraSettings(), client_id="intake", policy=DeadLetterPolicy(group="intake")
    )
    cases = FakeCases()
    handlers.register(broker, SETTINGS, cases, None)  # type: ignore[arg-type]
    return broker, cases


def submitted() -> CaseSubmitted:
    """A CaseSubmitted event."""
    return CaseSubmitted.model_validate(
        {
            "case_id": uuid4(),
            "case_number": 7,
            "account_id": "bayside",
            "contact_id": "zack",
            "submitted_by": {"kind": "contact", "id": "zack", "name": "Zack"},
            "priority": "Medium",
            "subject": "s",
            "description": "d",
            "details": {"case_type": "Report an Outage"},
        }
    )


async def test_case_submitted_is_recorded_and_status_applied() -> None:
    """A CaseSubmitted makes sure the record exists; a StatusChanged updates its status."""
    broker, cases = wired()
    event = submitted()
    closed = StatusChanged(
        case_id=event.case_id, from_status=Status.NEW, to_status=Status.CLOSED, actor=STAFF
    )
    async with TestKafkaBroker(broker) as test:
        await test.publish(event.model_dump(mode="json"), topic=TOPICS.case_events)
        await test.publish(closed.model_dump(mode="json"), topic=TOPICS.case_events)
    assert cases.ensured == [str(event.case_id)]
    assert cases.statuses == [(str(event.case_id), Status.CLOSED)]


async def test_recipients_changed_is_applied_to_the_record() -> None:
    """A RecipientsChanged (e.g. from a replica that died before recording it) is applied."""
    broker, cases = wired()
    case_id = uuid4()
    changed = RecipientsChanged(
        case_id=case_id, added=["lisa"], removed=[], recipients=["zack", "lisa"], actor=STAFF
    )
    async with TestKafkaBroker(broker) as test:
        await test.publish(changed.model_dump(mode="json"), topic=TOPICS.case_events)
    assert cases.recipients == [(str(case_id), ["zack", "lisa"])]


async def test_other_case_events_change_nothing() -> None:
    """A post or an unknown event type leaves the case store alone."""
    broker, cases = wired()
    post = PostAdded(
        case_id=uuid4(), post_id=uuid4(), author=STAFF, body_html="<p>x</p>", body_text="x"
    )
    async with TestKafkaBroker(broker) as test:
        await test.publish(post.model_dump(mode="json"), topic=TOPICS.case_events)
        await test.publish(
            {"type": "case.from_the_future", "case_id": str(uuid4())}, topic=TOPICS.case_events
        )
    assert (cases.ensured, cases.statuses, cases.recipients) == ([], [], [])
