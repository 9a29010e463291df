"""Routing's private models: the case state document and the staff API's bodies."""

import json
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from routing.sla import TARGETS, SlaState
from shared.commands import TEXT_MAX, CaseCommand, NonBlank, NonBlankText
from shared.enums import CaseType, Department, Module, Priority, Status
from shared.events import WorkItem
from shared.messages import NOTICE_ID_PATTERN, Actor, IncidentLink, StaffRef, Triage
from shared.zones import DEFAULT_TIME_ZONE

Activity = Literal["submitted", "post", "status change", "assignment", "transfer"]


class Timers(BaseModel):
    """Auto-close timers of a case awaiting customer verification, in UTC."""

    model_config = ConfigDict(frozen=True)

    remind_at: AwareDatetime
    close_at: AwareDatetime
    closes_on: date = Field(description="District-local business day the case closes on.")
    reminded: bool = False
    remind_requested: bool = False
    close_requested: bool = False


class Outgoing(BaseModel):
    """One message a decision publishes: `queue` names a department queue, else case.events."""

    model_config = ConfigDict(frozen=True)

    queue: Department | None = None
    key: str
    value: dict[str, Any]


class AppliedRecord(BaseModel):
    """An applied input record (by offset) and the messages it caused."""

    model_config = ConfigDict(frozen=True)

    offset: int
    outputs: list[Outgoing]


class CaseState(BaseModel):
    """What routing knows of one case; routing is the only writer of status and assignee."""

    model_config = ConfigDict(frozen=True)

    case_id: UUID
    case_number: int
    account_id: str
    contact_id: str
    subject: str
    case_type: CaseType
    module: Module | None = None
    priority: Priority
    due_date: date | None = None
    created_at: AwareDatetime
    department: Department
    billable: bool
    status: Status = Status.NEW
    status_since: AwareDatetime
    assignee: StaffRef | None = None
    closed_at: AwareDatetime | None = None
    development_issue: str | None = None
    release_name: str | None = None
    time_zone: str = DEFAULT_TIME_ZONE
    timers: Timers | None = None
    # The latest post, status change, assignment or transfer, and who made it.
    last_activity_at: AwareDatetime | None = None
    last_activity: Activity | None = None
    last_actor: Actor | None = None
    customer_replied: bool = False
    # Service-level clocks (None: a case from before them, or clocks switched off).
    sla: SlaState | None = None
    # Staff's impact assessment (None until recorded); never shown to the contact.
    triage: Triage | None = None
    # Status-board incidents staff linked the case to, oldest first.
    incidents: list[IncidentLink] = Field(default_factory=list)
    # Input offsets already applied per input topic kind: a record at or below is a redelivery.
    offsets: dict[str, int] = Field(default_factory=dict)
    # The partition of each input topic kind the case lives on (its key decides it).
    partitions: dict[str, int] = Field(default_factory=dict)
    # Outputs of the latest applied records per input kind, re-sent when Kafka redelivers them.
    recent: dict[str, list[AppliedRecord]] = Field(default_factory=dict)

    @field_validator("recent", mode="before")
    @classmethod
    def _recent_from_text(cls, value: Any) -> Any:
        # Stored as one JSON string: far cheaper for the server than nested documents.
        return json.loads(value) if isinstance(value, str) else value

    def work_item(self) -> WorkItem:
        """The case as its department's queue shows it."""
        return WorkItem(
            case_id=self.case_id,
            case_number=self.case_number,
            account_id=self.account_id,
            subject=self.subject,
            case_type=self.case_type,
            priority=self.priority,
            status=self.status,
            department=self.department,
            billable=self.billable,
            assignee=self.assignee,
            due_date=self.due_date,
            created_at=self.created_at,
            last_activity_at=self.last_activity_at,
            last_activity=self.last_activity,
            last_actor=self.last_actor,
            customer_replied=self.customer_replied,
            module=self.module,
            triage=self.triage,
            **self._sla_fields(),
        )

    def _sla_fields(self) -> dict[str, Any]:
        sla = self.sla
        if sla is None:
            return {}
        return {
            "first_response_due_at": sla.first_response.due_at,
            "resolution_due_at": sla.resolution.due_at,
            "sla_paused": not sla.running and self.status is not Status.CLOSED,
            "sla_breached": [t for t in TARGETS if sla.mark(t).breached],
        }

    def incident(self, notice_id: str) -> IncidentLink | None:
        """The case's link to the status-board notice `notice_id`, if linked."""
        return next((link for link in self.incidents if link.notice_id == notice_id), None)

    def noted(self, activity: Activity, actor: Actor, at: datetime) -> "CaseState":
        """The case with `activity` by `actor` at `at` as its last activity."""
        return self.model_copy(
            update={"last_activity_at": at, "last_activity": activity, "last_actor": actor}
        )


class CommandEnvelope(CaseCommand):
    """What every command carries, read when the rest of it breaks the contract."""

    event_id: UUID
    type: str = Field(max_length=64)


class SlaCheck(CaseCommand):
    """Routing's own timer command on case.commands: announce the SLA warnings and breaches
    due by now, through the single writer (other readers skip its type)."""

    type: Literal["routing.sla_check"] = "routing.sla_check"
    due_at: AwareDatetime = Field(description="The warning or breach moment it was sent for.")


class Outcome(StrEnum):
    """What became of a command."""

    PENDING = "pending"
    APPLIED = "applied"
    REJECTED = "rejected"
    IGNORED = "ignored"


# --- HTTP bodies ---------------------------------------------------------------------------


class AssignmentCreate(BaseModel):
    """Assign a case to a staff member, or leave `assignee_id` empty for the department policy."""

    assignee_id: str | None = Field(
        None, max_length=64, description="Staff id; empty picks by round robin or least loaded."
    )


OptionalNote = Annotated[str, Field(max_length=TEXT_MAX), NonBlank] | None
IssueNumber = Annotated[str, Field(max_length=64), NonBlank]
ReleaseName = Annotated[str, Field(max_length=128), NonBlank]


class StatusChangeCreate(BaseModel):
    """Move a case to another status with what that status needs; a text sent must not be
    blank (omit it instead)."""

    to_status: Status
    note: OptionalNote = Field(
        None,
        description="The resolution, the question for the contact, the escalation or release "
        "note: required for those statuses.",
    )
    development_issue: IssueNumber | None = None
    release_name: ReleaseName | None = None


class EscalationCreate(BaseModel):
    """Escalate to development: the issue number and the note the contact sees."""

    development_issue: IssueNumber
    note: NonBlankText

    def as_change(self) -> StatusChangeCreate:
        """The status change an escalation is."""
        return StatusChangeCreate(
            to_status=Status.ASSIGNED_TO_DEVELOPMENT,
            note=self.note,
            development_issue=self.development_issue,
        )


class ResolutionCreate(BaseModel):
    """The written explanation of the resolution; the case awaits customer verification."""

    note: NonBlankText

    def as_change(self) -> StatusChangeCreate:
        """The status change a resolution is."""
        return StatusChangeCreate(to_status=Status.PENDING_CUSTOMER_VERIFICATION, note=self.note)


class TransferCreate(BaseModel):
    """Move the case to another department's queue, unassigned; the reason shows on the
    case feed, to the contact too."""

    department: Department = Field(description="The department the case moves to.")
    reason: Annotated[str, Field(max_length=2_000, description="Why it moves."), NonBlank]


class PriorityCreate(BaseModel):
    """Set the case's priority, saying why (the contact sees both on the case feed)."""

    priority: Priority = Field(description="Critical only on a Report an Outage case.")
    reason: Annotated[str, Field(max_length=2_000, description="Why it changes."), NonBlank]


class IncidentLinkCreate(BaseModel):
    """Link the case to an open status-board incident (as the board's public API names it)."""

    notice_id: str = Field(pattern=NOTICE_ID_PATTERN, description="The board's notice id.")
    title: str = Field(min_length=1, max_length=255, description="The incident's title.")


class CommandAccepted(BaseModel):
    """A command was published; poll `GET /commands/{command_id}` for its outcome."""

    command_id: UUID
    case_id: UUID
    outcome_url: str


class CommandPublic(BaseModel):
    """The outcome of a command."""

    command_id: UUID
    case_id: UUID
    outcome: Outcome
    reason: str | None = None
    command_type: str
    updated_at: datetime


class TimersPublic(BaseModel):
    """Pending auto-close timers of a case."""

    remind_at: AwareDatetime
    close_at: AwareDatetime
    closes_on: date
    reminded: bool


class SlaTargetPublic(BaseModel):
    """One SLA target of a case."""

    due_at: AwareDatetime | None = Field(
        None, description="When it falls due; None once met or paused."
    )
    met_at: AwareDatetime | None = None
    warned: bool
    breached: bool


class SlaPublic(BaseModel):
    """A case's SLA clocks."""

    paused: bool
    first_response: SlaTargetPublic
    resolution: SlaTargetPublic


class CasePublic(BaseModel):
    """Routing's view of a case."""

    case_id: UUID
    case_number: int
    account_id: str
    subject: str
    case_type: CaseType
    module: Module | None
    priority: Priority
    due_date: date | None
    created_at: AwareDatetime
    department: Department
    billable: bool
    status: Status
    status_since: AwareDatetime
    assignee: StaffRef | None
    closed_at: AwareDatetime | None
    development_issue: str | None
    release_name: str | None
    timers: TimersPublic | None
    last_activity_at: AwareDatetime | None
    last_activity: Activity | None
    last_actor: Actor | None
    customer_replied: bool
    last_activity_summary: str | None = Field(
        description="The last activity for people, e.g. 'post 2 h ago by Zack Morris (contact)'."
    )
    sla: SlaPublic | None = Field(None, description="SLA clocks; None for a case without them.")
    triage: Triage | None = Field(None, description="Staff's impact assessment, once recorded.")
    suggested_priority: Priority | None = Field(
        None, description="The priority the assessment suggests (None before one is recorded)."
    )
    incidents: list[IncidentLink] = Field(
        default_factory=list, description="Status-board incidents the case is linked to."
    )


class WorkItemPublic(WorkItem):
    """A queue entry."""

    status_since: AwareDatetime
    last_activity_summary: str | None = Field(
        None,
        description="The last activity for people, e.g. 'post 2 h ago by Zack Morris (contact)'.",
    )
    next_due_at: AwareDatetime | None = Field(
        None, description="The next SLA due point (first response or resolution), if running."
    )
    due_in_seconds: int | None = Field(
        None, description="Seconds until `next_due_at`; negative once it has passed."
    )
    due_in: str | None = Field(
        None, description="The same for people, e.g. 'due in 2 h 10 min', 'overdue by 1 d 3 h'."
    )
    breached: bool = Field(False, description="An SLA target's time ran out before it was met.")


class StatusCount(BaseModel):
    """How many of a queue's items are in one status."""

    status: Status
    count: int


class QueueCounts(BaseModel):
    """How many of a queue's items match the filters: in all, and per status."""

    total: int = Field(description="Items matching the filters (every page of them).")
    statuses: list[StatusCount] = Field(
        description="Per status, in the workflow's order; statuses with none are left out."
    )


# --- documented examples (OpenAPI); tests check they validate against the models above ------

Example = dict[str, Any]
_CASE_ID = "3f2b8c1e-6d4a-4e8f-9b1c-2a7d5e9f0c14"
_COMMAND_ID = "9c4e2a71-5b3d-4f60-8e2a-1d7c6b5a4f39"
_PAT = {"id": "staff-support", "name": "Pat Support", "email": "pat.support@vendor.example"}
_ZACK = {"kind": "contact", "id": "zack-morris", "name": "Zack Morris"}
_POST_SUMMARY = "post 2 h ago by Zack Morris (contact)"

STATUS_CHANGE_EXAMPLES: dict[str, Example] = {
    "ask": {
        "summary": "Ask the contact a question",
        "value": {
            "to_status": "Pending Customer Input",
            "note": "Which school's calendar is missing the snow day?",
        },
    },
    "release": {
        "summary": "The fix ships in a release",
        "value": {
            "to_status": "Available in Release",
            "note": "Fixed in the December release.",
            "release_name": "2547",
        },
    },
    "take": {"summary": "Work the case yourself", "value": {"to_status": "Assigned"}},
}
ESCALATION_EXAMPLES: dict[str, Example] = {
    "escalate": {
        "summary": "Hand a defect to development",
        "value": {"development_issue": "DEV-4821", "note": "Grade book scores do not save."},
    },
}
RESOLUTION_EXAMPLES: dict[str, Example] = {
    "resolve": {
        "summary": "The written resolution the contact verifies",
        "value": {"note": "Add the snow day under Calendar, then Days, and save."},
    },
}
ASSIGNMENT_EXAMPLES: dict[str, Example] = {
    "named": {"summary": "Assign to Pat Support", "value": {"assignee_id": "staff-support"}},
    "policy": {"summary": "Let the department's policy pick", "value": {}},
}
TRANSFER_EXAMPLES: dict[str, Example] = {
    "hosting": {
        "summary": "Move a server question to Hosting",
        "value": {
            "department": "Hosting / Technical Support",
            "reason": "The error comes from the district's hosted server.",
        },
    },
}
TRIAGE_EXAMPLES: dict[str, Example] = {
    "grades": {
        "summary": "No English teacher of one school can post grades; no workaround",
        "value": {
            "disruption": "Significant",
            "daily_functions_blocked": True,
            "workaround_exists": False,
            "several_sites": False,
            "several_users": True,
        },
    },
    "defect": {
        "summary": "Qualified as a product defect, tracked as DEV-4821",
        "value": {
            "disruption": "Moderate",
            "daily_functions_blocked": False,
            "workaround_exists": True,
            "several_sites": True,
            "several_users": True,
            "defect_qualified": True,
            "development_issue": "DEV-4821",
        },
    },
}
PRIORITY_EXAMPLES: dict[str, Example] = {
    "raise": {
        "summary": "Raise to High after the impact assessment",
        "value": {"priority": "High", "reason": "Every English teacher is blocked from posting."},
    },
}
LINK_EXAMPLES: dict[str, Example] = {
    "outage": {
        "summary": "Link an outage report to the open incident",
        "value": {"notice_id": "inc-2026-11-20-gradebook", "title": "Gradebook unavailable"},
    },
}
ACCEPTED_EXAMPLE: Example = {
    "command_id": _COMMAND_ID,
    "case_id": _CASE_ID,
    "outcome_url": f"/commands/{_COMMAND_ID}",
}
COMMAND_EXAMPLE: Example = {
    "command_id": _COMMAND_ID,
    "case_id": _CASE_ID,
    "outcome": "rejected",
    "reason": "to_status: a staff cannot move a case from New to Pending Customer Input; "
    "allowed: Assigned",
    "command_type": "case.change_status",
    "updated_at": "2026-11-20T16:00:02Z",
}
_ITEM: Example = {
    "case_id": _CASE_ID,
    "case_number": 1000003,
    "account_id": "bayside",
    "subject": "Snow day missing from the calendar",
    "case_type": "Ask a Question",
    "priority": "High",
    "status": "Assigned",
    "department": "Campus Support",
    "billable": False,
    "assignee": _PAT,
    "due_date": "2026-11-25",
    "created_at": "2026-11-20T14:00:00Z",
    "last_activity_at": "2026-11-20T14:00:00Z",
    "last_activity": "post",
    "last_actor": _ZACK,
    "customer_replied": True,
    "first_response_due_at": None,
    "resolution_due_at": "2026-11-24T23:00:00Z",
    "sla_paused": False,
    "sla_breached": [],
}
QUEUE_EXAMPLE: list[Example] = [
    {
        **_ITEM,
        "status_since": "2026-11-20T14:05:00Z",
        "last_activity_summary": _POST_SUMMARY,
        "next_due_at": "2026-11-24T23:00:00Z",
        "due_in_seconds": 284_400,
        "due_in": "due in 3 d 7 h",
        "breached": False,
    }
]
QUEUE_COUNTS_EXAMPLE: Example = {
    "total": 212,
    "statuses": [
        {"status": "New", "count": 120},
        {"status": "Assigned", "count": 80},
        {"status": "Pending Customer Input", "count": 12},
    ],
}
# Closed once, reopened, fixed in a release and resolved: every field holds a value.
CASE_EXAMPLE: Example = {
    **_ITEM,
    "module": "Calendar (terms, periods, days)",
    "status": "Pending Customer Verification",
    "status_since": "2026-11-20T16:00:00Z",
    "closed_at": "2026-11-12T21:30:00Z",
    "development_issue": "DEV-4821",
    "release_name": "2547",
    "timers": {
        "remind_at": "2026-12-03T06:00:00Z",
        "close_at": "2026-12-07T06:00:00Z",
        "closes_on": "2026-12-07",
        "reminded": False,
    },
    "last_activity_at": "2026-11-20T16:00:00Z",
    "last_activity": "status change",
    "last_actor": {"kind": "staff", "id": "staff-support", "name": "Pat Support"},
    "customer_replied": False,
    "last_activity_summary": "status change 2 h ago by Pat Support (staff)",
    "sla": {
        "paused": True,
        "first_response": {
            "due_at": None,
            "met_at": "2026-11-20T14:20:00Z",
            "warned": False,
            "breached": False,
        },
        "resolution": {"due_at": None, "met_at": None, "warned": False, "breached": False},
    },
    "incidents": [
        {
            "notice_id": "inc-2026-11-20-gradebook",
            "title": "Gradebook unavailable",
            "linked_at": "2026-11-20T15:10:00Z",
            "resolved_at": "2026-11-20T15:55:00Z",
        }
    ],
}
