"""Jinja2 rendering of notify's templates and composition of one mail per recipient."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from email.headerregistry import Address
from pathlib import Path
from typing import Any
from uuid import UUID

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from notify.logic import (
    Envelope,
    Plan,
    Threading,
    address,
    build_email,
    for_reader,
    local_threading,
    mailable,
    message_id,
    notice_context,
    notice_template,
)
from notify.models import CaseView, Mail, Recipient
from shared import tracing
from shared.events import Notice
from shared.replies import subject_tag
from shared.zones import local_time

log = logging.getLogger("notify.render")

TEMPLATES = Path(__file__).with_name("templates")

# Every mail about a case has the same subject (shared.replies.subject_tag, then the case's
# subject), so mail clients keep the case in one thread; what happened is said in the body.
# Notices are no case: their subject says what they are.
CASE_SUBJECT = "{{ case.tag }} {{ case.subject }}"
CASE_TEMPLATES = (
    "case_received",
    "status_changed",
    "status_assist_request",
    "status_pending_customer_input",
    "status_pending_customer_verification",
    "status_scheduled",
    "status_assigned_to_development",
    "status_available_in_release",
    "status_re_opened",
    "status_closed",
    "status_auto_closed",
    "auto_close_reminder",
    "sla_warning",
    "sla_breached",
    "staff_post",
    "contact_post",
    "internal_note",
    "recipient_added",
    "command_rejected",
)
SUBJECTS: dict[str, str] = {
    **dict.fromkeys(CASE_TEMPLATES, CASE_SUBJECT),
    # The case's subject, then the news: the tag and subject still thread and answer it.
    # ASCII quotes: Python 3.11 folds `“Gradebook down”` into two encoded words, and readers
    # drop the space between them ("“Gradebookdown”").
    "linked_incident_resolved": CASE_SUBJECT + ' - The incident "{{ title }}" is resolved',
    "notice_incident": "[Incident - {{ notice.status }}] {{ notice.title }}",
    "notice_maintenance": "[Maintenance - {{ notice.status }}] {{ notice.title }}",
}
LOCAL_PORTAL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class Rendered:
    """Subject, plain text and HTML of one mail."""

    subject: str
    text: str
    html: str


class Renderer:
    """Renders `<name>.txt` and `<name>.html` (autoescaped) from notify/templates/."""

    def __init__(self, folder: Path = TEMPLATES) -> None:
        loader = FileSystemLoader(folder)
        self.html = Environment(
            loader=loader, autoescape=select_autoescape(["html"]), undefined=StrictUndefined
        )
        self.text = Environment(loader=loader, autoescape=False, undefined=StrictUndefined)
        self.subjects = {name: self.text.from_string(src) for name, src in SUBJECTS.items()}

    def render(self, name: str, context: Mapping[str, Any]) -> Rendered:
        """All three parts of template `name`; a missing variable is an error, not a blank."""
        return Rendered(
            subject=self.subjects[name].render(context),
            text=self.text.get_template(f"{name}.txt").render(context),
            html=self.html.get_template(f"{name}.html").render(context),
        )


@dataclass(frozen=True)
class Sender:
    """Who notify's mail comes from, and the domain of its Message-IDs."""

    name: str
    email: str
    domain: str

    @property
    def address(self) -> Address:
        """The From header address."""
        return address(self.name, self.email)


class Composer:
    """Turns a plan and resolved recipients into one finished mail per recipient."""

    def __init__(
        self,
        renderer: Renderer,
        sender: Sender,
        portal_url: str = LOCAL_PORTAL,
        threading: Threading | None = None,
    ) -> None:
        self.renderer = renderer
        self.sender = sender
        self.portal_url = portal_url.rstrip("/")
        self.threading = threading or local_threading(sender.domain)

    def case_mails(
        self, plan: Plan, view: CaseView, people: list[Recipient], event_id: UUID, at: datetime
    ) -> list[Mail]:
        """Mails about one case, threaded under its root Message-ID."""
        return [self._case_mail(plan, view, p, event_id, at) for p in addressable(people)]

    def _case_mail(
        self, plan: Plan, view: CaseView, person: Recipient, event_id: UUID, at: datetime
    ) -> Mail:
        context = for_reader(plan.context, person)
        for name, value in plan.context.items():  # a time is shown in the reader's zone
            if isinstance(value, datetime):
                context[name] = local_time(value, person.time_zone)
        context["case"] = case_context(view, self.portal_url, staff=person.staff)
        context["recipient"] = person
        context["portal_url"] = self.portal_url
        context["when"] = local_time(at, person.time_zone)
        mid = self._message_id(plan, view, person, event_id)
        envelope = Envelope(
            self.sender.address, person, "", mid, at, plan.template,
            thread_root=view.root_message_id, case_number=view.case_number,
            reply_to=self.threading.reply_to(view.case_id, person.key),
        )  # fmt: skip
        return self._finish(envelope, context, event_id, view.case_id)

    def _message_id(self, plan: Plan, view: CaseView, person: Recipient, event_id: UUID) -> str:
        # The receipt is the first mail of the case (to its owner alone): it *is* the root.
        if plan.template == "case_received":
            return view.root_message_id
        return self.threading.message_id(view.case_id, event_id, person.email)

    def notice_mails(
        self, notice: Notice, people: list[Recipient], event_id: UUID, at: datetime
    ) -> list[Mail]:
        """Mails about an incident or maintenance notice (no case thread), times per district."""
        template = notice_template(notice)
        mails = []
        for person in addressable(people):
            context = {"recipient": person, "notice": notice_context(notice, person.time_zone)}
            context["portal_url"] = self.portal_url
            context["when"] = local_time(at, person.time_zone)
            mid = message_id(event_id, person.email, self.sender.domain)
            envelope = Envelope(self.sender.address, person, "", mid, at, template)
            mails.append(self._finish(envelope, context, event_id, None))
        return mails

    def _finish(
        self, envelope: Envelope, context: dict[str, Any], event_id: UUID, case_id: UUID | None
    ) -> Mail:
        rendered = self.renderer.render(envelope.template, context)
        # the request being handled (bound from the event's record) rides along in the mail
        envelope = replace(envelope, subject=rendered.subject, request_id=tracing.current())
        message = build_email(envelope, rendered.text, rendered.html)
        return Mail(
            event_id=event_id,
            recipient=envelope.to.email,
            message_id=envelope.message_id,
            template=envelope.template,
            message=message,
            case_id=case_id,
            request_id=envelope.request_id,
        )


def addressable(people: list[Recipient]) -> list[Recipient]:
    """The people whose address can be written into a header; the others are skipped with a
    warning (one odd address must not cost the event's other recipients their mail)."""
    kept = [person for person in people if mailable(person.email)]
    if len(kept) < len(people):
        skipped = [p.email[:80] for p in people if p not in kept]
        log.warning("skipping recipients whose address cannot be mailed: %r", skipped)
    return kept


def case_context(
    view: CaseView, portal_url: str = LOCAL_PORTAL, *, staff: bool = False
) -> dict[str, Any]:
    """What templates may show about a case, with its page in the portal (the staff
    workspace's page for a staff reader)."""
    return {
        "number": view.case_number,
        "url": case_url(portal_url, view.case_number, staff=staff),
        "tag": subject_tag(view.case_number),
        "subject": view.subject,
        "status": view.last_status.value,
        "department": view.department,
        "assignee": view.assignee,
    }


def case_url(portal_url: str, case_number: int, *, staff: bool = False) -> str:
    """The case's page in the Support Portal: `/cases/{number}` for a contact,
    `/staff/cases/{number}` (the staff workspace, vendor sign-in) for a staff member."""
    area = "/staff/cases" if staff else "/cases"
    return f"{portal_url.rstrip('/')}{area}/{case_number}"
