"""Pure rules of inbound mail: what a reply is, whose, for which case, and what of it to keep."""

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses
from enum import StrEnum
from uuid import UUID, uuid5

import nh3
from mailparser_reply import EmailReplyParser  # type: ignore[import-untyped]

from shared.replies import (
    Key,
    case_number_in_subject,
    case_of_message_ids,
    parse_reply_address,
)

INBOUND_POSTS = UUID("6a0f3d2e-9c4b-4e1a-8f5d-2b7c1e9a4d63")
ORIGINAL_NAME = "original message.eml"
ORIGINAL_TYPE = "message/rfc822"
# Languages whose "On ... wrote:" lines and signatures mail-parser-reply knows; English is
# always included. The districts write English; German and French clients are common too.
REPLY_LANGUAGES = ["en", "de", "fr", "es"]
BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
# Senders that are mail systems, not people: never posted, never answered.
SYSTEM_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster", "noreply", "no-reply"})
# Headers some auto-responders set instead of (or beside) RFC 3834's Auto-Submitted.
AUTO_REPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-auto-response")
# A header value we may copy into our own mail: one printable, bracketed id, nothing else.
_SAFE_ID = re.compile(r"<[!-;=?-~]{1,250}>")
_PARAGRAPH = re.compile(r"\n\s*\n")


class Ignored(StrEnum):
    """Why a message is recorded but neither posted nor answered."""

    AUTO_SUBMITTED = "auto-submitted"
    BULK = "bulk or list mail"
    OURS = "sent by this system"
    NULL_SENDER = "a delivery report (null sender)"
    SYSTEM_SENDER = "sent by a mail system"
    NO_SENDER = "no From address"


class MatchedBy(StrEnum):
    """How a reply was matched to its case."""

    THREAD = "in-reply-to/references"
    REPLY_ADDRESS = "reply address"
    SUBJECT = "subject tag"


@dataclass(frozen=True)
class CaseMatch:
    """The case a reply names: by id (thread or reply address) or by number (subject tag)."""

    by: MatchedBy
    case_id: UUID | None = None
    case_number: int | None = None
    recipient_tag: str | None = None


@dataclass(frozen=True)
class MailFile:
    """One attachment of a mail."""

    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Dropped:
    """An attachment left out of the post, and why."""

    filename: str
    reason: str


@dataclass(frozen=True)
class Reply:
    """What a parsed inbound message says, read once from its bytes."""

    message: EmailMessage
    sender: str | None
    message_id: str | None
    subject: str
    new_text: str
    files: list[MailFile] = field(default_factory=list)


def parse(raw: bytes) -> EmailMessage:
    """The message, parsed with the modern policy; its headers are read, never re-emitted.

    Python 3.11's email package can fold a crafted header into two when writing it out
    (CVE-2024-6923), so nothing of an inbound header is ever copied into mail we send,
    except a Message-ID that passes `safe_id`.
    """
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)  # policy.default builds EmailMessage
    return message


def header(message: Message, name: str) -> str:
    """A header's value as text, empty when absent or unreadable."""
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError):  # a malformed header the parser kept raw
        return ""
    return "" if value is None else str(value).strip()


def sender_of(message: Message) -> str | None:
    """The From address, lower-cased; None when there is none or it is not one address."""
    found = [address for _, address in getaddresses([header(message, "From")]) if address]
    if len(found) != 1 or "@" not in found[0]:
        return None
    return found[0].strip().lower()


def safe_id(value: str | None) -> str | None:
    """A Message-ID fit to quote in our own In-Reply-To header, or None."""
    value = (value or "").strip()
    return value if _SAFE_ID.fullmatch(value) else None


def ignored(
    message: Message, mail_from: str, sender: str | None, own: Iterable[str], key: Key
) -> Ignored | None:
    """Why a message must never be posted nor answered (loops and floods), if it must not."""
    auto = header(message, "Auto-Submitted").split(";")[0].strip().lower()
    if auto and auto != "no":
        return Ignored.AUTO_SUBMITTED
    if any(header(message, name) for name in AUTO_REPLY_HEADERS):
        return Ignored.AUTO_SUBMITTED
    if header(message, "Precedence").lower() in BULK_PRECEDENCE:
        return Ignored.BULK
    if not mail_from.strip("<> "):
        return Ignored.NULL_SENDER
    if sender is None:
        return Ignored.NO_SENDER
    if sender in {o.strip().lower() for o in own} or parse_reply_address(key, sender):
        return Ignored.OURS
    if sender.partition("@")[0] in SYSTEM_LOCAL_PARTS:
        return Ignored.SYSTEM_SENDER
    return None


def match_case(message: Message, recipients: Iterable[str], key: Key) -> CaseMatch | None:
    """The case a reply names: In-Reply-To, then References, then a reply address, then
    the subject's `[Case N]` tag."""
    for name in ("In-Reply-To", "References"):
        case_id = case_of_message_ids(key, header(message, name))
        if case_id is not None:
            return CaseMatch(MatchedBy.THREAD, case_id=case_id)
    for address in recipients:
        parsed = parse_reply_address(key, address)
        if parsed is not None:
            return CaseMatch(MatchedBy.REPLY_ADDRESS, parsed.case_id, None, parsed.recipient_tag)
    number = case_number_in_subject(header(message, "Subject"))
    return CaseMatch(MatchedBy.SUBJECT, case_number=number) if number else None


def post_key(message_id: str | None, raw: bytes) -> str:
    """What makes a redelivered message the same post: its Message-ID, else its bytes."""
    if message_id:
        return f"mail:{message_id.strip().lower()}"
    return f"mail-bytes:{uuid5(INBOUND_POSTS, raw.hex())}"


def new_text(message: EmailMessage) -> str:
    """Only what the sender wrote this time: quotes and signature removed.

    The text part is preferred; an HTML-only reply is converted to text first, so the quote
    and signature rules apply to it alike (and nothing of its markup survives).
    """
    text = body_text(message)
    if not text.strip():
        return ""
    replies = EmailReplyParser(languages=REPLY_LANGUAGES).read(text).replies
    newest = replies[0].body if replies else ""
    return newest.strip() or text.strip()


def body_text(message: EmailMessage) -> str:
    """The message's text: its text/plain body, else its HTML body as text."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # unknown charset, broken encoding
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    return html_to_text(content) if part.get_content_subtype() == "html" else content


_BLOCK_END = re.compile(r"</(p|div|li|tr|h[1-6]|blockquote|pre)\s*>|<br\s*/?>", re.IGNORECASE)
_QUOTE_BLOCK = re.compile(r"<blockquote\b.*?</blockquote\s*>", re.IGNORECASE | re.DOTALL)
_DROPPED_ELEMENTS = re.compile(r"<(style|script|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def html_to_text(markup: str) -> str:
    """HTML as plain text: blocks become lines, quoted blocks (the history) are left out."""
    markup = _DROPPED_ELEMENTS.sub("", markup)
    markup = _QUOTE_BLOCK.sub("", markup)
    markup = _BLOCK_END.sub("\n", markup)
    text = html.unescape(nh3.clean(markup, tags=set()))
    lines = [line.strip() for line in text.replace("\xa0", " ").splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def text_to_html(text: str) -> str:
    """Plain text as the post's HTML: paragraphs and line breaks, everything escaped."""
    paragraphs = [p.strip() for p in _PARAGRAPH.split(text.strip()) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.splitlines()) + "</p>"
        for p in paragraphs
    )


def attachments(message: EmailMessage) -> list[MailFile]:
    """The files a mail carries (named parts and parts marked as attachments), in order."""
    body = message.get_body(preferencelist=("plain", "html"))
    found: list[MailFile] = []
    for part in message.walk():
        if part.is_multipart() or part is body:
            continue
        name = part.get_filename()
        if not name and part.get_content_disposition() != "attachment":
            continue
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        found.append(MailFile(name or "attachment", part.get_content_type(), content))
    return found


def within_limits(
    files: list[MailFile], max_files: int, max_bytes: int
) -> tuple[list[MailFile], list[Dropped]]:
    """The files the post takes (each within `max_bytes`, the first `max_files`), and the rest."""
    kept: list[MailFile] = []
    dropped: list[Dropped] = []
    for mail_file in files:
        if len(mail_file.content) > max_bytes:
            size = f"{len(mail_file.content) / 2**20:.1f} MB"
            limit = f"{max_bytes / 2**20:g} MB"
            dropped.append(Dropped(mail_file.filename, f"{size}, over the {limit} limit per file"))
        elif len(kept) >= max_files:
            dropped.append(Dropped(mail_file.filename, f"more than {max_files} files per post"))
        else:
            kept.append(mail_file)
    return kept, dropped


def printable(text: str, limit: int = 120) -> str:
    """A sender-supplied value made safe to show in our mail's body: one line, bounded."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text)
    return flat[:limit]


# --- the mail we send back ----------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A short mail back to the sender of a reply."""

    subject: str
    text: str


def refusal(portal_url: str) -> Answer:
    """The one polite bounce to a sender who may not post there: it names no case."""
    return Answer(
        "Your message could not be added to a support case",
        "Hello,\n\n"
        "we received your email, but could not add it to a support case: replies are "
        "accepted only from the address of a contact who may post on the case.\n\n"
        "If you have a support account, sign in to the Support Portal and post there, "
        f"or reply from the address your account uses:\n{portal_url}\n\n"
        "This message was sent automatically; replies to it are not read.\n",
    )


def dropped_notice(case_number: int, dropped: list[Dropped], case_url: str) -> Answer:
    """The mail naming the attachments the post left out."""
    lines = "\n".join(f"- {printable(d.filename)}: {d.reason}" for d in dropped)
    return Answer(
        f"[Case {case_number}] Some attachments were not added",
        "Hello,\n\n"
        f"your reply was added to case {case_number}, but these attachments were not:\n\n"
        f"{lines}\n\n"
        "A post takes up to 10 files of at most 15 MB each. You can add the missing files "
        f"on the case page:\n{case_url}\n",
    )


def closed_notice(case_number: int, reopenable: bool, case_url: str) -> Answer:
    """The mail to a contact replying on a closed case: reopen it, or open a new one."""
    if reopenable:
        text = (
            f"your reply was added to case {case_number}, which is closed. If the issue is "
            "not resolved, reopen the case on its page (within 60 days of closing):\n"
            f"{case_url}\n"
        )
    else:
        text = (
            f"your reply was added to case {case_number}, which closed more than 60 days ago "
            "and can no longer be reopened. If you still need help, please submit a new case "
            f"and mention case {case_number}:\n{case_url}\n"
        )
    return Answer(f"[Case {case_number}] This case is closed", f"Hello,\n\n{text}")


def compose(
    answer: Answer, to: str, mail_from: str, in_reply_to: str | None, message_id: str
) -> EmailMessage:
    """Our answer as a mail: built from our own values only (see `parse`)."""
    mail = EmailMessage(policy=policy.SMTP)
    mail["From"] = Address("Campus Support", addr_spec=mail_from)
    mail["To"] = to
    mail["Subject"] = answer.subject
    mail["Message-ID"] = message_id
    mail["Auto-Submitted"] = "auto-replied"  # RFC 3834: other systems never answer it
    mail["Precedence"] = "bulk"
    mail["X-Auto-Response-Suppress"] = "All"
    if (quoted := safe_id(in_reply_to)) is not None:
        mail["In-Reply-To"] = quoted
        mail["References"] = quoted
    mail.set_content(answer.text)
    return mail
