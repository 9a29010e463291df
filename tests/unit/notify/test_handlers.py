"""Notify's subscribers through the in-memory broker, with fake stores, directory and SMTP."""

import json
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from pymongo.errors import OperationFailure

from notify.errors import MailDeferred, RecipientPending
from notify.logic import LOCAL_REPLY_KEY, Threading, message_id
from notify.store import SentStatus
from shared import replies
from shared.enums import ContactType, NoticeKind, Status
from shared.events import CommandRejected
from shared.kafka import Transient


async def _publish(broker: KafkaBroker, topics: Any, *events: Any) -> None:
    for event in events:
        topic = topics.incident_events if hasattr(event, "notice") else topics.case_events
        await broker.publish(event.model_dump(mode="json"), topic)


def _setup(world: Any, make: Any) -> Any:
    owner, ann, bob = make.contact("owner"), make.contact("ann"), make.contact("bob")
    world.book.add(owner, ann, bob)
    return make.submitted("owner")


async def test_submitted_case_mails_owner_its_number(
    notify_broker: KafkaBroker, world: Any, make: Any, topics: Any
) -> None:
    """A submitted case sends the owner one 'case received' mail naming the case number."""
    case = _setup(world, make)
    await _publish(notify_broker, topics, case)
    [mail] = world.transport.to("owner@example.org")
    assert mail["X-Support-Template"] == "case_received"
    assert "1227963" in str(mail["Subject"])
    assert mail["Message-ID"] == world.cases.views[case.case_id].root_message_id


async def test_status_change_mails_each_recipient_once_with_its_template(
    notify_broker: KafkaBroker, world: Any, make: Any, topics: Any
) -> None:
    """Every current recipient gets exactly one mail for a status change, threaded to the case."""
    case = _setup(world, make)
    added = make.recipients(case.case_id, ["owner", "ann", "bob"], ["ann", "bob"], [])
    change = make.status(case.case_id, Status.PENDING_CUSTOMER_VERIFICATION, note="Fixed it.")
    await _publish(notify_broker, topics, case, added, change)
    for who in ("owner", "ann", "bob"):
        templates = world.transport.templates(f"{who}@example.org")
        assert templates.count("status_pending_customer_verification") == 1
    mail = world.transport.to("ann@example.org")[-1]
    assert mail["In-Reply-To"] == world.cases.views[case.case_id].root_message_id
    text = mail.get_body(("plain",)).get_content()
    assert "close the case" in text
    assert "10 business days" in text


async def test_redelivered_status_change_mails_once(
    notify_broker: KafkaBroker, world: Any, make: Any, topics: Any
) -> None:
    """A StatusChanged delivered twice sends one email per recipient."""
    case = _setup(world, make)
    change = make.status(case.case_id, Status.SCHEDULED)
    await _publish(notify_broker, topics, case, change, change)
    assert world.transport.templates("owner@example.org") == ["case_received", "status_scheduled"]


async def test_removed_recipient_gets_nothing_further(
    notify_broker: KafkaBroker, world: Any, make: Any, topics: Any
) -> None:
    """After removal a recipient receives no more mail; the owner stays even if 'removed'."""
    case = _setup(world, make)
    both = make.recipients(case.case_id, ["owner", "ann"], ["ann"], [])
    gone = make.recipients(case.case_id, [], [], ["ann", "owner"])
    await _publish(notify_broker, topics, case, both, gone)
    await _publish(notify_broker, topics, make.status(case.case_id, Status.CLOSED))
    assert world.transport.templates("ann@example.org") == ["recipient_added"]
    assert world.transport.templates("owner@example.org")[-1] == "status_closed"


async def test_contact_post_mails_nobody_staff_post_mails_recipients(
    notify_broker: KafkaBroker, world: Any, make: Any, topics: Any
) -> None:
    """A staff post is mailed with its text; a contact's own post is not mailed."""
    case = _setup(world, make)
    own = make.post(case.case_id, make.actor_of(world.book.people["owner"]), "my own words")
    staff = make.post(case.case_id, make.staff, "Clear the cache <b>first</b>.")
    await _publish(notify_broker, topics, case, own, staff)
    assert world.transport.templates("owner@example.org") == ["case_received", "staff_post"]
    mail = world.transport.to("owner@example.org")[-1]
    assert "Clear the cache <b>first</b>." in mail.get_body(("plain",)).get_content()
    assert "&lt;b&gt;first" in mail.get_body(("html",)).get_content()


async def test_permanent_refusal_is_dead_lettered_and_others_still_sent(
    notify_broker: KafkaBroker, world: Any, make: Any, topics: Any
) -> None:
    """A 5xx for one recipient dead-letters that mail with its reason; the rest go out."""
    case = _setup(world, make)
    world.transport.fail["ann@example.org"] = make.rejected(550)
    added = make.recipients(case.case_id, ["owner", "ann"], ["ann"], [])
    change = make.status(case.case_id, Status.SCHEDULED)
    await _publish(notify_broker, topics, case, added, change)
    assert world.transport.templates("owner@example.org")[-1] == "status_scheduled"
    assert [d.template for d in world.dead] == ["recipient_added", "status_scheduled"]
    assert world.dead[1].smtp_code == 550
    assert world.sent.status[world.dead[1].key] is SentStatus.DEAD
    assert world.dead[1].to_mail().message_id == world.dead[1].message_id


async def test_smtp_down_defers_then_sends_each_mail_once(world: Any, make: Any) -> None:
    """While SMTP is unreachable the event raises a transient fault; redelivered later it
    sends every mail once, including ones a partial attempt already sent."""
    case = _setup(world, make)
    await world.notifier.on_case_event(case)
    await world.notifier.on_case_event(make.recipients(case.case_id, ["owner", "ann"], ["ann"], []))
    change = make.status(case.case_id, Status.RE_OPENED, frm=Status.CLOSED)
    world.transport.fail["ann@example.org"] = MailDeferred("connection reset")
    with pytest.raises(MailDeferred):
        await world.notifier.on_case_event(change)
    del world.transport.fail["ann@example.org"]
    await world.notifier.on_case_event(change)
    assert world.transport.templates("ann@example.org").count("status_re_opened") == 1
    assert world.transport.templates("owner@example.org").count("status_re_opened") == 1


async def test_command_rejection_mails_only_the_contact_who_sent_it(world: Any, make: Any) -> None:
    """A refused contact command is explained to that contact alone; a staff one to nobody."""
    case = _setup(world, make)
    await world.notifier.on_case_event(case)
    await world.notifier.on_case_event(make.recipients(case.case_id, ["owner", "ann"], ["ann"], []))
    for actor in (make.actor_of(world.book.people["bob"]), make.staff):
        refused = CommandRejected(
            case_id=case.case_id,
            command_id=case.event_id,
            command_type="case.reopen",
            reason="the 60-day reopen window has passed",
            actor=actor,
        )
        await world.notifier.on_case_event(refused)
    assert world.transport.templates("bob@example.org") == ["command_rejected"]
    assert "command_rejected" not in world.transport.templates("owner@example.org")


async def test_auto_close_by_the_timer_uses_the_auto_close_notice(world: Any, make: Any) -> None:
    """A close by the system reads as the auto-close notice; one by a person does not."""
    case = _setup(world, make)
    await world.notifier.on_case_event(case)
    await world.notifier.on_case_event(
        make.status(
            case.case_id, Status.CLOSED, Status.PENDING_CUSTOMER_VERIFICATION, actor=make.system
        )
    )
    assert world.transport.templates("owner@example.org")[-1] == "status_auto_closed"


async def test_notice_mails_authorized_contacts_of_affected_districts(
    notify_broker: KafkaBroker, world: Any, make: Any, topics: Any
) -> None:
    """An incident goes to active authorized contacts of affected districts only, once per
    revision."""
    world.book.add(
        make.contact("in"),
        make.contact("reader", kind=ContactType.READ_ONLY),
        make.contact("other", account="acct-2"),
        make.contact("gone", active=False),
    )
    world.book.zones["acct-1"] = "America/Denver"
    await _publish(notify_broker, topics, make.notice(["acct-1"]), make.notice(["acct-1"]))
    assert [r for r, _ in world.transport.sent] == ["in@example.org"]
    mail = world.transport.to("in@example.org")[0]
    assert mail["X-Support-Template"] == "notice_incident"
    assert "MST" in mail.get_body(("plain",)).get_content()


async def test_notice_for_every_district_reaches_all_authorized_contacts(
    world: Any, make: Any
) -> None:
    """No affected districts listed means every district's authorized contacts are mailed."""
    world.book.add(make.contact("a"), make.contact("b", account="acct-2"))
    await world.notifier.on_notice(make.notice([], kind=NoticeKind.MAINTENANCE))
    assert sorted(r for r, _ in world.transport.sent) == ["a@example.org", "b@example.org"]
    assert world.transport.templates("b@example.org") == ["notice_maintenance"]


async def test_unknown_recipient_of_a_recent_event_is_retried(world: Any, make: Any) -> None:
    """A recipient the directory does not know yet makes a fresh event retry, not skip."""
    case = make.submitted("newcomer")
    with pytest.raises(RecipientPending):
        await world.notifier.on_case_event(case)
    world.book.add(make.contact("newcomer"))
    await world.notifier.on_case_event(case)
    assert world.transport.templates("newcomer@example.org") == ["case_received"]


async def test_old_events_update_the_view_but_mail_nobody(world: Any, make: Any) -> None:
    """Replaying week-old history rebuilds views without mailing anyone."""
    case = _setup(world, make)
    old = make.now - timedelta(days=30)
    await world.notifier.on_case_event(make.submitted("owner", case.case_id, occurred_at=old))
    await world.notifier.on_case_event(make.status(case.case_id, Status.SCHEDULED, occurred_at=old))
    assert world.transport.sent == []
    assert world.cases.views[case.case_id].last_status is Status.SCHEDULED


async def test_case_message_ids_are_signed_per_event_and_recipient(world: Any, make: Any) -> None:
    """A case mail's Message-ID is shared.replies' signed id of the case (so intake traces a
    reply to it), derived from its event and recipient: the same on a resend, another for
    another recipient; the receipt's is the id of the case.submitted event."""
    case = _setup(world, make)
    added = make.recipients(case.case_id, ["owner", "ann"], ["ann"], [])
    change = make.status(case.case_id, Status.SCHEDULED)
    for event in (case, added, change):
        await world.notifier.on_case_event(event)
    receipt, mail = world.transport.to("owner@example.org")
    key = LOCAL_REPLY_KEY
    root = replies.message_id(key, case.case_id, case.event_id, make.domain)
    assert receipt["Message-ID"] == root
    assert replies.case_of_message_id(key, mail["Message-ID"]) == case.case_id
    assert mail["Message-ID"] == Threading(key, make.domain, make.domain).message_id(
        case.case_id, change.event_id, "Owner@Example.org "
    )
    assert mail["Message-ID"] != world.transport.to("ann@example.org")[-1]["Message-ID"]


@dataclass
class FakeRecord:
    """A consumed Kafka record."""

    value: bytes | None
    topic: str = "unit.case.events"
    partition: int = 0
    offset: int = 0
    key: bytes | None = None


def _record(event: Any, offset: int = 0) -> FakeRecord:
    return FakeRecord(event.model_dump_json().encode(), offset=offset)


async def test_poison_event_in_a_batch_is_dead_lettered_alone(world: Any, make: Any) -> None:
    """A malformed event is dead-lettered by itself; an unknown type is skipped; the valid
    events of the same batch are mailed."""
    case = _setup(world, make)
    bad = json.loads(case.model_dump_json()) | {"case_id": "not-a-uuid"}
    unknown = json.loads(case.model_dump_json()) | {"type": "case.invented_later"}
    batch = [
        FakeRecord(json.dumps(bad).encode(), offset=0),
        FakeRecord(json.dumps(unknown).encode(), offset=1),
        _record(case, offset=2),
    ]
    await world.notifier.on_case_batch(batch)
    assert [record.offset for record, _ in world.poisoned] == [0]
    assert world.transport.templates("owner@example.org") == ["case_received"]


async def test_transient_fault_holds_its_case_and_fails_the_batch(world: Any, make: Any) -> None:
    """SMTP trouble for one case keeps that case's stored view unchanged and fails the batch
    for redelivery; another case in the batch is mailed and stored, and nothing doubles."""
    case = _setup(world, make)
    world.book.add(make.contact("zed"))
    other = make.submitted("zed")
    world.transport.fail["owner@example.org"] = MailDeferred("connection refused")
    later = make.status(case.case_id, Status.SCHEDULED)
    with pytest.raises(MailDeferred):
        await world.notifier.on_case_batch([_record(case), _record(later, 1), _record(other, 2)])
    assert world.transport.templates("zed@example.org") == ["case_received"]
    assert case.case_id not in world.cases.views
    assert other.case_id in world.cases.views
    del world.transport.fail["owner@example.org"]
    await world.notifier.on_case_batch([_record(case), _record(later, 1), _record(other, 2)])
    assert world.transport.templates("owner@example.org") == ["case_received", "status_scheduled"]
    assert world.transport.templates("zed@example.org") == ["case_received"]


async def test_a_batch_mails_each_recipient_a_cases_events_in_order(world: Any, make: Any) -> None:
    """Cases of one batch are worked in parallel, yet each case's mail goes out in order."""
    world.notifier.concurrency = 2
    batch: list[Any] = []
    for who in ("amy", "ben", "cat"):
        world.book.add(make.contact(who))
        case = make.submitted(who)
        changes = [Status.ASSIGNED, Status.SCHEDULED, Status.CLOSED]
        previous = Status.NEW
        batch.append(case)
        for to in changes:
            batch.append(make.status(case.case_id, to, previous))
            previous = to
    await world.notifier.on_case_batch([_record(e, n) for n, e in enumerate(batch)])
    for who in ("amy", "ben", "cat"):
        assert world.transport.templates(f"{who}@example.org") == [
            "case_received",
            "status_changed",
            "status_scheduled",
            "status_closed",
        ]


async def test_a_notice_with_nobody_to_mail_does_not_hold_back_the_next(
    notify_broker: KafkaBroker, world: Any, make: Any, topics: Any
) -> None:
    """A notice whose districts match no contact is parked at once, not retried in place: the
    notice after it on the partition is mailed in the same pass."""
    world.book.add(make.contact("in"))
    nobody = make.notice(["acct-without-contacts"], notice_id="n-nobody")
    normal = make.notice(["acct-1"], notice_id="n-normal")
    await _publish(notify_broker, topics, nobody, normal)
    assert world.transport.templates("in@example.org") == ["notice_incident"]
    assert world.notices.revisions == {"n-normal": 1}
    assert list(world.notices.parking) == ["n-nobody"]


async def test_a_parked_notice_is_mailed_once_its_contacts_arrive(world: Any, make: Any) -> None:
    """A directory still loading costs no mail: the parked notice goes out when its contact
    shows up within the grace, and is then no longer parked."""
    await world.notifier.on_notice(make.notice(["acct-1"]))
    await world.notifier.retry_parked()
    assert world.transport.sent == []
    world.book.add(make.contact("late"))
    await world.notifier.retry_parked()
    await world.notifier.retry_parked()
    assert world.transport.templates("late@example.org") == ["notice_incident"]
    assert world.notices.revisions == {"n-1": 1}
    assert world.notices.parking == {}


async def test_a_parked_notice_is_given_up_after_the_grace(world: Any, make: Any) -> None:
    """With still nobody to mail once the grace has passed, the notice counts as mailed to
    nobody: a contact added later does not get an old revision."""
    await world.notifier.on_notice(make.notice(["acct-1"]))
    world.notifier.timing = replace(
        world.notifier.timing, clock=lambda: make.now + timedelta(hours=1)
    )
    await world.notifier.retry_parked()
    assert world.notices.parking == {}
    assert world.notices.revisions == {"n-1": 1}
    world.book.add(make.contact("later"))
    await world.notifier.retry_parked()
    await world.notifier.on_notice(make.notice(["acct-1"]))
    assert world.transport.sent == []


async def test_a_newer_revision_replaces_the_parked_one(world: Any, make: Any) -> None:
    """A parked revision is dropped once a newer one is mailed; only the newer one is sent."""
    await world.notifier.on_notice(make.notice(["acct-1"], revision=1))
    world.book.add(make.contact("in"))
    await world.notifier.on_notice(make.notice(["acct-1"], revision=2))
    await world.notifier.retry_parked()
    assert len(world.transport.to("in@example.org")) == 1
    assert world.notices.revisions == {"n-1": 2}
    assert world.notices.parking == {}


async def test_a_repeat_of_a_parked_revision_mails_the_first_event(world: Any, make: Any) -> None:
    """The same revision arriving again once its contacts are known mails the parked event
    (its Message-ID), once; an older revision than the parked one is not news."""
    first = make.notice(["acct-1"], revision=2)
    await world.notifier.on_notice(first)
    await world.notifier.on_notice(make.notice(["acct-1"], revision=1))
    world.book.add(make.contact("in"))
    await world.notifier.on_notice(make.notice(["acct-1"], revision=2))
    await world.notifier.retry_parked()
    [mail] = world.transport.to("in@example.org")
    assert mail["Message-ID"] == message_id(first.event_id, "in@example.org", make.domain)
    assert world.notices.parking == {}


async def test_a_parked_notice_that_fails_for_good_does_not_hold_back_the_others(
    world: Any, make: Any
) -> None:
    """A parked notice whose mail breaks is dropped; the one parked after it is mailed."""
    await world.notifier.on_notice(make.notice(["acct-1"], notice_id="n-bad"))
    await world.notifier.on_notice(make.notice(["acct-2"], notice_id="n-good"))
    world.book.add(make.contact("x"), make.contact("y", account="acct-2"))
    world.transport.fail["x@example.org"] = RuntimeError("template bug")
    await world.notifier.retry_parked()
    assert world.transport.templates("y@example.org") == ["notice_incident"]
    assert world.notices.parking == {}


async def test_a_parked_notice_stays_parked_while_smtp_is_down(world: Any, make: Any) -> None:
    """A retry that cannot send keeps the notice parked, past its grace too: it has people."""
    await world.notifier.on_notice(make.notice(["acct-1"]))
    world.book.add(make.contact("in"))
    world.transport.down = True
    world.notifier.timing = replace(
        world.notifier.timing, clock=lambda: make.now + timedelta(hours=1)
    )
    with pytest.raises(MailDeferred):
        await world.notifier.retry_parked()
    assert list(world.notices.parking) == ["n-1"]
    world.transport.down = False
    await world.notifier.retry_parked()
    assert world.transport.templates("in@example.org") == ["notice_incident"]


async def test_a_store_fault_fails_the_batch_as_transient(world: Any, make: Any) -> None:
    """A Mongo error is a transient fault (the batch is retried), never a dead letter."""

    async def broken(case_ids: list[Any]) -> dict[Any, Any]:
        raise OperationFailure("not primary")

    world.cases.many = broken
    with pytest.raises(Transient):
        await world.notifier.on_case_batch([_record(make.submitted("owner"))])
    assert world.poisoned == []
