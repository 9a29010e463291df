"""Command contracts on case.commands: requests the routing workflow accepts or rejects."""

import unicodedata
from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints, TypeAdapter

from shared.enums import Department, Priority, Status
from shared.messages import NOTICE_ID_PATTERN, Actor, Message, StaffRef, Triage

TEXT_MAX = 32_000  # characters of a note, resolution, question or reopen details
BLANK_RULE = "must not be blank: write some text (spaces, tabs and line breaks alone do not count)"


def is_blank(text: str | None) -> bool:
    """True for None and for text with nothing visible: only whitespace, control or format
    characters (e.g. zero-width spaces)."""
    return text is None or all(c.isspace() or unicodedata.category(c) in ("Cc", "Cf") for c in text)


def _not_blank(text: str) -> str:
    if is_blank(text):
        raise ValueError(BLANK_RULE)
    return text


NonBlank = AfterValidator(_not_blank)
"""The rule for every required text, after its length: `Annotated[str, Field(...), NonBlank]`."""

NonBlankText = Annotated[str, StringConstraints(min_length=1, max_length=TEXT_MAX), NonBlank]
"""A required note, resolution, question or reopen details: 1 to 32,000 characters with
something visible after trimming; the text is kept as written."""


class CaseCommand(Message):
    """A request to change one case; `event_id` is the command id."""

    case_id: UUID
    actor: Actor


class CloseCase(CaseCommand):
    """Close the case (a contact satisfied with the resolution, staff, or the timer)."""

    type: Literal["case.close"] = "case.close"
    note: str | None = Field(None, max_length=32_000)


class ReopenCase(CaseCommand):
    """Reopen a closed case within 60 days, with additional details for investigation."""

    type: Literal["case.reopen"] = "case.reopen"
    details: NonBlankText


class ChangeStatus(CaseCommand):
    """Move the case to another status (staff), with what that status needs."""

    type: Literal["case.change_status"] = "case.change_status"
    to_status: Status
    note: str | None = Field(None, max_length=32_000, description="Resolution or escalation note.")
    development_issue: str | None = Field(None, max_length=64)
    release_name: str | None = Field(None, max_length=128)


class AssignCase(CaseCommand):
    """Assign the case to a staff member, or let the department's policy pick (None)."""

    type: Literal["case.assign"] = "case.assign"
    assignee: StaffRef | None = None


class FollowUpCase(CaseCommand):
    """The timer asks routing to remind the contact of a pending auto-close (system only)."""

    type: Literal["case.follow_up"] = "case.follow_up"
    closes_on: date = Field(description="Business day on which the case auto-closes.")
    business_days_left: int = Field(ge=0)


class TransferCase(CaseCommand):
    """Move the case to another department's queue (staff), unassigned, saying why; the
    reason is shown on the case feed, to the contact too."""

    type: Literal["case.transfer"] = "case.transfer"
    department: Department = Field(description="The department the case moves to.")
    reason: Annotated[str, Field(max_length=2_000, description="Why it moves."), NonBlank]


class RecordTriage(CaseCommand):
    """Record staff's impact assessment of the case (staff only; the contact never sees it)."""

    type: Literal["case.record_triage"] = "case.record_triage"
    triage: Triage


class ChangePriority(CaseCommand):
    """Set the case's priority (staff), saying why; Critical only on Report an Outage. The
    SLA due times follow the new priority."""

    type: Literal["case.change_priority"] = "case.change_priority"
    priority: Priority
    reason: Annotated[str, Field(max_length=2_000, description="Why it changes."), NonBlank]


class LinkIncident(CaseCommand):
    """Link the case to an open status-board incident (staff), or unlink it (`unlink`): a
    linked case shows the incident, and gets a note when the incident is resolved."""

    type: Literal["case.link_incident"] = "case.link_incident"
    notice_id: str = Field(pattern=NOTICE_ID_PATTERN, description="The board's notice id.")
    title: str = Field(min_length=1, max_length=255, description="The incident's title.")
    unlink: bool = Field(False, description="True removes the link instead.")


class NoteIncidentResolved(CaseCommand):
    """The incident a case is linked to was resolved: note it on the case (system only; routing
    sends one per linked case when the board publishes the resolution)."""

    type: Literal["case.note_incident_resolved"] = "case.note_incident_resolved"
    notice_id: str = Field(pattern=NOTICE_ID_PATTERN)
    title: str = Field(min_length=1, max_length=255)
    resolution: str = Field(max_length=TEXT_MAX, description="The board's last word on it.")


AnyCaseCommand = Annotated[
    CloseCase
    | ReopenCase
    | ChangeStatus
    | AssignCase
    | FollowUpCase
    | TransferCase
    | RecordTriage
    | ChangePriority
    | LinkIncident
    | NoteIncidentResolved,
    Field(discriminator="type"),
]
CASE_COMMANDS: TypeAdapter[AnyCaseCommand] = TypeAdapter(AnyCaseCommand)
