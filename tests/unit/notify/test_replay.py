"""Replaying dead mail: sent once, skipped when already sent, kept dead when refused again."""

from datetime import UTC, datetime
from email.message import EmailMessage
from uuid import uuid4

from notify.errors import MailRejected
from notify.mailer import BeforeEnd
from notify.models import DeadMail, Mail
from notify.service import replay
from notify.store import SentStatus


class FakeLog:
    """Sent statuses in a dict."""

    def __init__(self) -> None:
        self.status: dict[str, SentStatus] = {}

    async def claim_replay(self, mail: Mail) -> bool:
        if self.status.get(mail.key) is SentStatus.SENT:
            return False
        self.status[mail.key] = SentStatus.SENDING
        return True

    async def begin_data(self, keys: list[str]) -> set[str]:
        self.status |= dict.fromkeys(keys, SentStatus.DATA)
        return set(keys)

    async def mark(self, keys: list[str], status: SentStatus, reason: str = "") -> None:
        for key in keys:
            self.status[key] = status


def _dead(to: str) -> DeadMail:
    mid = f"<{to.split('@')[0]}@test.invalid>"
    message = EmailMessage()
    message["To"], message["Subject"], message["Message-ID"] = to, "Case 1", mid
    message.set_content("body")
    mail = Mail(uuid4(), to, mid, "status_closed", message)
    return DeadMail.of(mail, "550 no such mailbox", 550, datetime.now(UTC))


async def test_replay_sends_each_dead_mail_once_as_it_was() -> None:
    """A dead mail listed twice is sent once, with its original Message-ID and subject."""
    sent: list[tuple[str, EmailMessage]] = []

    class Transport:
        async def send(
            self, message: EmailMessage, recipient: str, before_end: BeforeEnd | None = None
        ) -> None:
            if before_end is not None:
                await before_end()
            sent.append((recipient, message))

    dead = _dead("ann@example.org")
    log = FakeLog()
    report = await replay([dead, dead], log, Transport())
    assert (report.delivered, report.already_sent, report.failed) == (1, 1, 0)
    assert [(r, m["Message-ID"], m["Subject"]) for r, m in sent] == [
        ("ann@example.org", "<ann@test.invalid>", "Case 1")
    ]
    assert log.status[dead.key] is SentStatus.SENT


async def test_mail_refused_again_stays_dead() -> None:
    """A replay that is refused again is counted as failed and left dead for the next one."""

    class Refusing:
        async def send(
            self, message: EmailMessage, recipient: str, before_end: BeforeEnd | None = None
        ) -> None:
            raise MailRejected(550, "still no such mailbox")

    dead = _dead("gone@example.org")
    log = FakeLog()
    report = await replay([dead], log, Refusing())
    assert report.failed == 1
    assert log.status[dead.key] is SentStatus.DEAD
