"""The inbound listener's decisions with fakes: when it says 250, 451, bounces or posts."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any, cast
from uuid import UUID, uuid4

import aiosmtplib
import pytest
from prometheus_client import CollectorRegistry, Counter

from intake.errors import Conflict, Unavailable, problem
from intake.inbound import ACCEPTED, RETRY_LATER, InboundMail, create_inbound_app
from intake.logic import CaseState, TokenBucket
from intake.mail_store import MailLog, Originals, Senders
from intake.models import PostPublic
from intake.service import Intake, Upload
from intake.settings import Settings
from shared.directory import Principal
from shared.enums import ActorKind, ContactType, Status, Visibility
from shared.messages import AttachmentRef
from shared.replies import reply_address
from shared.settings import ProductionSettingsError

KEY = "local-mail-reply-key"
CASE = UUID("0b9a3c1e-5d2f-4a6b-8c7d-1e2f3a4b5c6d")
ZACK = Principal(
    kind=ActorKind.CONTACT,
    id="zack-morris",
    name="Zack Morris",
    email="zack.morris@bayside.example",
    contact_type=ContactType.AUTHORIZED_SUPPORT,
    account_ids=["bayside"],
)
SCREECH = ZACK.model_copy(
    update={
        "id": "screech-powers",
        "name": "Screech Powers",
        "email": "screech.powers@bayside.example",
        "contact_type": ContactType.READ_ONLY,
    }
)


@dataclass
class FakeCases:
    """One Bayside case, number 1000003, in the status the test sets."""

    status: Status = Status.NEW
    closed_at: datetime | None = None

    async def id_of_number(self, number: int) -> str | None:
        return str(CASE) if number == 1000003 else None

    async def document(self, case_id: str) -> dict[str, Any] | None:
        return {"_id": case_id, "case_number": 1000003} if case_id == str(CASE) else None

    async def get(self, case_id: str) -> CaseState | None:
        if case_id != str(CASE):
            return None
        return CaseState(case_id, "bayside", "zack-morris", self.status, self.closed_at)


@dataclass
class FakeIntake:
    """Records posts; can refuse them with an error."""

    cases: FakeCases = field(default_factory=FakeCases)
    posts: list[tuple[str, str, list[str], str | None]] = field(default_factory=list)
    published: list[Any] = field(default_factory=list)
    visibilities: list[Visibility] = field(default_factory=list)
    error: Exception | None = None
    topics: Any = field(default_factory=lambda: type("T", (), {"case_events": "case.events"}))

    async def add_post(
        self,
        principal: Principal,
        ref: str,
        body: str,
        files: list[Upload],
        key: str | None,
        visibility: Visibility = Visibility.PUBLIC,
    ) -> PostPublic:
        if self.error is not None:
            raise self.error
        self.visibilities.append(visibility)
        self.posts.append((principal.id, body, [f.filename for f in files], key))
        return PostPublic(post_id=uuid4(), case_id=CASE, body_html=body, attachments=[])

    @property
    def publisher(self) -> "FakeIntake":
        return self

    async def publish(self, topic: str, key: str, messages: list[Any]) -> None:
        self.published += messages

    @property
    def zones(self) -> "FakeIntake":
        return self

    async def zone_of(self, account_id: str) -> str:
        return "America/Chicago"


@dataclass
class FakeSenders:
    """The directory: who an address is."""

    people: dict[str, list[Principal]]

    async def of(self, address: str) -> list[Principal]:
        return self.people.get(address, [])


@dataclass
class FakeLog:
    """The mail log in memory."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def outcome(self, key: str) -> dict[str, Any] | None:
        return self.records.get(key)

    async def record(self, key: str, facts: dict[str, Any]) -> None:
        self.records[key] = facts


class FakeOriginals:
    """Keeps nothing, answers a reference."""

    async def keep(self, case_id: UUID, post_id: UUID, raw: bytes, author: str) -> AttachmentRef:
        return AttachmentRef(
            attachment_id="0" * 24,
            filename="original message.eml",
            content_type="message/rfc822",
            size=len(raw),
            sha256="",
        )


@dataclass
class Outbox:
    """Mail the listener sends; fails when told to."""

    sent: list[EmailMessage] = field(default_factory=list)
    failing: bool = False

    async def __call__(self, mail: EmailMessage) -> None:
        if self.failing:
            raise aiosmtplib.SMTPConnectError("sink down")
        self.sent.append(mail)


@dataclass
class Rig:
    """The listener's use case wired to fakes."""

    intake: FakeIntake
    log: FakeLog
    outbox: Outbox
    inbound: InboundMail


@pytest.fixture
def rig() -> Rig:
    """Zack and Screech (Read-Only) of Bayside, and Pat of staff, in the fake directory."""
    intake, log, outbox = FakeIntake(), FakeLog(), Outbox()
    senders = FakeSenders(
        {"zack.morris@bayside.example": [ZACK], "screech.powers@bayside.example": [SCREECH]}
    )
    counter = Counter("inbound_test", "t", ["outcome"], registry=CollectorRegistry())
    inbound = InboundMail(
        settings=Settings(mail_reply_key=KEY),
        intake=cast(Intake, intake),
        senders=cast(Senders, senders),
        mail_log=cast(MailLog, log),
        originals=cast(Originals, FakeOriginals()),
        limiter=TokenBucket(rate=1.0, burst=100),
        send=outbox,
        outcomes=counter,
    )
    return Rig(intake, log, outbox, inbound)


def raw(sender: str = "zack.morris@bayside.example", text: str = "Thanks!") -> bytes:
    """A reply tagged [Case 1000003] from `sender`."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "support@support-portal.local"
    mail["Subject"] = "Re: [Case 1000003] Gradebook"
    mail["Message-ID"] = "<reply-1@mail.bayside.example>"
    mail.set_content(text)
    return mail.as_bytes()


async def test_reply_posted_as_its_sender(rig: Rig) -> None:
    """A contact's tagged reply is posted as them, keyed by its Message-ID, and settled 250."""
    answer = await rig.inbound.receive("zack.morris@bayside.example", ["x@y"], raw())
    assert answer == ACCEPTED
    assert rig.intake.posts == [
        ("zack-morris", "<p>Thanks!</p>", [], "mail:<reply-1@mail.bayside.example>")
    ]
    assert [e.attachment.filename for e in rig.intake.published] == ["original message.eml"]
    assert rig.intake.visibilities == [Visibility.PUBLIC]  # a reply by email is never internal


async def test_read_only_contact_is_refused(rig: Rig) -> None:
    """A Read-Only contact cannot post by mail either: one bounce, nothing posted."""
    answer = await rig.inbound.receive("screech.powers@bayside.example", [], raw(SCREECH.email))
    assert answer == ACCEPTED
    assert rig.intake.posts == []
    assert [m["Subject"] for m in rig.outbox.sent] == [
        "Your message could not be added to a support case"
    ]


async def test_bounce_that_cannot_be_sent_is_retried(rig: Rig) -> None:
    """When the bounce cannot be sent the answer is 451 and nothing is settled."""
    rig.outbox.failing = True
    answer = await rig.inbound.receive("who@elsewhere.example", [], raw("who@elsewhere.example"))
    assert answer == RETRY_LATER
    assert rig.log.records == {}


async def test_post_in_progress_is_retried(rig: Rig) -> None:
    """While the same message's post is still claimed (a crash mid-way), the answer is 451."""
    rig.intake.error = Conflict(problem("Idempotency-Key", "in_progress", "still running"))
    answer = await rig.inbound.receive("zack.morris@bayside.example", [], raw())
    assert answer == RETRY_LATER
    assert rig.log.records == {}


async def test_kafka_refusal_is_retried(rig: Rig) -> None:
    """A post Kafka did not acknowledge answers 451, so the sender's MTA keeps the mail."""
    rig.intake.error = Unavailable(problem("kafka", "acknowledged", "not connected"))
    assert await rig.inbound.receive("zack.morris@bayside.example", [], raw()) == RETRY_LATER


async def test_settled_message_is_not_posted_again(rig: Rig) -> None:
    """A redelivery of a settled message answers 250 and posts nothing more."""
    await rig.inbound.receive("zack.morris@bayside.example", [], raw())
    await rig.inbound.receive("zack.morris@bayside.example", [], raw())
    assert len(rig.intake.posts) == 1


async def test_notice_failure_keeps_the_post(rig: Rig) -> None:
    """A closed-case notice that cannot be sent does not undo the durable post: still 250."""
    rig.intake.cases.status = Status.CLOSED
    rig.intake.cases.closed_at = datetime.now(UTC) - timedelta(days=3)
    rig.outbox.failing = True
    assert await rig.inbound.receive("zack.morris@bayside.example", [], raw()) == ACCEPTED
    assert len(rig.intake.posts) == 1


async def test_closed_over_60_days_asks_for_a_new_case(rig: Rig) -> None:
    """A reply on a case closed 90 days ago is posted, and the sender told to submit anew."""
    rig.intake.cases.status = Status.CLOSED
    rig.intake.cases.closed_at = datetime.now(UTC) - timedelta(days=90)
    await rig.inbound.receive("zack.morris@bayside.example", [], raw())
    assert len(rig.intake.posts) == 1
    [notice] = rig.outbox.sent
    assert "submit a new case and mention case 1000003" in notice.get_content()


async def test_reply_address_names_the_case_without_a_tag(rig: Rig) -> None:
    """A reply to the case's reply address is posted on that case with no subject tag."""
    mail = EmailMessage()
    mail["From"] = "zack.morris@bayside.example"
    mail["Subject"] = "Re: your notice"
    mail.set_content("Via the reply address.")
    address = reply_address(KEY, CASE, "zack-morris", "support-portal.local")
    await rig.inbound.receive("zack.morris@bayside.example", [address], mail.as_bytes())
    assert [post[1] for post in rig.intake.posts] == ["<p>Via the reply address.</p>"]


def test_production_refuses_the_local_reply_key() -> None:
    """In production the listener does not start without its own MAIL_REPLY_KEY."""
    settings = Settings(environment="production", mongo_url="mongodb://db.internal:27017/x")
    with pytest.raises(ProductionSettingsError, match="MAIL_REPLY_KEY is not set"):
        create_inbound_app(settings)
