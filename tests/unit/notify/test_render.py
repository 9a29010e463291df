"""Templates: every one renders both parts, HTML is escaped, text is not, subjects are set."""

from typing import Any
from uuid import uuid4

import pytest

from notify import logic
from notify.models import CaseView, Recipient
from notify.render import SUBJECTS, Composer, Renderer, Sender

CONTEXT: dict[str, Any] = {
    "case": {
        "number": 42,
        "subject": "<script>x</script>",
        "status": "New",
        "assignee": "Kim",
        "url": "http://portal.test/cases/42",
        "tag": "[Case 42]",
    },
    "portal_url": "http://portal.test",
    "recipient": {"name": "Ann Lee", "first_name": "Ann"},
    "when": "09/15/2021 - 01:37 PM CDT",
    "from_status": "Assigned",
    "to_status": "Closed",
    "meaning": "meaning",
    "note": "a <note>",
    "development_issue": "DEV-123",
    "release_name": "Campus.2532",
    "actor": "Kim",
    "actor_kind": "staff",
    "auto_close_days": 10,
    "reopen_days": 60,
    "closes_on": "12/04/2026",
    "business_days_left": 3,
    "author": "Kim",
    "body_text": "text",
    "attachments": ["log.txt"],
    "command_type": "case.reopen",
    "reason": "window passed",
    "target": "first response",
    "due_at": "11/23/2026 - 12:30 PM CST",
    "priority": "High",
    "department": "Campus Support",
    "percent_elapsed": 75,
    "title": "Gradebook <b>down</b>",
    "resolution": "Restored <i>at</i> 10:40.",
    "notice": {
        "title": "Digicert",
        "kind": "incident",
        "status": "Investigating",
        "body": "body",
        "starts": "s",
        "ends": None,
        "latest": None,
        "latest_at": None,
    },
}


@pytest.mark.parametrize("name", sorted(SUBJECTS))
def test_every_template_renders_text_and_escaped_html(name: str) -> None:
    """Each template has a subject, a plain-text part and an autoescaped HTML part."""
    rendered = Renderer().render(name, CONTEXT)
    assert rendered.subject.strip()
    assert "Hello Ann" in rendered.text
    assert "<script>" not in rendered.html
    if name.startswith("status_") or name == "case_received":
        assert "&lt;script&gt;" in rendered.html


def test_release_and_development_issue_are_named() -> None:
    """'Available in Release' names the release; development names the issue."""
    renderer = Renderer()
    assert "Campus.2532" in renderer.render("status_available_in_release", CONTEXT).text
    assert "DEV-123" in renderer.render("status_assigned_to_development", CONTEXT).text


def test_case_mail_has_both_parts_and_threads_under_the_case_root() -> None:
    """Composed mail is multipart/alternative and replies to the case's root Message-ID."""
    case_id = uuid4()
    view = CaseView(
        case_id=case_id,
        case_number=7,
        subject="Snow Day",
        account_id="a",
        owner_id="o",
        recipients=["o"],
        root_message_id="<c.root@test.invalid>",
        opened_at="2026-11-20T16:00:00Z",
    )
    composer = Composer(Renderer(), Sender("Campus Support", "s@test.invalid", "test.invalid"))
    plan = logic.Plan("status_scheduled", ("o",), {**CONTEXT, "case": None})
    person = Recipient("o", "o@example.org", "O Person", first_name="O")
    [mail] = composer.case_mails(plan, view, [person], uuid4(), view.opened_at)
    message = mail.message
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["References"] == view.root_message_id
    assert "Snow Day" in str(message["Subject"])
