"""Notify on the real stack: one mail per status change and recipient, through the SMTP sink."""

from datetime import UTC, datetime
from typing import Any

from notify.logic import message_id
from shared.enums import ContactType, NoticeKind, NoticeStatus, Status
from shared.events import Contact, ContactUpserted, Notice, NoticePublished, NoticeUpdated

from .conftest import DOMAIN, Mailbox, Scenario, case_mail_id, eventually, header, receipt_id


async def _arrived(mailbox: Mailbox, address: str, mid: str) -> list[dict[str, Any]]:
    return [e for e in await mailbox.to(address) if e["message_id"] == mid]


async def _wait_for(
    mailbox: Mailbox, person: Contact, event_id: Any, case_id: Any = None
) -> dict[str, Any]:
    """The detail of the mail `event_id` (of case `case_id`, or a notice) sent to `person`,
    once it is in the sink."""
    if case_id is None:
        mid = message_id(event_id, str(person.email), DOMAIN)
    else:
        mid = case_mail_id(case_id, event_id, person)
    [entry] = await eventually(lambda: _arrived(mailbox, str(person.email), mid), f"{mid}")
    return await mailbox.detail(entry["id"])


async def _templates(mailbox: Mailbox, person: Contact) -> list[str]:
    """Template of every mail `person` received, oldest first."""
    entries = reversed(await mailbox.to(str(person.email)))
    details = [await mailbox.detail(e["id"]) for e in entries]
    return [header(d, "X-Support-Template")[0] for d in details]


async def test_status_changes_mail_each_current_recipient_once_with_the_right_template(
    scenario: Scenario, mailbox: Mailbox, spawn: Any
) -> None:
    """Each status change mails each current recipient exactly once, with its template; a
    removed recipient gets nothing further; the case's mails thread under its root."""
    await spawn().ready()
    owner, ann, bob = await scenario.people("owner", "ann", "bob")
    case = scenario.submitted(owner, 9100001)
    dev = scenario.status(case.case_id, Status.ASSIGNED_TO_DEVELOPMENT).model_copy(
        update={"development_issue": "DEV-4242"}
    )
    release = scenario.status(
        case.case_id, Status.AVAILABLE_IN_RELEASE, Status.ASSIGNED_TO_DEVELOPMENT
    ).model_copy(update={"release_name": "Campus.2544"})
    await scenario.case(
        case,
        scenario.recipients(case.case_id, [owner, ann, bob], [ann, bob], []),
        dev,
        scenario.recipients(case.case_id, [owner, ann], [], [bob]),
        release,
    )
    released = await _wait_for(mailbox, owner, release.event_id, case.case_id)
    await _wait_for(mailbox, ann, release.event_id, case.case_id)
    assert "Campus.2544" in released["text"]
    assert "Campus.2544" in released["html"]
    assert header(released, "References") == [receipt_id(case)]
    assert "DEV-4242" in (await _wait_for(mailbox, bob, dev.event_id, case.case_id))["text"]
    steps = ["status_assigned_to_development", "status_available_in_release"]
    assert await _templates(mailbox, owner) == ["case_received", *steps]
    assert await _templates(mailbox, ann) == ["recipient_added", *steps]
    assert await _templates(mailbox, bob) == ["recipient_added", steps[0]]


async def test_the_same_event_delivered_twice_sends_once(
    scenario: Scenario, mailbox: Mailbox, spawn: Any
) -> None:
    """A StatusChanged published twice (same event_id) is mailed once per recipient."""
    await spawn().ready()
    [owner] = await scenario.people("owner")
    case = scenario.submitted(owner, 9100002)
    change = scenario.status(case.case_id, Status.PENDING_CUSTOMER_INPUT)
    sentinel = scenario.status(case.case_id, Status.ASSIGNED, Status.PENDING_CUSTOMER_INPUT)
    await scenario.case(case, change, change, sentinel)
    await _wait_for(mailbox, owner, sentinel.event_id, case.case_id)
    assert await _templates(mailbox, owner) == [
        "case_received",
        "status_pending_customer_input",
        "status_changed",
    ]


async def test_crlf_in_subject_or_name_cannot_add_a_header(
    scenario: Scenario, mailbox: Mailbox, spawn: Any
) -> None:
    """A case subject and a contact name carrying CR/LF arrive as one-line headers, no Bcc."""
    await spawn().ready()
    owner = scenario.contact("owner", first_name="Eve\r\nX-Injected: 1")
    await scenario.people()
    await scenario.send(
        scenario.topics.directory, ContactUpserted(contact=owner), f"contact:{owner.id}"
    )
    subject = "Help\r\nBcc: attacker@evil.example.org\r\n\r\nfake body"
    case = scenario.submitted(owner, 9100003, subject=subject)
    await scenario.case(case)
    mid = receipt_id(case)
    [entry] = await eventually(lambda: _arrived(mailbox, str(owner.email), mid), "the receipt")
    detail = await mailbox.detail(entry["id"])
    assert entry["rcpt_tos"] == [str(owner.email)]
    assert header(detail, "Bcc") == []
    assert header(detail, "X-Injected") == []
    assert header(detail, "Subject") == [
        "[Case 9100003] Help Bcc: attacker@evil.example.org fake body"
    ]
    assert all(e["message_id"] != mid for e in await mailbox.to("attacker@evil.example.org"))


async def test_incident_notice_mails_authorized_contacts_of_the_district_only(
    scenario: Scenario, mailbox: Mailbox, spawn: Any
) -> None:
    """A published incident reaches the district's authorized contacts, not its read-only
    ones, once per revision, with times in the district's zone."""
    await spawn().ready()
    [admin] = await scenario.people("admin")
    reader = scenario.contact("reader", contact_type=ContactType.READ_ONLY)
    await scenario.send(scenario.topics.directory, ContactUpserted(contact=reader), reader.id)
    notice = Notice(
        id=f"n-{scenario.tag}",
        kind=NoticeKind.INCIDENT,
        title="Digicert Incident",
        body="Certificates are being reissued.",
        status=NoticeStatus.INVESTIGATING,
        starts_at=datetime(2024, 7, 30, 18, 27, tzinfo=UTC),
        affected_account_ids=[admin.account_ids[0]],
    )
    published = NoticePublished(notice=notice)
    again = NoticeUpdated(notice=notice)  # same revision: not news
    for event in (published, again):
        await scenario.send(scenario.topics.incident_events, event, notice.id)
    mail = await _wait_for(mailbox, admin, published.event_id)
    assert header(mail, "X-Support-Template") == ["notice_incident"]
    assert "07/30/2024 - 01:27 PM CDT" in mail["text"]
    sentinel = scenario.submitted(admin, 9100004)
    await scenario.case(sentinel)
    await eventually(
        lambda: _arrived(mailbox, str(admin.email), receipt_id(sentinel)),
        "a later mail to the same contact",
    )
    assert await mailbox.to(str(reader.email)) == []
    assert len(await mailbox.to(str(admin.email))) == 2
