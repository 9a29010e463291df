"""`python -m notify replay-dlq`: send dead-lettered mail again; the sent log stops doubles."""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from notify.delivery import Fence
from notify.errors import ClaimLost, MailDeferred, MailRejected
from notify.mailer import Transport
from notify.models import DeadMail, Mail
from notify.store import SentStatus

log = logging.getLogger("notify.replay")


@dataclass
class ReplayReport:
    """How a replay went."""

    delivered: int = 0
    already_sent: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return (
            f"replayed dead mail: {self.delivered} delivered, "
            f"{self.already_sent} already sent, {self.failed} failed again"
        )


async def read_all(bootstrap: str, topic: str) -> list[DeadMail]:
    """Every dead mail on `topic` up to its end when the replay started (no group, no commit:
    the topic stays the record; the sent log makes a second replay harmless)."""
    partitions = [TopicPartition(topic, p) for p in await _partitions(bootstrap, topic)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        return [_decode(r) for r in await _drain(consumer, partitions)]
    finally:
        await consumer.stop()


async def _drain(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
) -> list[ConsumerRecord[bytes, bytes]]:
    if not partitions:
        return []
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    end = await consumer.end_offsets(partitions)
    records: list[ConsumerRecord[bytes, bytes]] = []
    while await _behind(consumer, partitions, end):
        for batch in (await consumer.getmany(timeout_ms=1000)).values():
            records.extend(r for r in batch if r.offset < end[TopicPartition(r.topic, r.partition)])
    return records


async def _behind(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], end: dict[TopicPartition, int]
) -> bool:
    for partition in partitions:
        if await consumer.position(partition) < end[partition]:
            return True
    return False


async def _partitions(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for t in described if t["topic"] == topic for p in t["partitions"])


def _decode(record: ConsumerRecord[bytes, bytes]) -> DeadMail:
    return DeadMail.model_validate_json(record.value or b"{}")


class ReplayLog(Protocol):
    """The sent log as a replay uses it."""

    async def claim_replay(self, mail: Mail) -> bool:
        """Take the mail back for sending; False when it was sent meanwhile."""
        ...

    async def begin_data(self, keys: list[str]) -> set[str]:
        """Record that these mails' end of data may go out; the keys still ours."""
        ...

    async def mark(self, keys: list[str], status: SentStatus, reason: str = "") -> None:
        """Set the status of these keys."""
        ...


async def replay(dead: list[DeadMail], sent: ReplayLog, transport: Transport) -> ReplayReport:
    """Send each dead mail not sent since; a mail that fails again stays dead (and on the
    topic, for the next replay)."""
    report = ReplayReport()
    for item in dead:
        mail = item.to_mail()
        if not await sent.claim_replay(mail):
            report.already_sent += 1
            continue
        try:
            await transport.send(mail.message, mail.recipient, Fence(_one(sent), mail, _doubt))
        except (MailRejected, MailDeferred, ClaimLost) as exc:
            await sent.mark([mail.key], SentStatus.DEAD, str(exc))
            report.failed += 1
            log.error("replay of %s to %s failed: %s", mail.message_id, mail.recipient, exc)
            continue
        await sent.mark([mail.key], SentStatus.SENT)
        report.delivered += 1
    return report


def _one(sent: ReplayLog) -> Callable[[str], Awaitable[bool]]:
    async def begin_data(key: str) -> bool:
        return key in await sent.begin_data([key])

    return begin_data


async def _doubt(mail: Mail) -> None:
    log.warning("in-doubt resend of %s to %s (same Message-ID)", mail.message_id, mail.recipient)
