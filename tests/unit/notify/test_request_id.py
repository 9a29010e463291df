"""The request id behind a mail: from its event's record to the X-Request-ID of the mail."""

from dataclasses import dataclass, field
from typing import Any

from faststream.kafka import KafkaBroker

from shared import tracing

HEX = "c0ffee0000000000000000000000beef"


@dataclass
class Record:
    """A consumed Kafka record with headers."""

    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    topic: str = "unit.case.events"
    partition: int = 0
    offset: int = 0
    key: bytes | None = None


def _record(event: Any, request_id: bytes | None) -> Record:
    headers = [("x-request-id", request_id)] if request_id is not None else []
    return Record(event.model_dump_json().encode(), [("content-type", b"json"), *headers])


async def test_each_mail_of_a_batch_carries_its_own_records_id(world: Any, make: Any) -> None:
    """Two submissions of two requests in one batch: each receipt names its request."""
    world.book.add(make.contact("ann"), make.contact("bob"))
    batch = [_record(make.submitted("ann"), HEX.encode()), _record(make.submitted("bob"), b"r-2")]
    await world.notifier.on_case_batch(batch)
    [to_ann] = world.transport.to("ann@example.org")
    [to_bob] = world.transport.to("bob@example.org")
    assert to_ann["X-Request-ID"] == HEX
    assert to_bob["X-Request-ID"] == "r-2"
    assert tracing.current() is None


async def test_a_record_without_a_plain_id_mails_without_one(world: Any, make: Any) -> None:
    """No header, or one that would inject a header of its own: the mail has no X-Request-ID."""
    world.book.add(make.contact("ann"), make.contact("bob"))
    injected = b"x\r\nBcc: everyone@example.org"
    batch = [_record(make.submitted("ann"), None), _record(make.submitted("bob"), injected)]
    await world.notifier.on_case_batch(batch)
    for address in ("ann@example.org", "bob@example.org"):
        [mail] = world.transport.to(address)
        assert "X-Request-ID" not in mail
        assert "Bcc" not in mail


async def test_a_notice_mail_carries_its_records_id(
    notify_broker: KafkaBroker, world: Any, make: Any, topics: Any
) -> None:
    """Through notify's real subscriber, the notice record's id ends up in the mail."""
    world.book.add(make.contact("in"))
    notice = make.notice(["acct-1"]).model_dump(mode="json")
    await notify_broker.publish(notice, topics.incident_events, headers={"x-request-id": HEX})
    [mail] = world.transport.to("in@example.org")
    assert mail["X-Request-ID"] == HEX


async def test_a_parked_notice_keeps_its_id_until_it_is_mailed(world: Any, make: Any) -> None:
    """Parked for want of contacts, the notice is mailed later with the id it came with."""
    with tracing.bound(HEX):
        await world.notifier.on_notice(make.notice(["acct-1"]))
    assert world.notices.parking["n-1"].request_id == HEX
    world.book.add(make.contact("late"))
    await world.notifier.retry_parked()
    [mail] = world.transport.to("late@example.org")
    assert mail["X-Request-ID"] == HEX


async def test_a_dead_lettered_mail_records_its_id(world: Any, make: Any) -> None:
    """A mail refused for good keeps the request id in its dead-letter record."""
    world.book.add(make.contact("ann"))
    world.transport.fail["ann@example.org"] = make.rejected()
    await world.notifier.on_case_batch([_record(make.submitted("ann"), HEX.encode())])
    [dead] = world.dead
    assert dead.request_id == HEX
    assert dead.to_mail().message["X-Request-ID"] == HEX
    assert dead.to_mail().request_id == HEX
