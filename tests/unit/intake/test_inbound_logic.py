"""Inbound mail rules: loops ignored, replies matched to cases, only new text, file limits."""

from email.message import EmailMessage
from uuid import UUID

import pytest

from intake import mail_logic
from intake.mail_logic import Ignored, MailFile, MatchedBy
from shared.replies import message_id, reply_address

KEY = "local-test-mail-reply-key"
CASE = UUID("0b9a3c1e-5d2f-4a6b-8c7d-1e2f3a4b5c6d")
OTHER_CASE = UUID("7d6c5b4a-3f2e-4d1c-9b8a-6f5e4d3c2b1a")
EVENT = UUID("f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9")
DOMAIN = "support-portal.local"
ZACK = "zack.morris@bayside.example"
OWN = ["support@support-portal.local"]


def mail(text: str = "Thanks, it works now.", **headers: str) -> EmailMessage:
    """A plain reply from Zack with the given headers (underscores as dashes)."""
    message = EmailMessage()
    message["From"] = f"Zack Morris <{ZACK}>"
    message["To"] = "support@support-portal.local"
    message["Subject"] = "Re: your case"
    for name, value in headers.items():
        del message[name.replace("_", "-")]
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return mail_logic.parse(message.as_bytes())


def ignored(message: EmailMessage, mail_from: str = ZACK) -> Ignored | None:
    """Why the message is ignored, as the listener asks it."""
    return mail_logic.ignored(message, mail_from, mail_logic.sender_of(message), OWN, KEY)


def test_a_person_reply_is_not_ignored() -> None:
    """A plain reply from a person, and one marked Auto-Submitted: no, are handled."""
    assert ignored(mail()) is None
    assert ignored(mail(Auto_Submitted="no")) is None


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto_Submitted": "auto-replied"}, Ignored.AUTO_SUBMITTED),
        ({"Auto_Submitted": "auto-generated; owner-email=x@y"}, Ignored.AUTO_SUBMITTED),
        ({"X_Autoreply": "yes"}, Ignored.AUTO_SUBMITTED),
        ({"Precedence": "bulk"}, Ignored.BULK),
        ({"Precedence": "List"}, Ignored.BULK),
        ({"Precedence": "junk"}, Ignored.BULK),
        ({"From": "Campus Support <SUPPORT@support-portal.local>"}, Ignored.OURS),
        ({"From": "MAILER-DAEMON@mx.bayside.example"}, Ignored.SYSTEM_SENDER),
    ],
)
def test_loops_and_floods_ignored(headers: dict[str, str], reason: Ignored) -> None:
    """Auto-replies, bulk and list mail, our own mail and mail systems are never answered."""
    assert ignored(mail(**headers)) is reason


def test_null_sender_ignored() -> None:
    """A delivery report (empty MAIL FROM) is never answered."""
    assert ignored(mail(), mail_from="") is Ignored.NULL_SENDER


def test_mail_from_one_of_our_reply_addresses_ignored() -> None:
    """A message whose From is one of our reply addresses is ours, looping back."""
    ours = reply_address(KEY, CASE, "zack-morris", DOMAIN)
    assert ignored(mail(From=ours)) is Ignored.OURS


def test_match_by_in_reply_to_first() -> None:
    """In-Reply-To names the case even when the subject tags another one."""
    found = mail_logic.match_case(
        mail(In_Reply_To=message_id(KEY, CASE, EVENT, DOMAIN), Subject="Re: [Case 1000009] x"),
        [reply_address(KEY, OTHER_CASE, "zack-morris", DOMAIN)],
        KEY,
    )
    assert found == mail_logic.CaseMatch(MatchedBy.THREAD, case_id=CASE)


def test_match_by_references_when_in_reply_to_is_foreign() -> None:
    """A References id of ours names the case when In-Reply-To is someone else's."""
    references = f"<a@mail.example.org> {message_id(KEY, CASE, EVENT, DOMAIN)}"
    found = mail_logic.match_case(
        mail(In_Reply_To="<b@mail.example.org>", References=references), [], KEY
    )
    assert found is not None
    assert found.case_id == CASE


def test_match_by_reply_address_then_subject() -> None:
    """Without a thread, the reply address decides; without that, the subject tag."""
    address = reply_address(KEY, CASE, "zack-morris", DOMAIN)
    by_address = mail_logic.match_case(mail(Subject="Re: [Case 1000009]"), [address], KEY)
    assert by_address is not None
    assert (by_address.by, by_address.case_id) == (MatchedBy.REPLY_ADDRESS, CASE)
    by_subject = mail_logic.match_case(mail(Subject="RE: [Case 1000009] x"), [OWN[0]], KEY)
    assert by_subject == mail_logic.CaseMatch(MatchedBy.SUBJECT, case_number=1000009)


def test_tampered_thread_and_address_match_nothing() -> None:
    """A forged Message-ID or reply address, without a subject tag, names no case."""
    forged_id = message_id("another-key", CASE, EVENT, DOMAIN)
    forged_address = reply_address("another-key", CASE, "zack-morris", DOMAIN)
    assert mail_logic.match_case(mail(In_Reply_To=forged_id), [forged_address], KEY) is None


def test_only_new_text_kept() -> None:
    """The quoted history and the signature are stripped from a text reply."""
    text = (
        "Thanks, that fixed it.\nThe gradebook opens now.\n\nBest regards,\nZack Morris\n\n"
        "On Tue, Dec 1, 2026 at 10:00 AM Campus Support <support@support-portal.local> wrote:\n"
        "> Your case 1000003 was updated.\n> Please reply.\n"
    )
    assert mail_logic.new_text(mail(text)) == "Thanks, that fixed it.\nThe gradebook opens now."


def test_outlook_original_message_stripped() -> None:
    """Outlook's "-----Original Message-----" block is history too."""
    text = "Works now.\n\n-----Original Message-----\nFrom: Campus Support\nSubject: x\n\nold\n"
    assert mail_logic.new_text(mail(text)) == "Works now."


def test_html_only_reply_becomes_text_without_the_quote() -> None:
    """An HTML-only reply is read as text, its blockquote (the history) and markup left out."""
    message = EmailMessage()
    message["From"] = ZACK
    message.set_content(
        "<html><head><style>p{color:red}</style></head><body><p>Still <b>broken</b>.</p>"
        "<p>Screenshot&nbsp;attached.</p><blockquote>Your case was updated</blockquote>"
        "<script>alert(1)</script></body></html>",
        subtype="html",
    )
    text = mail_logic.new_text(mail_logic.parse(message.as_bytes()))
    assert text == "Still broken.\nScreenshot attached."


def test_text_to_html_escapes() -> None:
    """Text becomes paragraphs and line breaks, with markup escaped, never interpreted."""
    html = mail_logic.text_to_html("Hi <script>x</script>\nline two\n\nnext & last")
    assert html == "<p>Hi &lt;script&gt;x&lt;/script&gt;<br>line two</p><p>next &amp; last</p>"


def test_attachments_found_in_order() -> None:
    """Named parts are the mail's files, in order, the text body not among them."""
    message = EmailMessage()
    message["From"] = ZACK
    message.set_content("see files")
    message.add_attachment(b"%PDF-1.4 a", maintype="application", subtype="pdf", filename="a.pdf")
    message.add_attachment("b text", filename="b.txt")
    files = mail_logic.attachments(mail_logic.parse(message.as_bytes()))
    assert [(f.filename, f.content_type) for f in files] == [
        ("a.pdf", "application/pdf"),
        ("b.txt", "text/plain"),
    ]
    assert files[0].content == b"%PDF-1.4 a"


def test_eleven_files_keep_ten() -> None:
    """Of 11 files the first 10 are kept and the 11th is named as dropped."""
    files = [MailFile(f"f{i}.txt", "text/plain", b"x") for i in range(1, 12)]
    kept, dropped = mail_logic.within_limits(files, 10, 15 * 2**20)
    assert [f.filename for f in kept] == [f"f{i}.txt" for i in range(1, 11)]
    assert [(d.filename, d.reason) for d in dropped] == [("f11.txt", "more than 10 files per post")]


def test_too_large_file_dropped() -> None:
    """A file over 15 MB is dropped with its size, and does not take a place."""
    big = MailFile("big.zip", "application/zip", b"x" * (15 * 2**20 + 1))
    small = MailFile("small.txt", "text/plain", b"x")
    kept, dropped = mail_logic.within_limits([big, small], 1, 15 * 2**20)
    assert kept == [small]
    assert dropped[0].filename == "big.zip"
    assert dropped[0].reason == "15.0 MB, over the 15 MB limit per file"


def test_post_key_is_the_message_id() -> None:
    """The same Message-ID is the same post, whatever its case; without one, the bytes are."""
    assert mail_logic.post_key("<A@b>", b"one") == mail_logic.post_key("<a@b>", b"two")
    assert mail_logic.post_key(None, b"one") != mail_logic.post_key(None, b"two")


def test_refusal_names_no_case() -> None:
    """The bounce to a stranger says how to post and names no case."""
    answer = mail_logic.refusal("http://127.0.0.1:8000")
    assert "http://127.0.0.1:8000" in answer.text
    assert "Case" not in answer.subject
    assert "100" not in answer.text


def test_closed_case_answers() -> None:
    """A reply on a closed case is told how to reopen it, or after 60 days to open a new one."""
    url = "http://127.0.0.1:8000/cases/1000003"
    within = mail_logic.closed_notice(1000003, True, url)
    beyond = mail_logic.closed_notice(1000003, False, url)
    assert within.subject == "[Case 1000003] This case is closed"
    assert "reopen the case on its page" in within.text
    assert url in within.text
    assert "submit a new case and mention case 1000003" in beyond.text


def test_answer_never_copies_a_crafted_header() -> None:
    """An In-Reply-To carrying a line break is left out of our answer, and the answer is
    marked auto-replied so no responder answers it."""
    answer = mail_logic.Answer("s", "t")
    crafted = "<a@b>\r\nBcc: victim@example.org"
    sent = mail_logic.compose(answer, ZACK, OWN[0], crafted, "<x@support-portal.local>")
    assert sent["In-Reply-To"] is None
    assert b"victim" not in sent.as_bytes()
    assert sent["Auto-Submitted"] == "auto-replied"
    kept = mail_logic.compose(answer, ZACK, OWN[0], "<a@b>", "<x@support-portal.local>")
    assert kept["In-Reply-To"] == "<a@b>"
