"""Notify on the real stack: no user text adds a header or a body part (issue 13, item 1)."""

from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any
from uuid import UUID

from notify.logic import message_id
from shared import replies
from shared.enums import NoticeKind, NoticeStatus, Status
from shared.events import Contact, ContactUpserted, Notice, NoticePublished

from .conftest import DOMAIN, REPLY_KEY, Mailbox, Scenario, eventually, receipt_id

# Issue 13, item 1, verbatim.
PAYLOAD = "x =?utf-8?q?=0D=0AReply-To:_attacker@evil.example=0D=0A=0D=0A<h1>Phish</h1>?="
OURS = {
    "From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "Reply-To",
    "Auto-Submitted", "X-Support-Template", "X-Support-Case", "MIME-Version", "Content-Type",
}  # fmt: skip
PART = {"Content-Type", "Content-Transfer-Encoding", "MIME-Version"}


def _only_ours(raw: bytes) -> EmailMessage:
    """Our headers once each, a Reply-To only of ours (a case's reply address, never the
    attacker's), and exactly our plain and HTML parts."""
    mail = message_from_bytes(raw, policy=default_policy)
    assert isinstance(mail, EmailMessage)
    names = list(mail.keys())
    assert len(names) == len(set(names)), names
    assert set(names) <= OURS, names
    if mail["Reply-To"] is not None:
        [reply_to] = mail["Reply-To"].addresses
        assert replies.parse_reply_address(REPLY_KEY, reply_to.addr_spec) is not None
        assert reply_to.domain == DOMAIN
    lines = raw.splitlines()
    assert sum(line.lower().startswith(b"reply-to") for line in lines) <= 1
    assert not any(line.lower().startswith(b"<h1>") for line in lines)
    parts = list(mail.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(set(p.keys()) <= PART for p in parts)
    assert "<h1>" not in parts[1].get_content()
    return mail


def _mid(event_id: UUID, person: Contact) -> str:
    return message_id(event_id, str(person.email), DOMAIN)


async def test_an_encoded_word_in_user_text_adds_no_header_and_no_body_part(
    scenario: Scenario, mailbox: Mailbox, spawn: Any
) -> None:
    """The issue's subject on a case, on a contact's name, on a release name and on a notice
    title: every mail it reaches (receipt, recipient added, release, notice) arrives with
    our headers only, no attacker Reply-To and no attacker HTML part."""
    await spawn().ready()
    owner, ann = await scenario.people("owner", "ann")
    eve = scenario.contact("eve", first_name=PAYLOAD)
    await scenario.send(scenario.topics.directory, ContactUpserted(contact=eve), eve.id)
    case = scenario.submitted(owner, 9100101, subject=PAYLOAD)
    added = scenario.recipients(case.case_id, [owner, ann, eve], [ann, eve], [])
    release = scenario.status(case.case_id, Status.AVAILABLE_IN_RELEASE).model_copy(
        update={"release_name": PAYLOAD}
    )
    await scenario.case(case, added, release)
    received = "case_received", "status_available_in_release"
    added_then_release = "recipient_added", "status_available_in_release"
    receipt, _ = await _only_ours_to(mailbox, owner, received)
    assert "Phish" in str(receipt["Subject"])  # the subject is there, as text
    assert receipt["Message-ID"] == receipt_id(case)
    [reply_to] = receipt["Reply-To"].addresses  # the owner's own reply address, not the attacker's
    reply = replies.parse_reply_address(REPLY_KEY, reply_to.addr_spec)
    assert reply is not None
    assert reply.case_id == case.case_id
    assert reply.is_for(REPLY_KEY, owner.id)
    await _only_ours_to(mailbox, ann, added_then_release)
    to_eve, _ = await _only_ours_to(mailbox, eve, added_then_release)
    assert [a.addr_spec for a in to_eve["To"].addresses] == [str(eve.email)]
    notice = Notice(
        id=f"n-{scenario.tag}", kind=NoticeKind.INCIDENT, title=PAYLOAD, body="b",
        status=NoticeStatus.INVESTIGATING, starts_at=datetime(2026, 11, 20, tzinfo=UTC),
        affected_account_ids=[owner.account_ids[0]],
    )  # fmt: skip
    published = NoticePublished(notice=notice)  # eve is in the directory: she was mailed
    await scenario.send(scenario.topics.incident_events, published, notice.id)
    *_, incident = await _only_ours_to(mailbox, eve, (*added_then_release, "notice_incident"))
    assert incident["Message-ID"] == _mid(published.event_id, eve)
    assert await mailbox.to("attacker@evil.example") == []


async def _only_ours_to(
    mailbox: Mailbox, person: Contact, templates: tuple[str, ...]
) -> list[EmailMessage]:
    """Once `person` has one mail per template (by SMTP envelope, whatever the headers say),
    each one checked by `_only_ours`, oldest first, with the templates in that order."""
    address = str(person.email)

    async def all_in() -> list[dict[str, Any]]:
        entries = await mailbox.to(address)
        return entries if len(entries) >= len(templates) else []

    entries = reversed(await eventually(all_in, f"{len(templates)} mails to {address}"))
    mails = [_only_ours(await mailbox.raw(entry["id"])) for entry in entries]
    assert [str(m["X-Support-Template"]) for m in mails] == list(templates)
    return mails
