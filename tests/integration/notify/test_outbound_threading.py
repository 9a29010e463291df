"""Notify on the real stack: a case's mail threads, links to the portal and says who did what."""

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from shared import replies
from shared.enums import ActorKind, Department, Priority, Status
from shared.events import CaseAssigned, PostAdded, SlaWarning, StaffMember
from shared.messages import Actor, AttachmentRef, StaffRef

from .conftest import (
    DOMAIN,
    REPLY_KEY,
    Mailbox,
    Scenario,
    case_mail_id,
    eventually,
    header,
    receipt_id,
)

PORTAL = "https://support.portal-test.invalid"
PORTAL_NAME = "Support Portal"


def _actor(person: Any) -> Actor:
    if isinstance(person, StaffMember):
        return Actor(kind=ActorKind.STAFF, id=person.id, name=person.name)
    return Actor(kind=ActorKind.CONTACT, id=person.id, name=person.display_name)


def _file(name: str) -> AttachmentRef:
    return AttachmentRef(
        attachment_id=uuid4().hex, filename=name, content_type="image/png", size=3, sha256="0"
    )


async def _mails(mailbox: Mailbox, person: Any, last: str) -> list[dict[str, Any]]:
    """Every mail `person` got, oldest first, once the one with Message-ID `last` is in."""

    async def arrived() -> list[dict[str, Any]]:
        entries = await mailbox.to(str(person.email))
        return entries if any(e["message_id"] == last for e in entries) else []

    entries = reversed(await eventually(arrived, f"mail {last} to {person.email}"))
    return [await mailbox.detail(e["id"]) for e in entries]


def _templates(details: list[dict[str, Any]]) -> list[str]:
    return [header(d, "X-Support-Template")[0] for d in details]


async def test_a_cases_mail_threads_links_the_portal_and_spares_whoever_acted(
    scenario: Scenario, mailbox: Mailbox, spawn: Any
) -> None:
    """Zack submits (receipt), adds Ann, Kelly is assigned and schedules it, Ann posts two
    files, the first response nears its SLA, Zack closes, Kelly posts: every mail has the
    subject `[Case 9400001] Snow Day`, replies to the receipt, links the case page under
    NOTIFY_PORTAL_URL (Kelly's in the staff workspace) and has a Reply-To of its recipient's
    own; nobody gets mail about their own action (but Zack his receipt), and Kelly gets Ann's
    post with its file names."""
    await spawn(NOTIFY_PORTAL_URL=PORTAL).ready()
    zack, ann = await scenario.people("zack", "ann")
    kelly = scenario.staff("kelly", "Kelly Kapowski", Department.CAMPUS_SUPPORT)
    await scenario.hire(kelly)
    case = scenario.submitted(zack, 9400001)
    cid = case.case_id
    added = scenario.recipients(cid, [zack, ann], [ann], []).model_copy(
        update={"actor": _actor(zack)}
    )
    assigned = CaseAssigned(
        case_id=cid,
        department=Department.CAMPUS_SUPPORT,
        assignee=StaffRef(id=kelly.id, name=kelly.name),
        actor=_actor(kelly),
    )
    scheduled = scenario.status(cid, Status.SCHEDULED).model_copy(update={"actor": _actor(kelly)})
    ann_post = PostAdded(
        case_id=cid, post_id=uuid4(), author=_actor(ann), body_html="<p>Still grey.</p>",
        body_text="Still grey.", attachments=[_file("gradebook.png"), _file("steps.png")],
    )  # fmt: skip
    warning = SlaWarning(
        case_id=cid, target="resolution", due_at=datetime(2026, 12, 8, 18, 30, tzinfo=UTC),
        priority=Priority.MEDIUM, department=Department.CAMPUS_SUPPORT,
        assignee=StaffRef(id=kelly.id, name=kelly.name), percent_elapsed=75,
    )  # fmt: skip
    closed = scenario.status(cid, Status.CLOSED, Status.SCHEDULED).model_copy(
        update={"actor": _actor(zack)}
    )
    kelly_post = PostAdded(
        case_id=cid, post_id=uuid4(), author=_actor(kelly), body_html="<p>Glad it works.</p>",
        body_text="Glad it works.",
    )  # fmt: skip
    await scenario.case(case, added, assigned, scheduled, ann_post, warning, closed, kelly_post)

    to_zack = await _mails(mailbox, zack, case_mail_id(cid, kelly_post.event_id, zack))
    to_ann = await _mails(mailbox, ann, case_mail_id(cid, kelly_post.event_id, ann))
    to_kelly = await _mails(mailbox, kelly, case_mail_id(cid, warning.event_id, kelly))

    assert _templates(to_zack) == [
        "case_received",
        "status_scheduled",
        "contact_post",
        "staff_post",
    ]
    assert _templates(to_ann) == [
        "recipient_added",
        "status_scheduled",
        "status_closed",
        "staff_post",
    ]
    assert _templates(to_kelly) == ["contact_post", "sla_warning"]

    root = receipt_id(case)
    contacts_page = f"{PORTAL}/cases/9400001"
    staff_page = f"{PORTAL}/staff/cases/9400001"  # Kelly opens it in the staff workspace
    for person, details in ((zack, to_zack), (ann, to_ann), (kelly, to_kelly)):
        page = staff_page if person is kelly else contacts_page
        footer = (
            f"Reply to this email to add a post to the case, or post in the Support Portal: {page}"
        )
        for mail in details:
            assert header(mail, "Subject") == ["[Case 9400001] Snow Day"]
            if header(mail, "Message-ID") != [root]:
                assert header(mail, "In-Reply-To") == [root]
                assert header(mail, "References") == [root]
            assert footer in " ".join(mail["text"].split())
            assert f'href="{page}"' in mail["html"]
            [reply_to] = header(mail, "Reply-To")
            assert reply_to.startswith("case+")
            assert reply_to.endswith(f"@{DOMAIN}")
            reply = replies.parse_reply_address(REPLY_KEY, reply_to)
            assert reply is not None
            assert reply.case_id == cid
            assert reply.is_for(REPLY_KEY, person.id)
    assert header(to_zack[0], "Message-ID") == [root]

    closed_mail = to_ann[2]
    assert "Case 9400001 has been closed by Zack Tester." in closed_mail["text"]
    for post_mail in (to_zack[2], to_kelly[0]):
        assert "Ann Tester posted to case 9400001:" in post_mail["text"]
        assert "Still grey." in post_mail["text"]
        assert "Attachments: gradebook.png, steps.png" in post_mail["text"]
        assert "<li>gradebook.png</li><li>steps.png</li>" in post_mail["html"]
    assert "Hello Kelly," in to_kelly[0]["text"]
    assert "12/08/2026 - 12:30 PM CST" in to_kelly[1]["text"]
