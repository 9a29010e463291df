"""Delivery with leased claims: held claims waited for, lost claims not finished, in-doubt
resends counted."""

import asyncio
from dataclasses import dataclass
from email.message import EmailMessage
from uuid import uuid4

import pytest
from prometheus_client import CollectorRegistry

from notify.delivery import Coalescer, Delivery, Fence, Leases
from notify.errors import ClaimLost, MailDeferred
from notify.mailer import BeforeEnd
from notify.models import DeadMail, Mail
from notify.store import Claims, SentStatus

from .conftest import FakeSentLog, FakeTransport

LEASES = Leases(renew_every=0.01, patience=0.05, poll=0.01)


def _mail(to: str) -> Mail:
    message = EmailMessage()
    mid = f"<{to.split('@')[0]}@test.invalid>"
    message["To"], message["Message-ID"] = to, mid
    message.set_content("body")
    return Mail(uuid4(), to, mid, "status_closed", message)


async def _nowhere(_: DeadMail) -> None:
    raise AssertionError("nothing is dead-lettered here")


def _delivery(sent: FakeSentLog, transport: FakeTransport) -> tuple[Delivery, CollectorRegistry]:
    registry = CollectorRegistry()
    return Delivery(sent, transport, _nowhere, registry, LEASES), registry


async def _no_doubt(_: Mail) -> None:
    return None


def _count(registry: CollectorRegistry, outcome: str) -> float:
    return registry.get_sample_value("notify_mails_total", {"outcome": outcome}) or 0.0


async def test_a_mail_claimed_by_a_live_sender_is_not_sent_and_is_deferred() -> None:
    """A claim another sender holds (lease running) is neither sent nor taken as done."""
    sent, transport = FakeSentLog(), FakeTransport()
    mail = _mail("ann@example.org")
    sent.hold(mail.key, SentStatus.SENDING, "other")
    delivery, _ = _delivery(sent, transport)
    assert await delivery.deliver_some([[mail]]) == {mail.key}
    assert transport.sent == []
    assert sent.owners[mail.key] == "other"


async def test_a_held_mail_recorded_sent_by_its_owner_meanwhile_is_settled() -> None:
    """While waiting, the other sender records the mail sent: nothing deferred, nothing sent."""
    sent, transport = FakeSentLog(), FakeTransport()
    mail = _mail("ann@example.org")
    sent.hold(mail.key, SentStatus.DATA, "other")
    delivery, _ = _delivery(sent, transport)

    async def owner_finishes(mails: list[Mail]) -> Claims:
        sent.status[mail.key] = SentStatus.SENT
        return await FakeSentLog.claim(sent, mails)

    sent.claim = owner_finishes  # type: ignore[method-assign]
    assert await delivery.deliver_some([[mail]]) == set()
    assert transport.sent == []


async def test_an_expired_claim_that_never_reached_data_is_resent_not_counted_in_doubt() -> None:
    """A stopped sender's claim without `data` is safe: sent once, not counted in doubt."""
    sent, transport = FakeSentLog(), FakeTransport()
    mail = _mail("ann@example.org")
    sent.hold(mail.key, SentStatus.SENDING, "crashed", ended=True)
    delivery, registry = _delivery(sent, transport)
    assert await delivery.deliver_some([[mail]]) == set()
    assert transport.to("ann@example.org") != []
    assert sent.status[mail.key] is SentStatus.SENT
    assert _count(registry, "in_doubt") == 0


async def test_an_expired_claim_past_data_is_resent_and_counted_in_doubt() -> None:
    """A stopped sender's claim in `data` is sent again with the same Message-ID, counted."""
    sent, transport = FakeSentLog(), FakeTransport()
    mail = _mail("ann@example.org")
    sent.hold(mail.key, SentStatus.DATA, "crashed", ended=True)
    delivery, registry = _delivery(sent, transport)
    assert await delivery.deliver_some([[mail]]) == set()
    [again] = transport.to("ann@example.org")
    assert again["Message-ID"] == mail.message_id
    assert _count(registry, "in_doubt") == 1


async def test_a_claim_taken_over_before_its_fence_is_not_sent() -> None:
    """When the fence finds the claim taken over, the mail is not sent by us and is deferred."""

    class TakenOver(FakeSentLog):
        async def claim(self, mails: list[Mail]) -> Claims:
            claims = await super().claim(mails)
            self.owners |= dict.fromkeys((m.key for m in mails), "other")  # our lease ended
            return claims

    sent, transport = TakenOver(), FakeTransport()
    mail = _mail("ann@example.org")
    delivery, _ = _delivery(sent, transport)
    assert await delivery.deliver_some([[mail]]) == {mail.key}
    assert transport.sent == []
    assert sent.status[mail.key] is SentStatus.SENDING


async def test_a_retry_fences_again_and_stops_when_the_claim_was_taken_over() -> None:
    """A second attempt writes `data` again; a claim taken over meanwhile stops it."""
    sent = FakeSentLog()
    mail = _mail("ann@example.org")
    await sent.claim([mail])

    async def begin(key: str) -> bool:
        return key in await sent.begin_data([key])

    before_end = Fence(begin, mail, _no_doubt, fenced=True)
    await before_end()  # first attempt: the caller fenced already, no write
    assert sent.status[mail.key] is SentStatus.SENDING
    sent.owners[mail.key] = "other"
    with pytest.raises(ClaimLost):
        await before_end()


async def test_a_deferred_mail_is_released_for_the_redelivery() -> None:
    """SMTP down: the claim is released, so the retried event takes it at once and sends it."""
    sent, transport = FakeSentLog(), FakeTransport(down=True)
    mail = _mail("ann@example.org")
    delivery, _ = _delivery(sent, transport)
    assert await delivery.deliver_some([[mail]]) == {mail.key}
    assert mail.key in sent.ended
    assert sent.status[mail.key] is SentStatus.SENDING  # no end of data went out: not in doubt
    other = FakeSentLog(owner="restarted", status=sent.status, owners=sent.owners, ended=sent.ended)
    transport.down = False
    again, registry = _delivery(other, transport)
    assert await again.deliver_some([[mail]]) == set()
    assert len(transport.to("ann@example.org")) == 1
    assert _count(registry, "in_doubt") == 0


async def test_a_mail_deferred_after_its_end_of_data_went_out_stays_in_doubt() -> None:
    """The connection died after the dot: released, but left `data` for the next sender."""

    class DiesAfterTheDot(FakeTransport):
        async def send(
            self, message: EmailMessage, recipient: str, before_end: BeforeEnd | None = None
        ) -> None:
            assert before_end is not None
            await before_end()
            raise MailDeferred("connection lost waiting for the reply to the dot")

    sent = FakeSentLog()
    mail = _mail("ann@example.org")
    delivery, _ = _delivery(sent, DiesAfterTheDot())
    assert await delivery.deliver_some([[mail]]) == {mail.key}
    assert (sent.status[mail.key], mail.key in sent.ended) == (SentStatus.DATA, True)


class Slow(FakeTransport):
    """Holds every send until `gate` opens."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def send(
        self, message: EmailMessage, recipient: str, before_end: BeforeEnd | None = None
    ) -> None:
        await self.gate.wait()
        await super().send(message, recipient, before_end)


async def test_the_same_mail_redelivered_while_its_send_runs_is_sent_once() -> None:
    """A second delivery of a mail this process is still sending waits for it; one send."""
    sent, transport = FakeSentLog(), Slow()
    mail = _mail("ann@example.org")
    delivery, _ = _delivery(sent, transport)
    first = asyncio.create_task(delivery.deliver_some([[mail]]))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(delivery.deliver_some([[mail]]))
    await asyncio.sleep(0.02)
    transport.gate.set()
    assert await first == set()
    assert await second == set()
    assert len(transport.to("ann@example.org")) == 1


async def test_leases_are_renewed_while_a_send_runs() -> None:
    """A send that takes several renewal periods keeps renewing its claim."""
    sent, transport = FakeSentLog(), Slow()
    delivery, _ = _delivery(sent, transport)
    task = asyncio.create_task(delivery.deliver_some([[_mail("ann@example.org")]]))
    await asyncio.sleep(0.05)
    transport.gate.set()
    await task
    assert sent.renewals >= 2


async def test_a_mail_listed_twice_in_one_delivery_is_sent_once() -> None:
    """The same (event, recipient) twice in one call, same wave or not: one send."""
    sent, transport = FakeSentLog(), FakeTransport()
    mail = _mail("ann@example.org")
    delivery, _ = _delivery(sent, transport)
    assert await delivery.deliver_some([[mail, mail], [mail]]) == set()
    assert len(transport.to("ann@example.org")) == 1


async def test_every_attempt_after_the_first_at_the_end_of_data_is_in_doubt() -> None:
    """A retry after the dot may have gone out (connection lost) is asked about each time."""
    sent, transport = FakeSentLog(), FakeTransport()
    mail = _mail("ann@example.org")
    await sent.claim([mail])
    doubts: list[Mail] = []

    async def begin(key: str) -> bool:
        return key in await sent.begin_data([key])

    async def doubt(m: Mail) -> None:
        doubts.append(m)

    before_end = Fence(begin, mail, doubt)
    for _ in range(3):
        await before_end()
    assert doubts == [mail, mail]
    await transport.send(mail.message, mail.recipient, before_end)
    assert sent.status[mail.key] is SentStatus.DATA


class Receipts:
    """A mail store that holds `stored` and cannot tell when `blind`."""

    def __init__(self, stored: set[str], blind: bool = False) -> None:
        self.stored, self.blind, self.asked = stored, blind, list[str]()

    async def holds(self, message_id: str, recipient: str) -> bool | None:
        self.asked.append(message_id)
        return None if self.blind else message_id in self.stored


def _with_receipts(
    sent: FakeSentLog, transport: FakeTransport, receipts: Receipts
) -> tuple[Delivery, CollectorRegistry]:
    registry = CollectorRegistry()
    return Delivery(sent, transport, _nowhere, registry, LEASES, receipts=receipts), registry


@dataclass
class Takeover:
    """A crashed sender's claim on one mail, delivered by us: what came of it."""

    mail: Mail
    sent: FakeSentLog
    transport: FakeTransport
    registry: CollectorRegistry

    def count(self, outcome: str) -> float:
        return _count(self.registry, outcome)


async def _take_over(status: SentStatus, receipts: Receipts) -> Takeover:
    """Deliver a mail whose claim a crashed sender left in `status` (nothing deferred)."""
    sent, transport = FakeSentLog(), FakeTransport()
    mail = _mail("ann@example.org")
    sent.hold(mail.key, status, "crashed", ended=True)
    delivery, registry = _with_receipts(sent, transport, receipts)
    assert await delivery.deliver_some([[mail]]) == set()
    assert sent.status[mail.key] is SentStatus.SENT
    return Takeover(mail, sent, transport, registry)


async def test_an_in_doubt_mail_the_store_holds_is_recorded_sent_not_resent() -> None:
    """Taken over in `data` and found at the mail store: sent, counted confirmed, not mailed."""
    done = await _take_over(SentStatus.DATA, Receipts({"<ann@test.invalid>"}))
    assert done.transport.sent == []
    assert (done.count("confirmed"), done.count("in_doubt")) == (1, 0)


async def test_an_in_doubt_mail_the_store_lacks_is_sent_once_not_counted_in_doubt() -> None:
    """Taken over in `data`, not at the mail store: its end of data never arrived; sent."""
    receipts = Receipts(set())
    done = await _take_over(SentStatus.DATA, receipts)
    assert len(done.transport.to("ann@example.org")) == 1
    assert receipts.asked == [done.mail.message_id]
    assert (done.count("confirmed"), done.count("in_doubt")) == (0, 0)


async def test_an_in_doubt_mail_is_resent_and_counted_when_the_store_cannot_tell() -> None:
    """A lookup that fails leaves the mail in doubt: resent, same Message-ID, counted."""
    done = await _take_over(SentStatus.DATA, Receipts(set(), blind=True))
    [again] = done.transport.to("ann@example.org")
    assert again["Message-ID"] == done.mail.message_id
    assert done.count("in_doubt") == 1


async def test_an_in_doubt_mail_is_counted_only_when_its_end_of_data_goes_out() -> None:
    """Store and SMTP both away: the mail is deferred, still in doubt, not yet counted."""
    sent, transport = FakeSentLog(), FakeTransport(down=True)
    mail = _mail("ann@example.org")
    sent.hold(mail.key, SentStatus.DATA, "crashed", ended=True)
    delivery, registry = _with_receipts(sent, transport, Receipts(set(), blind=True))
    assert await delivery.deliver_some([[mail]]) == {mail.key}
    assert sent.status[mail.key] is SentStatus.DATA
    assert _count(registry, "in_doubt") == 0


async def test_a_claim_that_never_reached_data_is_sent_without_asking_the_store() -> None:
    """Only `data` claims can be at the mail store: the lookup is not asked for the others."""
    receipts = Receipts({"<ann@test.invalid>"})
    done = await _take_over(SentStatus.SENDING, receipts)
    assert len(done.transport.to("ann@example.org")) == 1
    assert receipts.asked == []


async def test_a_retry_whose_first_end_of_data_was_stored_is_not_sent_again() -> None:
    """Connection lost after the dot, the store holds the mail: the retry stops, mail sent."""
    sent = FakeSentLog()
    mail = _mail("ann@example.org")
    receipts = Receipts({mail.message_id})

    class LostReply(FakeTransport):
        async def send(
            self, message: EmailMessage, recipient: str, before_end: BeforeEnd | None = None
        ) -> None:
            assert before_end is not None
            await before_end()  # first attempt: the dot goes out, the reply is lost
            await before_end()  # the retry asks the store first
            raise AssertionError("the retry went out")

    delivery, registry = _with_receipts(sent, LostReply(), receipts)
    assert await delivery.deliver_some([[mail]]) == set()
    assert sent.status[mail.key] is SentStatus.SENT
    assert _count(registry, "confirmed") == 1


async def test_marks_added_while_a_write_is_in_flight_share_the_next_write() -> None:
    """Concurrent marks are written in few round trips, and each caller waits for its own."""
    writes: list[list[str]] = []

    async def write(keys: list[str]) -> set[str]:
        writes.append(keys)
        await asyncio.sleep(0.01)
        return {key for key in keys if key != "k3"}

    coalescer = Coalescer(write)
    taken = await asyncio.gather(*(coalescer.add(f"k{n}") for n in range(10)))
    assert sorted(k for batch in writes for k in batch) == sorted(f"k{n}" for n in range(10))
    assert len(writes) <= 2  # not one round trip per mail
    assert taken == [n != 3 for n in range(10)]


async def test_a_failed_write_fails_every_caller_of_that_write() -> None:
    """A write that failed raises for the callers whose keys it carried."""

    async def write(keys: list[str]) -> set[str]:
        raise ConnectionError("mongo down")

    coalescer = Coalescer(write)
    results = await asyncio.gather(coalescer.add("a"), coalescer.add("b"), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
