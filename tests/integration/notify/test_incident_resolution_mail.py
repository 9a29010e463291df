"""Notify on the real stack: a linked incident's resolution reaches each recipient once."""

from typing import Any

from shared.enums import Status
from shared.events import Contact, IncidentLinked, LinkedIncidentResolved

from .conftest import STAFF, Mailbox, Scenario, case_mail_id, eventually, header, receipt_id

TITLE = "Gradebook down"
WORDS = "Restored at 10:40 after the certificate was renewed."


async def _mails(mailbox: Mailbox, person: Contact) -> list[dict[str, Any]]:
    """Every mail `person` received, oldest first, in full."""
    entries = reversed(await mailbox.to(str(person.email)))
    return [await mailbox.detail(e["id"]) for e in entries]


async def test_a_linked_incidents_resolution_is_mailed_once_to_each_recipient(
    scenario: Scenario, mailbox: Mailbox, spawn: Any
) -> None:
    """Linked by staff, the incident resolved and its note published twice: the owner and the
    added recipient each get one resolution mail (the case's tag, the resolution, the case
    link, threaded under the receipt) and nothing for the link; a later status change shows
    everything before it was handled."""
    await spawn().ready()
    owner, ann = await scenario.people("owner", "ann")
    case = scenario.submitted(owner, 9100201, subject="Nobody can open the grade book")
    common = {"case_id": case.case_id, "notice_id": "gradebook-down.1", "title": TITLE}
    linked = IncidentLinked(**common, actor=STAFF)
    resolved = LinkedIncidentResolved(**common, resolution=WORDS)
    sentinel = scenario.status(case.case_id, Status.ASSIGNED, Status.NEW)
    await scenario.case(
        case,
        scenario.recipients(case.case_id, [owner, ann], [ann], []),
        linked,
        resolved,
        resolved,
        sentinel,
    )
    for person in (owner, ann):
        mid = case_mail_id(case.case_id, sentinel.event_id, person)

        async def arrived(person: Contact = person, mid: str = mid) -> bool:
            return any(m["message_id"] == mid for m in await mailbox.to(str(person.email)))

        await eventually(arrived, f"the status mail to {person.id}")
    owner_mails, ann_mails = await _mails(mailbox, owner), await _mails(mailbox, ann)
    templates = [
        [header(m, "X-Support-Template")[0] for m in ms] for ms in (owner_mails, ann_mails)
    ]
    assert templates == [
        ["case_received", "linked_incident_resolved", "status_changed"],
        ["recipient_added", "linked_incident_resolved", "status_changed"],
    ]
    mail = ann_mails[1]
    assert header(mail, "Subject") == [
        '[Case 9100201] Nobody can open the grade book - The incident "Gradebook down" is resolved'
    ]
    assert header(mail, "Message-ID") == [case_mail_id(case.case_id, resolved.event_id, ann)]
    assert header(mail, "References") == [receipt_id(case)]
    assert f"Resolution: {WORDS}" in mail["text"]
    assert WORDS in mail["html"]
    assert "/cases/9100201" in mail["text"]
