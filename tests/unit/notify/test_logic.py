"""Notify's pure decisions: safe headers, Message-IDs, recipients, templates, times."""

from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any
from uuid import uuid4

import pytest

from notify import logic
from notify.models import Recipient
from shared.enums import ActorKind, ContactType, Status
from shared.events import StatusChanged
from shared.messages import Actor
from shared.zones import local_time


@pytest.mark.parametrize("dirty", ["Hi\r\nBcc: evil@x.test", "Hi\nBcc: evil@x.test", "Hi\rBcc:x"])
def test_clean_header_removes_line_breaks(dirty: str) -> None:
    """CR and LF cannot survive into a header value."""
    cleaned = logic.clean_header(dirty)
    assert "\r" not in cleaned
    assert "\n" not in cleaned
    assert cleaned.startswith("Hi ")


def test_subject_and_name_with_crlf_cannot_add_a_header() -> None:
    """A subject or display name carrying CR/LF yields no extra header in the sent bytes."""
    to = Recipient("c", "ann@example.org", "Ann\r\nX-Injected: yes", first_name="Ann")
    envelope = logic.Envelope(
        sender=logic.address("Support\nBcc: a@b.test", "support@test.invalid"),
        to=to,
        subject="Help\r\nBcc: attacker@evil.test\r\n\r\nbody",
        message_id="<m@test.invalid>",
        occurred_at=datetime(2026, 11, 20, tzinfo=UTC),
        template="status_changed\r\nX-Evil: 1",
    )
    raw = logic.build_email(envelope, "text", "<p>html</p>").as_bytes()
    parsed = message_from_bytes(raw, policy=default_policy)
    assert parsed["Bcc"] is None
    assert parsed["X-Injected"] is None
    assert parsed["X-Evil"] is None
    assert parsed["Subject"] == "Help Bcc: attacker@evil.test body"
    assert parsed["To"].addresses[0].addr_spec == "ann@example.org"


def test_message_id_is_stable_per_event_and_recipient() -> None:
    """Same (event, recipient) gives the same Message-ID; another recipient another one."""
    event = uuid4()
    first = logic.message_id(event, "Ann@Example.org", "test.invalid")
    assert first == logic.message_id(event, "ann@example.org ", "test.invalid")
    assert first != logic.message_id(event, "bob@example.org", "test.invalid")
    assert first.startswith("<")
    assert first.endswith("@test.invalid>")


def test_owner_is_always_a_recipient_and_first() -> None:
    """The owner cannot be removed; duplicates collapse."""
    assert logic.recipients_with_owner("o", ["a", "b", "a"]) == ["o", "a", "b"]
    assert logic.recipients_with_owner("o", []) == ["o"]
    assert logic.recipients_with_owner("o", ["a", "o"]) == ["o", "a"]


@pytest.mark.parametrize(
    ("to", "kind", "template"),
    [
        (Status.CLOSED, ActorKind.SYSTEM, "status_auto_closed"),
        (Status.CLOSED, ActorKind.CONTACT, "status_closed"),
        (Status.AVAILABLE_IN_RELEASE, ActorKind.STAFF, "status_available_in_release"),
        (Status.ASSIGNED_TO_DEVELOPMENT, ActorKind.STAFF, "status_assigned_to_development"),
        (Status.PENDING_CUSTOMER_INPUT, ActorKind.STAFF, "status_pending_customer_input"),
        (Status.ASSIGNED, ActorKind.STAFF, "status_changed"),
    ],
)
def test_status_template_follows_the_seed_meaning(
    to: Status, kind: ActorKind, template: str
) -> None:
    """Each status has its own template; the timer's close is the auto-close notice."""
    event = StatusChanged(
        case_id=uuid4(),
        from_status=Status.PENDING_CUSTOMER_VERIFICATION,
        to_status=to,
        actor=Actor(kind=kind, id="x", name="X"),
    )
    assert logic.status_template(event) == template


def test_every_status_has_a_meaning() -> None:
    """Each of the ten statuses is explained in mail."""
    assert set(logic.STATUS_MEANING) == set(Status)


def test_people_of_skips_inactive_and_reports_unknown(make: Any) -> None:
    """Inactive contacts get nothing, bare addresses are mailed, unknown ids are reported."""
    contacts = {"a": make.contact("a"), "z": make.contact("z", active=False)}
    people, missing = logic.people_of(["a", "z", "x@example.org", "ghost"], contacts, "UTC")
    assert [p.email for p in people] == ["a@example.org", "x@example.org"]
    assert missing == ["ghost"]


def test_notice_addressees_are_authorized_contacts_of_affected_districts(make: Any) -> None:
    """Read-only contacts and other districts are left out; no list means all districts."""
    only = make.notice(["acct-1"]).notice
    everyone = make.notice([]).notice
    assert logic.notice_addressee(make.contact("a"), only)
    assert not logic.notice_addressee(make.contact("r", kind=ContactType.READ_ONLY), only)
    assert not logic.notice_addressee(make.contact("o", account="acct-2"), only)
    assert logic.notice_addressee(make.contact("o", account="acct-2"), everyone)


def test_local_time_shows_the_district_zone() -> None:
    """Times are shown in the district's zone with its abbreviation; bad zones fall back."""
    at = datetime(2021, 9, 15, 18, 37, tzinfo=UTC)
    assert local_time(at, "America/Chicago") == "09/15/2021 - 01:37 PM CDT"
    assert local_time(at, "America/Denver") == "09/15/2021 - 12:37 PM MDT"
    assert local_time(at, "Not/AZone") == "09/15/2021 - 01:37 PM CDT"
    assert local_time(at, None).endswith("CDT")


def test_smtp_codes_decide_retry_or_reject() -> None:
    """5xx is final, 421 drops the connection, other 4xx retry."""
    assert logic.smtp_verdict(550) is logic.Verdict.REJECT
    assert logic.smtp_verdict(421) is logic.Verdict.DROP_CONNECTION
    assert logic.smtp_verdict(451) is logic.Verdict.RETRY


def test_age_and_grace_windows() -> None:
    """Old events mail nobody; unknown recipients are waited for only briefly."""
    now = datetime(2026, 11, 20, tzinfo=UTC)
    assert logic.too_old(now - timedelta(days=8), now, timedelta(days=7))
    assert not logic.too_old(now - timedelta(days=6), now, timedelta(days=7))
    assert logic.still_waiting(now - timedelta(seconds=5), now, timedelta(seconds=30))
    assert not logic.still_waiting(now - timedelta(minutes=5), now, timedelta(seconds=30))
