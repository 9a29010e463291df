"""No user text can add a header or a body part to a mail, whatever encoding it uses."""

from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any
from uuid import uuid4

import pytest
from aiosmtplib.email import flatten_message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notify import logic
from notify.errors import UnsafeHeader
from notify.models import CaseView, Recipient
from notify.render import SUBJECTS, Composer, Renderer, Sender
from shared import replies

# The subject of issue 13, item 1: a quoted-printable encoded word hiding CR/LF, a Reply-To
# header and an HTML body after a blank line.
PAYLOAD = "x =?utf-8?q?=0D=0AReply-To:_attacker@evil.example=0D=0A=0D=0A<h1>Phish</h1>?="
VARIANTS = [
    PAYLOAD,
    "x =?utf-8?b?DQpSZXBseS1UbzogYXR0YWNrZXJAZXZpbC5leGFtcGxlDQoNCjxoMT5QaGlzaDwvaDE+?=",
    "x =?UTF-8?Q?=0AReply-To:=20attacker@evil.example?= tail",
    "x =?iso-8859-1?q?=0D=0AReply-To:_attacker@evil.example?=",
    "x\r\nReply-To: attacker@evil.example\r\n\r\n<h1>Phish</h1>",
    "x\nReply-To: attacker@evil.example\n\n<h1>Phish</h1>",
    "x\rReply-To: attacker@evil.example",
    "x\x00Reply-To: attacker@evil.example",
    "x\u2028Reply-To: attacker@evil.example\u2029<h1>Phish</h1>",
    "x\x85Reply-To: attacker@evil.example",
    "x\x0b\x0c\x1c\x1d\x1eReply-To: attacker@evil.example",
    "=?utf-8?q?=0D=0AReply-To:_attacker@evil.example?=" * 8,
    "Long subject " * 30 + PAYLOAD,
    "é" * 150 + " " + PAYLOAD,
    "x =?utf-8?q?=0D=0A?= =?utf-8?q?Reply-To:_attacker@evil.example?=",
    'Ann "Q" Lee, <attacker@evil.example>',
    "a" * 120 + " <attacker@evil.example>, b@evil.example",
]
HEADERS = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Auto-Submitted",
    "X-Support-Template",
    "X-Support-Case",
    "MIME-Version",
    "Content-Type",
]
AT = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


def _mail(subject: str, name: str, sender: str = "Campus Support") -> EmailMessage:
    envelope = logic.Envelope(
        sender=logic.address(sender, "support@test.invalid"),
        to=Recipient("c-1", "ann@example.org", name),
        subject=subject,
        message_id="<m-1@test.invalid>",
        occurred_at=AT,
        template="case_received",
        thread_root="<case-1@test.invalid>",
        case_number=1227963,
    )
    return logic.build_email(envelope, "our text", "<p>our html</p>")


def _wire(message: EmailMessage) -> list[bytes]:
    """The bytes of the message as stored and as the mailer sends it (7 and 8 bit)."""
    return [
        message.as_bytes(),
        flatten_message(message, cte_type="7bit"),
        flatten_message(message, cte_type="8bit"),
    ]


def _assert_only_ours(raw: bytes) -> EmailMessage:
    """Exactly the headers we set, once each, without defects; exactly our two parts."""
    parsed = message_from_bytes(raw, policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    assert list(parsed.keys()) == HEADERS
    for name in HEADERS:
        assert not parsed[name].defects, (name, parsed[name].defects)
    [to] = parsed["To"].addresses
    assert to.addr_spec == "ann@example.org"
    [sender] = parsed["From"].addresses
    assert sender.addr_spec == "support@test.invalid"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content().strip() for p in parts] == ["our text", "<p>our html</p>"]
    assert all(list(p.keys()) in (_PART, [*_PART, "MIME-Version"]) for p in parts)
    lines = raw.splitlines()
    assert not any(line.lower().startswith((b"reply-to", b"<h1>")) for line in lines)
    return parsed


_PART = ["Content-Type", "Content-Transfer-Encoding"]


@pytest.mark.parametrize("dirty", VARIANTS)
def test_clean_header_leaves_one_inert_line(dirty: str) -> None:
    """No control character, line separator or encoded-word start survives."""
    cleaned = logic.clean_header(dirty)
    assert "=?" not in cleaned
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in cleaned)
    assert "\u2028" not in cleaned
    assert "\u2029" not in cleaned
    assert len(cleaned) <= 200


def test_the_payload_of_the_issue_reads_as_text() -> None:
    """The exact subject stays readable, with its encoded word broken open."""
    assert logic.clean_header(PAYLOAD) == (
        "x = ?utf-8?q?=0D=0AReply-To:_attacker@evil.example=0D=0A=0D=0A<h1>Phish</h1>?="
    )


@pytest.mark.parametrize("dirty", VARIANTS)
def test_user_text_in_subject_or_name_adds_no_header_and_no_part(dirty: str) -> None:
    """Subject, recipient name and sender name carrying each variant serialize to exactly
    our headers and parts, on every path to the wire."""
    message = _mail(f"Case 1227963 received: {dirty}", dirty, sender=dirty)
    for raw in _wire(message):
        parsed = _assert_only_ours(raw)
        subject = logic.clean_header(f"Case 1227963 received: {dirty}")
        assert str(parsed["Subject"]).strip() == subject
        assert parsed["Reply-To"] is None


@pytest.mark.parametrize("dirty", VARIANTS)
def test_a_name_is_never_read_as_another_address(dirty: str) -> None:
    """A display name with angle brackets, commas or quotes, even long enough to be folded,
    stays one mailbox with our address."""
    for raw in _wire(_mail("Snow Day", dirty)):
        [to] = message_from_bytes(raw, policy=default_policy)["To"].addresses
        assert to.addr_spec == "ann@example.org"
        assert to.display_name.replace(" ", "") == logic.display_name(dirty).replace(" ", "")


def test_a_long_subject_is_folded_into_continuation_lines() -> None:
    """A subject longer than a line is folded, every extra line a continuation."""
    raw = _mail("Snow Day " * 40 + PAYLOAD, "Ann").as_bytes()
    head = raw.split(b"\n\n", 1)[0].split(b"\n")
    subject = next(i for i, line in enumerate(head) if line.startswith(b"Subject:"))
    assert head[subject + 1].startswith(b" ")
    assert all(len(line) <= 78 for line in head)


@pytest.mark.parametrize(
    ("data", "names"),
    [
        (b"A: 1\r\nB: 2\r\n folded\r\n\r\nbody", ["A", "B"]),
        (b"A: 1\r\nReply-To: x\r\n\r\n<h1>", ["A", "Reply-To"]),
        (b"A: 1\r\n\r\nReply-To: x\r\n\r\n", ["A"]),
        (b"A: \r\n <h1>Phish</h1>\r\n\r\n", ["A"]),
        (b"A: 1\r\n \r\nB: 2\r\n\r\n", None),
        (b"A: 1\r\n<h1>Phish</h1>\r\n\r\n", None),
        (b" A: 1\r\n\r\n", None),
        (b"A: 1\r\nB: 2", None),
    ],
)
def test_wire_header_names_read_the_header_block(data: bytes, names: list[str] | None) -> None:
    """Names up to the empty line; a blank continuation or a line without a name is None."""
    assert logic.wire_header_names(data) == names


def test_every_built_mail_serializes_to_exactly_its_headers() -> None:
    """What the mailer checks before sending holds for the payload on every path."""
    message = _mail(PAYLOAD, PAYLOAD, sender=PAYLOAD)
    for raw in _wire(message)[1:]:
        assert logic.wire_header_names(raw) == list(message.keys())


@pytest.mark.parametrize(
    "address",
    [
        "=?utf-8?q?=0D=0ABcc=3A_x=40evil.example?=@evil.example",
        "ann@example.org\r\nBcc: x@evil.example",
        "ann@example.org>, <x@evil.example",
        '"ann"@example.org',
        "ann example@example.org",
        "ann@exa@mple.org",
    ],
)
def test_an_odd_address_is_not_mailable(address: str) -> None:
    """An address that a header or RCPT would not carry as it is gets no mail."""
    assert not logic.mailable(address)
    with pytest.raises(UnsafeHeader):
        logic.address("Ann", address)


def test_plain_addresses_are_mailable() -> None:
    """Everyday addresses pass."""
    assert all(logic.mailable(a) for a in ["ann@example.org", "a.b+c@d-e.example", "o'k@x.org"])


def test_a_recipient_with_an_odd_address_is_skipped_the_others_mailed() -> None:
    """One odd address in the directory costs only its own mail."""
    view = _view("Snow Day")
    odd = Recipient("c-2", "=?utf-8?q?=0D=0A?=@evil.example", "Odd")
    plan = logic.Plan("case_received", ("c-1", "c-2"))
    mails = _composer().case_mails(plan, view, [_ann(), odd], uuid4(), AT)
    assert [m.recipient for m in mails] == ["ann@example.org"]


@pytest.mark.parametrize("template", sorted(SUBJECTS))
def test_every_template_keeps_user_text_out_of_the_headers(template: str) -> None:
    """Every mail notify writes (case subject, names, release, issue, author, notice title
    and status all carrying the payload) has exactly our headers and parts."""
    context: dict[str, Any] = dict.fromkeys(
        ["development_issue", "release_name", "author", "actor", "note", "reason"], PAYLOAD
    )
    context |= {"from_status": "Assigned", "to_status": PAYLOAD, "meaning": "m", "body_text": "t"}
    context |= {"auto_close_days": 10, "reopen_days": 60, "closes_on": PAYLOAD}
    context |= {"business_days_left": 3, "attachments": [], "command_type": "case.reopen"}
    context |= {"target": PAYLOAD, "due_at": AT, "priority": PAYLOAD, "department": PAYLOAD}
    context |= {"percent_elapsed": 75, "title": PAYLOAD, "resolution": PAYLOAD}
    context["notice"] = {"title": PAYLOAD, "kind": "incident", "status": PAYLOAD, "body": "b"}
    context["notice"] |= {"starts": "s", "ends": None, "latest": None, "latest_at": None}
    plan = logic.Plan(template, ("c-1",), context)
    view = _view(PAYLOAD)
    [mail] = _composer().case_mails(plan, view, [_ann()], uuid4(), AT)
    for raw in _wire(mail.message):
        parsed = message_from_bytes(raw, policy=default_policy)
        assert sorted(set(parsed.keys())) == sorted(parsed.keys())
        [reply_to] = parsed["Reply-To"].addresses  # ours, for this case and recipient only
        reply = replies.parse_reply_address(logic.LOCAL_REPLY_KEY, reply_to.addr_spec)
        assert reply is not None
        assert reply.case_id == view.case_id
        assert reply.is_for(logic.LOCAL_REPLY_KEY, "c-1")
        parts = list(parsed.iter_parts())
        assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
        assert "<h1>" not in parts[1].get_content()


def _composer() -> Composer:
    return Composer(Renderer(), Sender(PAYLOAD, "support@test.invalid", "test.invalid"))


def _ann() -> Recipient:
    return Recipient("c-1", "ann@example.org", PAYLOAD, first_name=PAYLOAD)


def _view(subject: str) -> CaseView:
    case_id = uuid4()
    return CaseView(
        case_id=case_id,
        case_number=1227963,
        subject=subject,
        account_id="acct-1",
        owner_id="c-1",
        recipients=["c-1"],
        root_message_id="<c.root@test.invalid>",
        opened_at=AT,
    )


_DIRTY = st.sampled_from(list('=?qQbB8-_:<>@",;.()[]\\ \t\r\n\x00\x0b\x1c\x85\u2028\u2029aZ/é中🙂'))
_TEXT = st.text(alphabet=_DIRTY, max_size=250) | st.text(max_size=250)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=_TEXT, name=_TEXT)
def test_any_subject_and_name_serialize_to_our_headers_only(subject: str, name: str) -> None:
    """Property: for any text at all, the wire carries exactly our headers and parts, the
    subject and name as cleaned (the folder may add a space inside a long non-ASCII word)."""
    for raw in _wire(_mail(subject, name)):
        parsed = _assert_only_ours(raw)
        got = str(parsed["Subject"]).replace(" ", "")
        assert got == logic.clean_header(subject).replace(" ", "")
