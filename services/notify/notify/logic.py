"""Pure decisions of notify: the case view, who gets which mail, Message-IDs, safe headers."""

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import SecretStr

from notify.errors import UnsafeHeader
from notify.models import CaseView, Recipient
from shared import replies
from shared.enums import ActorKind, ContactType, Department, NoticeKind, Status, Visibility
from shared.events import (
    AnyCaseEvent,
    CaseAssigned,
    CaseFollowedUp,
    CaseRouted,
    CaseSubmitted,
    CommandRejected,
    Contact,
    IncidentLinked,
    LinkedIncidentResolved,
    Notice,
    PostAdded,
    RecipientsChanged,
    SlaBreached,
    SlaWarning,
    StaffMember,
    StatusChanged,
    submitted_event_id,
)
from shared.messages import Actor
from shared.workflow import AUTO_CLOSE_BUSINESS_DAYS, REOPEN_WINDOW_DAYS
from shared.zones import local_time

# What each status means to a district contact, in the words of the support portal guide.
STATUS_MEANING: dict[Status, str] = {
    Status.NEW: "The case has been created but not yet assigned to a Campus support resource.",
    Status.ASSIGNED: "The case has been assigned to a Campus support resource.",
    Status.ASSIST_REQUEST: "The case is pending the input of an internal Campus resource.",
    Status.PENDING_CUSTOMER_INPUT: (
        "The case requires additional information from an Authorized Support Contact "
        "in order to seek resolution."
    ),
    Status.PENDING_CUSTOMER_VERIFICATION: (
        "The case resolution is awaiting final confirmation from the Authorized Support Contact."
    ),
    Status.SCHEDULED: (
        "Action required to meet the request has been scheduled to take place on a future date, "
        "such as a planned training."
    ),
    Status.ASSIGNED_TO_DEVELOPMENT: (
        "The case has been escalated for Campus Development to modify functionality in the product."
    ),
    Status.CLOSED: (
        "The case has been resolved, meeting the needs of the user, and marked as complete."
    ),
    Status.AVAILABLE_IN_RELEASE: (
        "The issue reported in the case has been developed and is available in a Campus "
        "Release Pack."
    ),
    Status.RE_OPENED: (
        "The previously closed case has been re-opened and is awaiting further assistance "
        "from a Campus support resource."
    ),
}

_STATUS_TEMPLATES: dict[Status, str] = {
    Status.ASSIST_REQUEST: "status_assist_request",
    Status.PENDING_CUSTOMER_INPUT: "status_pending_customer_input",
    Status.PENDING_CUSTOMER_VERIFICATION: "status_pending_customer_verification",
    Status.SCHEDULED: "status_scheduled",
    Status.ASSIGNED_TO_DEVELOPMENT: "status_assigned_to_development",
    Status.AVAILABLE_IN_RELEASE: "status_available_in_release",
    Status.RE_OPENED: "status_re_opened",
    Status.CLOSED: "status_closed",
}

# What no header may carry: C0 and C1 controls (CR, LF, NUL, TAB, NEL...), DEL, the Unicode
# line and paragraph separators, and lone surrogates (which cannot be encoded at all).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# The start of an RFC 2047 encoded word. Python's email package decodes encoded words in the
# values it is given and, before 3.11.10 (CVE-2024-6923), writes decoded CR/LF back out raw.
_ENCODED_WORD = "=?"
# RFC 5322 specials: a display name holding one is quoted, and Python 3.11.7 drops the quotes
# when it folds a long one, so `Ann <x@evil>` would become an address of its own.
_SPECIALS = re.compile(r'[()<>@,:;."\[\]\\]')
_FIELD_NAME = re.compile(rb"[!-9;-~]+")  # RFC 5322 ftext
_ADDRESS_PART = r'[^\s"(),:;<>@\[\\\]\x00-\x1f\x7f-\x9f\ud800-\udfff]+'
_PLAIN_ADDRESS = re.compile(f"{_ADDRESS_PART}@{_ADDRESS_PART}")
_MAX_HEADER = 200
_MAIL_NAMESPACE = uuid.UUID("6f1d3c1e-4b8e-5a57-9d0e-6e6f74696679")


class Verdict(StrEnum):
    """What an SMTP reply code means for the mail."""

    RETRY = "retry"
    DROP_CONNECTION = "drop-connection"
    REJECT = "reject"


@dataclass(frozen=True)
class Plan:
    """A mail to compose: which template, for whom, with what event-specific context."""

    template: str
    recipients: tuple[str, ...]
    context: Mapping[str, Any] = field(default_factory=dict)
    staff: tuple[str, ...] = ()  # staff ids (the assignee), mailed at their directory address
    department: Department | None = None  # every active staff member of it is mailed too
    exclude: tuple[str, ...] = ()  # never mailed, e.g. an internal note's author in its department


@dataclass(frozen=True)
class Threading:
    """How case mail threads and is answered: the key signing its Message-IDs and reply
    addresses (shared.replies; intake verifies replies with the same key), the domain of its
    Message-IDs and that of its reply addresses."""

    key: SecretStr
    domain: str
    reply_domain: str

    def message_id(self, case_id: UUID, event_id: UUID, recipient: str | None = None) -> str:
        """The signed Message-ID (shared.replies) of the event's mail to `recipient`, or, with
        no recipient, of the event itself (the receipt: the case's thread root). One id per
        mail, not per event: the mail of each recipient differs (its Reply-To, what of the
        case it shows), and a mail store's lookup by id alone must find that mail only."""
        mail = event_id if recipient is None else mail_uuid(event_id, recipient)
        return replies.message_id(self.key, case_id, mail, clean_header(self.domain))

    def receipt_id(self, case_id: UUID) -> str:
        """The Message-ID of the case's receipt: that of its case.submitted event."""
        return self.message_id(case_id, submitted_event_id(case_id))

    def reply_to(self, case_id: UUID, recipient_key: str) -> str:
        """`case+<token>@<reply domain>`, bound to the case and this one recipient."""
        return replies.reply_address(self.key, case_id, recipient_key, self.reply_domain)


LOCAL_REPLY_KEY = SecretStr("local-mail-reply-key")


def local_threading(domain: str) -> Threading:
    """Threading with the local key (tests, and a local stack without MAIL_REPLY_KEY)."""
    return Threading(LOCAL_REPLY_KEY, domain, domain)


# --- the case view --------------------------------------------------------------------------


def view_of_submitted(event: CaseSubmitted, thread: Threading) -> CaseView:
    """A new case's view: the contact owns it and is its only recipient; the receipt's
    Message-ID (of the case.submitted event) is the root every later mail replies to."""
    return CaseView(
        case_id=event.case_id,
        case_number=event.case_number,
        subject=event.subject,
        account_id=event.account_id,
        owner_id=event.contact_id,
        recipients=[event.contact_id],
        root_message_id=thread.message_id(event.case_id, event.event_id),
        opened_at=event.occurred_at,
    )


def recipients_with_owner(owner_id: str, recipients: Iterable[str]) -> list[str]:
    """The owner first (never removable), then the others once each, in their order."""
    result = [owner_id]
    for recipient in recipients:
        if recipient and recipient not in result:
            result.append(recipient)
    return result


APPLIED_KEPT = 64


@dataclass(frozen=True)
class Step:
    """A case event applied to the view: the view after it, and the mail it causes."""

    view: CaseView | None
    plan: Plan | None = None


def step(view: CaseView | None, event: AnyCaseEvent, thread: Threading) -> Step:
    """Apply one case event to the case's view (None before the case is known)."""
    if isinstance(event, CaseSubmitted):
        new = view or view_of_submitted(event, thread)
        return Step(new, plan_submitted(new))
    if view is None:
        return Step(None)
    return _step_known(view, event)


def _step_known(view: CaseView, event: AnyCaseEvent) -> Step:
    match event:
        case SlaWarning() | SlaBreached():
            return Step(view, plan_sla(view, event))
        case StatusChanged():
            new = view.model_copy(update={"last_status": event.to_status})
            return Step(new, plan_status(new, event))
        case CaseRouted():  # a routed (or transferred) case arrives unassigned
            changes = {"department": event.department.value, "assignee": None, "assignee_id": None}
            return Step(view.model_copy(update=changes))
        case CaseAssigned():
            who = event.assignee.name if event.assignee else event.department.value
            changes = {
                "assignee": who,
                "assignee_id": event.assignee.id if event.assignee else None,
                "department": event.department.value,
            }
            return Step(view.model_copy(update=changes))
        case RecipientsChanged():
            listed = recipients_with_owner(view.owner_id, event.recipients)
            new = view.model_copy(update={"recipients": listed})
            return Step(new, plan_recipients_added(new, event))
        case PostAdded():
            return Step(view, plan_post(view, event))
        case CaseFollowedUp():
            return Step(view, plan_followed_up(view, event))
        case CommandRejected():
            return Step(view, plan_rejected(view, event))
        case IncidentLinked():  # no mail: the contact reads the link on the case's feed
            return Step(view)
        case LinkedIncidentResolved():
            return Step(view, plan_incident_resolved(view, event))
    return Step(view)


def applied(view: CaseView, event_id: UUID) -> bool:
    """True when this event was already applied to the stored view (a redelivery)."""
    return str(event_id) in view.applied


def remember(view: CaseView, event_id: UUID) -> CaseView:
    """The view noting `event_id` as applied (the newest few are kept)."""
    kept = [*view.applied, str(event_id)][-APPLIED_KEPT:]
    return view.model_copy(update={"applied": kept})


# --- who gets what --------------------------------------------------------------------------


def plan_submitted(view: CaseView) -> Plan:
    """Case received: the owner learns the case number."""
    return Plan("case_received", (view.owner_id,))


def status_template(event: StatusChanged) -> str:
    """The template for a status change; a close by the timer is the auto-close notice."""
    if event.to_status is Status.CLOSED and event.actor.kind is ActorKind.SYSTEM:
        return "status_auto_closed"
    return _STATUS_TEMPLATES.get(event.to_status, "status_changed")


def others(recipients: Iterable[str], actor: Actor) -> tuple[str, ...]:
    """The recipients but the one who acted: nobody is mailed about their own action."""
    return tuple(r for r in recipients if r != actor.id)


def plan_status(view: CaseView, event: StatusChanged) -> Plan | None:
    """A status change mails every current recipient but the one who made it; a contact's
    reopen also mails the assignee (or the department's staff)."""
    context = {
        "from_status": event.from_status.value,
        "to_status": event.to_status.value,
        "meaning": STATUS_MEANING[event.to_status],
        "note": event.note,
        "development_issue": event.development_issue,
        "release_name": event.release_name,
        "actor": event.actor.name,
        "actor_kind": event.actor.kind.value,
        "auto_close_days": AUTO_CLOSE_BUSINESS_DAYS,
        "reopen_days": REOPEN_WINDOW_DAYS,
    }
    recipients = others(view.recipients, event.actor)
    if event.actor.kind is ActorKind.CONTACT and event.to_status is Status.RE_OPENED:
        return _plan(status_template(event), recipients, context, *_handlers(view))
    return _plan(status_template(event), recipients, context)


def plan_post(view: CaseView, event: PostAdded) -> Plan | None:
    """A post mails the recipients but its author; a contact's post also mails the assignee
    (or the department's staff), who answer it."""
    context = {
        "author": event.author.name,
        "body_text": event.body_text,
        "attachments": [a.filename for a in event.attachments],
    }
    if event.visibility is Visibility.INTERNAL:
        return plan_internal_note(view, event, context)
    recipients = others(view.recipients, event.author)
    if event.author.kind is not ActorKind.CONTACT:
        return _plan("staff_post", recipients, context)
    return _plan("contact_post", recipients, context, *_handlers(view))


def plan_internal_note(view: CaseView, event: PostAdded, context: Mapping[str, Any]) -> Plan | None:
    """An internal note mails no contact: only the assignee (or with none the department's
    staff), never its author."""
    staff, department = _handlers(view)
    staff = others(staff, event.author)
    plan = _plan("internal_note", (), context, staff, department)
    return None if plan is None else replace(plan, exclude=(event.author.id,))


def _handlers(view: CaseView) -> tuple[tuple[str, ...], Department | None]:
    """Who works the case, to be told of a contact's post or reopen: the assignee, or with
    none the department's staff (nobody before the case is routed)."""
    if view.assignee_id:
        return (view.assignee_id,), None
    return (), Department(view.department) if view.department else None


def plan_followed_up(view: CaseView, event: CaseFollowedUp) -> Plan:
    """The auto-close reminder goes to every recipient."""
    context = {
        "closes_on": event.closes_on.strftime("%m/%d/%Y"),
        "business_days_left": event.business_days_left,
        "auto_close_days": AUTO_CLOSE_BUSINESS_DAYS,
    }
    return Plan("auto_close_reminder", tuple(view.recipients), context)


def plan_recipients_added(view: CaseView, event: RecipientsChanged) -> Plan | None:
    """Newly added recipients are told they will receive this case's notices; one who added
    themselves knows already."""
    added = [r for r in event.added if r in view.recipients and r != view.owner_id]
    return _plan("recipient_added", others(added, event.actor), {"actor": event.actor.name})


def plan_incident_resolved(view: CaseView, event: LinkedIncidentResolved) -> Plan | None:
    """The resolution of an incident the case is linked to mails every current recipient
    once (the event is routing's note, once per case and incident; nobody acted on the case).
    Linking or unlinking mails nobody."""
    context = {"title": event.title, "resolution": event.resolution.strip()}
    return _plan("linked_incident_resolved", tuple(view.recipients), context)


SLA_TARGETS = {"first_response": "first response", "resolution": "resolution"}


def plan_sla(view: CaseView, event: SlaWarning | SlaBreached) -> Plan:
    """An SLA warning or breach mails the assignee, or with none the department's staff."""
    context: dict[str, Any] = {
        "target": SLA_TARGETS.get(event.target, event.target),
        "due_at": event.due_at,
        "priority": event.priority.value,
        "department": event.department.value,
    }
    if isinstance(event, SlaWarning):
        context["percent_elapsed"] = event.percent_elapsed
        template = "sla_warning"
    else:
        template = "sla_breached"
    if event.assignee is not None:
        return Plan(template, (), context, staff=(event.assignee.id,))
    return Plan(template, (), context, department=event.department)


def plan_rejected(view: CaseView, event: CommandRejected) -> Plan | None:
    """A refused command is explained to the contact who sent it, and to nobody else (the
    refusal is the system's answer to them, not their own action)."""
    if event.actor.kind is not ActorKind.CONTACT:
        return None
    context = {"command_type": event.command_type, "reason": event.reason}
    return Plan("command_rejected", (event.actor.id,), context)


def _plan(
    template: str,
    recipients: tuple[str, ...],
    context: Mapping[str, Any],
    staff: tuple[str, ...] = (),
    department: Department | None = None,
) -> Plan | None:
    """A plan, or None when it would mail nobody."""
    if not recipients and not staff and department is None:
        return None
    return Plan(template, recipients, context, staff, department)


# What of a case's content only people who may read the case see in mail: the text of posts,
# the notes of status changes and the resolution of a linked incident (a notice may be aimed
# at districts only). Attachment names, the case number and subject stay.
CASE_CONTENT = ("body_text", "note", "resolution")


def for_reader(context: Mapping[str, Any], person: Recipient) -> dict[str, Any]:
    """The context as `person` may see it: without the case's content unless they may read
    the case (staff, or a contact of the case's district)."""
    if person.reads_case:
        return dict(context)
    return {**context, **dict.fromkeys(CASE_CONTENT)}


def notice_template(notice: Notice) -> str:
    """Incident and maintenance notices read differently."""
    return "notice_maintenance" if notice.kind is NoticeKind.MAINTENANCE else "notice_incident"


def notice_context(notice: Notice, time_zone: str | None) -> dict[str, Any]:
    """What notice templates show, with times in the reader's district zone."""
    latest = notice.updates[0] if notice.updates else None
    return {
        "title": notice.title,
        "kind": notice.kind.value,
        "status": notice.status.value,
        "body": notice.body,
        "starts": local_time(notice.starts_at, time_zone),
        "ends": local_time(notice.ends_at, time_zone),
        "latest": latest.body if latest else None,
        "latest_at": local_time(latest.at, time_zone) if latest else None,
    }


def notice_wanted(notice: Notice, mailed_revision: int | None) -> bool:
    """Only a revision newer than the last one mailed is news."""
    return mailed_revision is None or notice.revision > mailed_revision


def notice_addressee(contact: Contact, notice: Notice) -> bool:
    """Active authorized (not read-only) contacts of an affected district; none listed = all."""
    if not contact.active or contact.contact_type is ContactType.READ_ONLY:
        return False
    affected = notice.affected_account_ids
    return not affected or any(a in affected for a in contact.account_ids)


def notice_account(contact: Contact, notice: Notice) -> str:
    """The district whose time zone a notice is shown in for this contact."""
    affected = [a for a in contact.account_ids if a in notice.affected_account_ids]
    return (affected or contact.account_ids)[0]


# --- timing ----------------------------------------------------------------------------------


def too_old(occurred_at: datetime, now: datetime, max_age: timedelta) -> bool:
    """An event this old only updates views: a replay from offset 0 must not mail anyone."""
    return now - occurred_at > max_age


def still_waiting(occurred_at: datetime, now: datetime, grace: timedelta) -> bool:
    """An unknown recipient of a recent event is probably still on its way in the directory."""
    return now - occurred_at <= grace


# --- headers ---------------------------------------------------------------------------------


def clean_header(value: str, limit: int = _MAX_HEADER) -> str:
    """User text as one inert header line, whatever encoding it uses: control characters and
    line separators become spaces, whitespace runs one space, and `=?` becomes `= ?`, so no
    encoded word is ever decoded (here or by the reader's mail program) into a line break."""
    line = " ".join(_CONTROL.sub(" ", value).split())
    return line.replace(_ENCODED_WORD, "= ?")[:limit]


def display_name(name: str) -> str:
    """A person's name for an address header: `clean_header`, and specials become spaces, so
    the name is a plain phrase that is never quoted (nor folded out of its quotes)."""
    return clean_header(_SPECIALS.sub(" ", name))


def mailable(email: str) -> bool:
    """A bare address that a header and an SMTP command carry as it is: one `@`, no spaces,
    controls, quotes, brackets or encoded words (the directory's syntax check lets
    `=?...?=` through in a local part)."""
    return _PLAIN_ADDRESS.fullmatch(email) is not None and _ENCODED_WORD not in email


def mail_uuid(event_id: UUID, recipient: str) -> UUID:
    """The same (event, recipient address) always gets the same id."""
    return uuid.uuid5(_MAIL_NAMESPACE, f"{event_id}/{recipient.strip().lower()}")


def message_id(event_id: UUID, recipient: str, domain: str) -> str:
    """The Message-ID of a notice mail (no case): the same (event, recipient) gets the same."""
    return f"<{mail_uuid(event_id, recipient).hex}@{clean_header(domain)}>"


def address(name: str, email: str) -> Address:
    """A header address with a display name that cannot break the header; an address that
    is not `mailable` is refused (UnsafeHeader)."""
    if not mailable(email):
        raise UnsafeHeader(f"refusing to address mail to {email[:80]!r}")
    return Address(display_name=display_name(name), addr_spec=email)


@dataclass(frozen=True)
class Envelope:
    """Headers of one mail, before its body is attached."""

    sender: Address
    to: Recipient
    subject: str
    message_id: str
    occurred_at: datetime
    template: str
    thread_root: str | None = None
    reply_to: str | None = None  # the recipient's own reply address (shared.replies)
    case_number: int | None = None
    request_id: str | None = None  # of the request that caused the mail (shared.tracing)


class _MemoRegistry(HeaderRegistry):
    """The default header registry, building each header class once instead of per header."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        if key not in self._classes:
            self._classes[key] = super().__getitem__(name)
        return self._classes[key]


# The default policy in every respect; only its header factory memoises (a third of the CPU).
MAIL_POLICY = default_policy.clone(header_factory=_MemoRegistry())


def build_email(envelope: Envelope, text: str, html: str) -> EmailMessage:
    """A multipart/alternative mail (plain text, then HTML) with clean, threaded headers."""
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = envelope.sender
    message["To"] = address(envelope.to.name, envelope.to.email)
    message["Subject"] = clean_header(envelope.subject)
    message["Date"] = format_datetime(envelope.occurred_at)
    message["Message-ID"] = clean_header(envelope.message_id)
    _thread(message, envelope)
    if envelope.reply_to:
        message["Reply-To"] = address("", envelope.reply_to)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Support-Template"] = clean_header(envelope.template)
    if envelope.case_number is not None:
        message["X-Support-Case"] = str(envelope.case_number)
    if envelope.request_id:  # plain by tracing.accepted; cleaned all the same, like any header
        message["X-Request-ID"] = clean_header(envelope.request_id)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def wire_header_names(data: bytes) -> list[str] | None:
    """The header names of a serialized mail (CRLF lines), in order, up to the empty line
    that ends them; None when a line there is neither a header nor a continuation with text.
    Equal to the names the message was given, the bytes carry no header and no body of
    anyone else's (the mailer checks this before every send)."""
    head, end, _ = data.partition(b"\r\n\r\n")
    if not end:
        return None
    names: list[str] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not names or not line.strip():
                return None
            continue
        name, colon, _ = line.partition(b":")
        if not colon or not _FIELD_NAME.fullmatch(name):
            return None
        names.append(name.decode("ascii"))
    return names


def _thread(message: EmailMessage, envelope: Envelope) -> None:
    root = envelope.thread_root
    if root and root != envelope.message_id:
        message["In-Reply-To"] = clean_header(root)
        message["References"] = clean_header(root)


# --- SMTP replies ----------------------------------------------------------------------------


def smtp_verdict(code: int) -> Verdict:
    """5xx is final; 421 means the server is going away; other 4xx may pass later."""
    if code >= 500:
        return Verdict.REJECT
    if code == 421:
        return Verdict.DROP_CONNECTION
    return Verdict.RETRY


# --- recipients ------------------------------------------------------------------------------


def people_of(
    ids: Iterable[str], contacts: Mapping[str, Contact], time_zone: str, account_id: str = ""
) -> tuple[list[Recipient], list[str]]:
    """Recipients to mail (active contacts, or bare addresses) and ids not in the directory;
    a contact of the case's district (`account_id`) may read the case, a bare address not."""
    people: list[Recipient] = []
    missing: list[str] = []
    for key in ids:
        contact = contacts.get(key)
        if contact is not None:
            if contact.active:
                reads = account_id in contact.account_ids
                people.append(person_of(contact, time_zone, reads_case=reads))
        elif "@" in key:
            people.append(Recipient(key=key, email=key, name="", time_zone=time_zone))
        else:
            missing.append(key)
    return _unique(people), missing


def person_of(contact: Contact, time_zone: str, *, reads_case: bool = False) -> Recipient:
    """A directory contact as a recipient."""
    return Recipient(
        key=contact.id,
        email=str(contact.email),
        name=contact.display_name,
        time_zone=time_zone,
        first_name=contact.first_name,
        reads_case=reads_case,
    )


def staff_of(
    ids: Iterable[str], staff: Mapping[str, StaffMember], time_zone: str
) -> tuple[list[Recipient], list[str]]:
    """Staff to mail (active members, at their directory address; staff read every case)
    and ids not in the directory."""
    people: list[Recipient] = []
    missing: list[str] = []
    for key in ids:
        member = staff.get(key)
        if member is None:
            missing.append(key)
        elif member.active:
            first = member.name.split()[0] if member.name.split() else ""
            person = Recipient(
                key, str(member.email), member.name, time_zone, first, reads_case=True, staff=True
            )
            people.append(person)
    return people, missing


def joined(people: list[Recipient], others: list[Recipient]) -> list[Recipient]:
    """`people`, then those of `others` not among them (by address), each once."""
    return _unique([*people, *others])


def _unique(people: list[Recipient]) -> list[Recipient]:
    seen: set[str] = set()
    result = []
    for person in people:
        if person.email.lower() not in seen:
            seen.add(person.email.lower())
            result.append(person)
    return result
