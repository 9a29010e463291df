"""Outbound mail of a case: one subject and thread, portal links, replies, who is mailed."""

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from uuid import uuid4

import pytest

from notify.errors import RecipientPending
from notify.logic import LOCAL_REPLY_KEY
from shared import replies
from shared.enums import ActorKind, Department, Priority, Status
from shared.events import CaseAssigned, CaseRouted, SlaBreached, SlaWarning, StaffMember
from shared.messages import Actor, AttachmentRef, StaffRef

KELLY = StaffMember(
    id="s-1", name="Kelly Kapowski", email="kelly@campus.example", departments=[Department.TRAINING]
)
SCREECH = StaffMember(
    id="s-2", name="Screech Powers", email="screech@campus.example",
    departments=[Department.CAMPUS_SUPPORT],
)  # fmt: skip
LISA = StaffMember(
    id="s-3", name="Lisa Turtle", email="lisa@campus.example",
    departments=[Department.CAMPUS_SUPPORT],
)  # fmt: skip
GONE = StaffMember(
    id="s-4", name="Mr Belding", email="belding@campus.example",
    departments=[Department.CAMPUS_SUPPORT], active=False,
)  # fmt: skip
CASE_PAGE = "http://127.0.0.1:8000/cases/1227963"
STAFF_CASE_PAGE = "http://127.0.0.1:8000/staff/cases/1227963"
FOOTER = (
    "Reply to this email to add a post to the case, or post in the Support Portal: "
    "http://127.0.0.1:8000/cases/1227963"
)


def _text(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _html(mail: EmailMessage) -> str:
    part = mail.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def _assigned(case_id: Any, staff: StaffMember = KELLY) -> CaseAssigned:
    ref = StaffRef(id=staff.id, name=staff.name)
    return CaseAssigned(
        case_id=case_id,
        department=staff.departments[0],
        assignee=ref,
        actor=Actor(kind=ActorKind.STAFF, id=staff.id, name=staff.name),
        occurred_at=datetime(2026, 11, 20, 16, 0, tzinfo=UTC),
    )


def _attachment(name: str) -> AttachmentRef:
    return AttachmentRef(
        attachment_id=uuid4().hex, filename=name, content_type="text/plain", size=3, sha256="0"
    )


async def _case(world: Any, make: Any, *who: str) -> Any:
    """A submitted case of owner Zack, with `who` as further recipients, assigned to Kelly."""
    zack = make.contact("owner", first_name="Zack")
    world.book.add(zack, *(make.contact(w) for w in who))
    world.book.hire(KELLY, SCREECH, LISA, GONE)
    case = make.submitted("owner")
    await world.notifier.on_case_event(case)
    if who:
        added = make.recipients(case.case_id, ["owner", *who], list(who), [])
        await world.notifier.on_case_event(added)
    await world.notifier.on_case_event(_assigned(case.case_id))
    return case


async def test_every_mail_of_a_case_has_one_subject_and_threads_under_the_receipt(
    world: Any, make: Any
) -> None:
    """Receipt, status change and post carry `[Case 1227963] Snow Day`; every later mail
    replies to the receipt's Message-ID, which is the signed id of the case.submitted event."""
    case = await _case(world, make)
    await world.notifier.on_case_event(make.status(case.case_id, Status.SCHEDULED))
    await world.notifier.on_case_event(make.post(case.case_id, make.staff, "See you Monday."))
    receipt, scheduled, post = world.transport.to("owner@example.org")
    subjects = {str(m["Subject"]) for m in (receipt, scheduled, post)}
    assert subjects == {"[Case 1227963] Snow Day"}
    root = replies.message_id(LOCAL_REPLY_KEY, case.case_id, case.event_id, "test.invalid")
    assert receipt["Message-ID"] == root
    assert receipt["In-Reply-To"] is None
    for later in (scheduled, post):
        assert later["In-Reply-To"] == root
        assert later["References"] == root
        assert later["Message-ID"] != root


async def test_what_happened_is_said_in_the_body(world: Any, make: Any) -> None:
    """With the subject stable, the body names the event (here: the case was scheduled)."""
    case = await _case(world, make)
    await world.notifier.on_case_event(make.status(case.case_id, Status.SCHEDULED))
    scheduled = world.transport.to("owner@example.org")[-1]
    assert "Case 1227963 is now Scheduled." in _text(scheduled)


async def test_every_case_mail_links_to_the_case_page_and_says_how_to_reply(
    world: Any, make: Any
) -> None:
    """Both parts link to the portal's /cases/1227963 page and end with the reply footer."""
    case = await _case(world, make)
    await world.notifier.on_case_event(make.status(case.case_id, Status.CLOSED))
    for mail in world.transport.to("owner@example.org"):
        assert FOOTER in _text(mail)
        assert f'<a href="{CASE_PAGE}">' in _html(mail)
        assert "Reply to this email to add a post to the case" in _html(mail)


async def test_times_are_shown_in_the_districts_zone_in_both_parts(world: Any, make: Any) -> None:
    """A Denver district reads 16:00 UTC as 09:00 AM MST, in text and HTML."""
    world.book.zones["acct-1"] = "America/Denver"
    await _case(world, make)
    [receipt] = world.transport.to("owner@example.org")
    assert "Last Modified: 11/20/2026 - 09:00 AM MST" in _text(receipt)
    assert "11/20/2026 - 09:00 AM MST" in _html(receipt)


async def test_each_recipient_gets_a_reply_address_of_their_own(world: Any, make: Any) -> None:
    """Reply-To is `case+<token>@test.invalid`, different per recipient, and parses back with
    shared.replies to this case and to that recipient only."""
    case = await _case(world, make, "ann")
    await world.notifier.on_case_event(make.status(case.case_id, Status.SCHEDULED))
    to_zack = world.transport.to("owner@example.org")[-1]
    to_ann = world.transport.to("ann@example.org")[-1]
    zack_reply = to_zack["Reply-To"].addresses[0].addr_spec
    ann_reply = to_ann["Reply-To"].addresses[0].addr_spec
    assert zack_reply != ann_reply
    assert zack_reply.startswith("case+")
    assert zack_reply.endswith("@test.invalid")
    parsed = replies.parse_reply_address(LOCAL_REPLY_KEY, zack_reply)
    assert parsed is not None
    assert parsed.case_id == case.case_id
    assert parsed.is_for(LOCAL_REPLY_KEY, "owner")
    assert not parsed.is_for(LOCAL_REPLY_KEY, "ann")


async def test_the_submitter_gets_the_receipt_of_their_own_case(world: Any, make: Any) -> None:
    """Submitting is the one own action that is mailed: the receipt."""
    await _case(world, make)
    assert world.transport.templates("owner@example.org") == ["case_received"]


async def test_who_closes_the_case_is_not_mailed_about_it_the_others_are(
    world: Any, make: Any
) -> None:
    """Zack closes his case: Ann is told it was closed by Zack Tester, Zack is not."""
    case = await _case(world, make, "ann")
    zack = make.actor_of(world.book.people["owner"])
    await world.notifier.on_case_event(make.status(case.case_id, Status.CLOSED, actor=zack))
    assert world.transport.templates("owner@example.org") == ["case_received"]
    assert world.transport.templates("ann@example.org") == ["recipient_added", "status_closed"]
    closed = world.transport.to("ann@example.org")[-1]
    assert "Case 1227963 has been closed by Zack Tester." in _text(closed)


async def test_a_contact_who_adds_themselves_is_not_told_so(world: Any, make: Any) -> None:
    """Samuel adds himself and Ann: Ann is told Samuel added her, Samuel gets nothing."""
    case = await _case(world, make)
    samuel, ann = make.contact("samuel"), make.contact("ann")
    world.book.add(samuel, ann)
    change = make.recipients(case.case_id, ["owner", "samuel", "ann"], ["samuel", "ann"], [])
    change = change.model_copy(update={"actor": make.actor_of(samuel)})
    await world.notifier.on_case_event(change)
    assert world.transport.to("samuel@example.org") == []
    [added] = world.transport.to("ann@example.org")
    assert "Samuel Tester added you as a notification recipient" in _text(added)


async def test_a_contact_post_mails_the_assignee_and_the_others_with_attachment_names(
    world: Any, make: Any
) -> None:
    """Ann posts with two files: Kelly (the assignee, at her directory address) and Zack get
    the text and both file names; Ann gets nothing about her own post."""
    case = await _case(world, make, "ann")
    ann = make.actor_of(world.book.people["ann"])
    post = make.post(case.case_id, ann, "Still greyed out for 1100-1.").model_copy(
        update={"attachments": [_attachment("gradebook.png"), _attachment("steps.txt")]}
    )
    await world.notifier.on_case_event(post)
    assert world.transport.templates("ann@example.org") == ["recipient_added"]
    [to_kelly] = world.transport.to("kelly@campus.example")
    to_zack = world.transport.to("owner@example.org")[-1]
    for mail in (to_kelly, to_zack):
        assert mail["X-Support-Template"] == "contact_post"
        assert "Ann Tester posted to case 1227963:" in _text(mail)
        assert "Still greyed out for 1100-1." in _text(mail)
        assert "Attachments: gradebook.png, steps.txt" in _text(mail)
        assert "<li>gradebook.png</li><li>steps.txt</li>" in _html(mail)
    assert to_kelly["To"].addresses[0].display_name == "Kelly Kapowski"
    assert "Hello Kelly," in _text(to_kelly)
    # staff open the case in the staff workspace, the contact on the portal's case page
    assert f'href="{STAFF_CASE_PAGE}"' in _html(to_kelly)
    assert CASE_PAGE + "\n" not in _text(to_kelly)
    assert f'href="{CASE_PAGE}"' in _html(to_zack)
    kelly_reply = replies.parse_reply_address(LOCAL_REPLY_KEY, str(to_kelly["Reply-To"]))
    assert kelly_reply is not None
    assert kelly_reply.is_for(LOCAL_REPLY_KEY, "s-1")


async def test_the_owners_post_without_an_assignee_mails_only_the_other_recipients(
    world: Any, make: Any
) -> None:
    """Before assignment a contact's post goes to the other recipients, no staff."""
    world.book.add(make.contact("owner"), make.contact("ann"))
    world.book.hire(KELLY)
    case = make.submitted("owner")
    added = make.recipients(case.case_id, ["owner", "ann"], ["ann"], [])
    own = make.post(case.case_id, make.actor_of(world.book.people["owner"]), "More detail.")
    for event in (case, added, own):
        await world.notifier.on_case_event(event)
    assert world.transport.templates("ann@example.org") == ["recipient_added", "contact_post"]
    assert world.transport.to("kelly@campus.example") == []
    assert world.transport.templates("owner@example.org") == ["case_received"]


async def test_a_post_text_is_not_mailed_to_whoever_may_not_read_the_case(
    world: Any, make: Any
) -> None:
    """A bare address and a contact of another district get the file names and the link but
    not the post's text; a contact of the case's district gets the text."""
    case = await _case(world, make)
    outsider = make.contact("moved", account="acct-2")
    world.book.add(outsider, make.contact("ann"))
    listed = ["owner", "ann", "moved", "guest@example.org"]
    await world.notifier.on_case_event(make.recipients(case.case_id, listed, listed[1:], []))
    post = make.post(case.case_id, make.staff, "Your password is on page 3.").model_copy(
        update={"attachments": [_attachment("report.csv")]}
    )
    await world.notifier.on_case_event(post)
    for address in ("guest@example.org", "moved@example.org"):
        mail = world.transport.to(address)[-1]
        assert "page 3" not in _text(mail)
        assert "page 3" not in _html(mail)
        assert "Attachments: report.csv" in _text(mail)
        assert f"Read the post in the Support Portal: {CASE_PAGE}" in _text(mail)
    assert "Your password is on page 3." in _text(world.transport.to("ann@example.org")[-1])


async def test_a_status_note_is_not_mailed_to_whoever_may_not_read_the_case(
    world: Any, make: Any
) -> None:
    """The resolution note of a status change reaches the district's contacts only."""
    case = await _case(world, make)
    listed = ["owner", "guest@example.org"]
    await world.notifier.on_case_event(make.recipients(case.case_id, listed, listed[1:], []))
    change = make.status(case.case_id, Status.PENDING_CUSTOMER_VERIFICATION, note="Reset it.")
    await world.notifier.on_case_event(change)
    assert "Resolution: Reset it." in _text(world.transport.to("owner@example.org")[-1])
    assert "Reset it." not in _text(world.transport.to("guest@example.org")[-1])


async def test_an_assignee_not_yet_in_the_directory_is_waited_for(world: Any, make: Any) -> None:
    """A fresh contact post whose assignee the directory does not know yet is retried."""
    world.book.add(make.contact("owner"))
    case = make.submitted("owner")
    await world.notifier.on_case_event(case)
    await world.notifier.on_case_event(_assigned(case.case_id))  # Kelly not hired yet
    own = make.post(case.case_id, make.actor_of(world.book.people["owner"]), "Hello?")
    with pytest.raises(RecipientPending):
        await world.notifier.on_case_event(own)
    world.book.hire(KELLY)
    await world.notifier.on_case_event(own)
    assert world.transport.templates("kelly@campus.example") == ["contact_post"]


def _warning(case_id: Any, assignee: StaffMember | None) -> SlaWarning:
    return SlaWarning(
        case_id=case_id,
        target="first_response",
        due_at=datetime(2026, 11, 24, 18, 30, tzinfo=UTC),
        priority=Priority.HIGH,
        department=Department.CAMPUS_SUPPORT,
        assignee=StaffRef(id=assignee.id, name=assignee.name) if assignee else None,
        percent_elapsed=75,
        occurred_at=datetime(2026, 11, 20, 16, 0, tzinfo=UTC),
    )


async def test_an_sla_warning_mails_the_assignee_once(world: Any, make: Any) -> None:
    """At 75 % the assignee is told when the first response is due (district time); the
    contacts are not; the same event again mails nobody."""
    case = await _case(world, make)
    warning = _warning(case.case_id, KELLY)
    await world.notifier.on_case_event(warning)
    await world.notifier.on_case_event(warning)
    [mail] = world.transport.to("kelly@campus.example")
    assert mail["X-Support-Template"] == "sla_warning"
    assert str(mail["Subject"]) == "[Case 1227963] Snow Day"
    text = _text(mail)
    assert "Case 1227963 has used 75% of its first response target" in text
    assert "due 11/24/2026 - 12:30 PM CST" in text
    assert world.transport.templates("owner@example.org") == ["case_received"]


async def test_an_sla_breach_without_assignee_mails_the_departments_active_staff(
    world: Any, make: Any
) -> None:
    """A breach of an unassigned case reaches Campus Support's active staff (Screech and
    Lisa), not its inactive member nor another department's."""
    case = await _case(world, make)
    breach = SlaBreached(
        case_id=case.case_id,
        target="resolution",
        due_at=datetime(2026, 11, 24, 18, 30, tzinfo=UTC),
        priority=Priority.HIGH,
        department=Department.CAMPUS_SUPPORT,
        occurred_at=datetime(2026, 11, 20, 16, 0, tzinfo=UTC),
    )
    await world.notifier.on_case_event(breach)
    for address in ("screech@campus.example", "lisa@campus.example"):
        [mail] = world.transport.to(address)
        assert mail["X-Support-Template"] == "sla_breached"
        assert "has breached its resolution target" in _text(mail)
    assert world.transport.to("belding@campus.example") == []
    assert world.transport.to("kelly@campus.example") == []


@dataclass
class _Record:
    """A consumed Kafka record of case.events."""

    value: bytes
    topic: str = "unit.case.events"
    partition: int = 0
    offset: int = 0
    key: bytes | None = None


async def test_an_sla_event_on_the_topic_is_decoded_and_mailed(world: Any, make: Any) -> None:
    """An SlaWarning read from case.events decodes as a case event and is mailed."""
    case = await _case(world, make)
    record = _Record(_warning(case.case_id, KELLY).model_dump_json().encode())
    await world.notifier.on_case_batch([record])
    assert world.transport.templates("kelly@campus.example") == ["sla_warning"]
    assert world.poisoned == []


def _routed(case_id: Any, department: Department) -> CaseRouted:
    return CaseRouted(
        case_id=case_id,
        department=department,
        billable=False,
        queue=f"queue.{department.slug}",
        occurred_at=datetime(2026, 11, 20, 16, 0, tzinfo=UTC),
    )


async def test_a_contact_post_on_an_unassigned_case_mails_its_departments_staff(
    world: Any, make: Any
) -> None:
    """Routed to Campus Support and not assigned yet (or transferred there, which unassigns
    it), Zack's post reaches Screech and Lisa, not Kelly who had it before."""
    case = await _case(world, make)
    await world.notifier.on_case_event(_routed(case.case_id, Department.CAMPUS_SUPPORT))
    own = make.post(case.case_id, make.actor_of(world.book.people["owner"]), "Any news?")
    await world.notifier.on_case_event(own)
    assert world.transport.templates("screech@campus.example") == ["contact_post"]
    assert world.transport.templates("lisa@campus.example") == ["contact_post"]
    assert world.transport.to("kelly@campus.example") == []


async def test_a_contact_reopening_mails_the_assignee_but_not_themselves(
    world: Any, make: Any
) -> None:
    """Zack reopens his closed case: Kelly, the assignee, is told; Zack is not."""
    case = await _case(world, make)
    zack = make.actor_of(world.book.people["owner"])
    reopen = make.status(case.case_id, Status.RE_OPENED, Status.CLOSED, actor=zack)
    await world.notifier.on_case_event(reopen.model_copy(update={"note": "It broke again."}))
    [mail] = world.transport.to("kelly@campus.example")
    assert mail["X-Support-Template"] == "status_re_opened"
    assert "Case 1227963 has been re-opened by Zack Tester." in _text(mail)
    assert "Additional details: It broke again." in _text(mail)
    assert world.transport.templates("owner@example.org") == ["case_received"]


async def test_a_staff_status_change_mails_no_staff(world: Any, make: Any) -> None:
    """Kelly schedules the case: the contact is told, no staff member is."""
    case = await _case(world, make)
    await world.notifier.on_case_event(make.status(case.case_id, Status.SCHEDULED))
    assert world.transport.templates("owner@example.org") == ["case_received", "status_scheduled"]
    assert [r for r, _ in world.transport.sent if r.endswith("@campus.example")] == []
