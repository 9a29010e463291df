"""Notify on the real stack: a notice with nobody to mail holds back no other (issue 13,
item 10)."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from notify.logic import message_id
from shared.enums import NoticeKind, NoticeStatus
from shared.events import Contact, ContactUpserted, Notice, NoticePublished

from .conftest import DOMAIN, Mailbox, Scenario, eventually


async def _arrived(mailbox: Mailbox, person: Contact, event_id: UUID) -> dict[str, Any]:
    """The sink's entry of the mail `event_id` sent to `person`, once it is there."""
    address, mid = str(person.email), message_id(event_id, str(person.email), DOMAIN)

    async def found() -> list[dict[str, Any]]:
        return [e for e in await mailbox.to(address) if e["message_id"] == mid]

    [entry] = await eventually(found, f"{mid} to {address}")
    return dict(entry)


async def test_a_notice_with_no_matching_contact_does_not_hold_back_the_next(
    scenario: Scenario, mailbox: Mailbox, spawn: Any
) -> None:
    """With a grace of ten minutes, a notice whose district has no contact is set aside: the
    notice after it on the partition is mailed within the normal wait. The one set aside is
    mailed once a contact of its district arrives (a directory still loading loses no mail)."""
    await spawn(NOTIFY_DIRECTORY_GRACE_SECONDS="600").ready()
    [admin] = await scenario.people("admin")
    empty = f"acct-empty-{scenario.tag}"
    first = _notice(f"n-empty-{scenario.tag}", empty)
    second = _notice(f"n-full-{scenario.tag}", admin.account_ids[0])
    for event in (first, second):
        await scenario.send(scenario.topics.incident_events, event, event.notice.id)
    await _arrived(mailbox, admin, second.event_id)  # not held back by the first
    late = scenario.contact("late").model_copy(update={"account_ids": [empty]})
    await scenario.send(scenario.topics.directory, ContactUpserted(contact=late), late.id)
    await _arrived(mailbox, late, first.event_id)
    assert len(await mailbox.to(str(admin.email))) == 1
    assert len(await mailbox.to(str(late.email))) == 1


def _notice(notice_id: str, account_id: str) -> NoticePublished:
    notice = Notice(
        id=notice_id, kind=NoticeKind.INCIDENT, title="Digicert Incident", body="b",
        status=NoticeStatus.INVESTIGATING, starts_at=datetime(2026, 11, 20, tzinfo=UTC),
        affected_account_ids=[account_id],
    )  # fmt: skip
    return NoticePublished(notice=notice)
