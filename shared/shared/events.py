"""Event contracts: facts published on Kafka, past-tense names, a `type` discriminator each."""

from datetime import date
from typing import Annotated, Literal
from uuid import UUID, uuid5

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, TypeAdapter

from shared.cases import AnyDetails
from shared.enums import (
    ActorKind,
    AreaOfResponsibility,
    CaseType,
    ContactType,
    Department,
    Module,
    NoticeKind,
    NoticeStatus,
    Priority,
    Status,
    TokenScope,
    Visibility,
)
from shared.messages import Actor, AttachmentRef, Message, StaffRef, Triage

# --- case events: topic case.events, key = case id ---------------------------------------


class CaseEvent(Message):
    """Something that happened to one case."""

    case_id: UUID


def submitted_event_id(case_id: UUID) -> UUID:
    """The id of a case's case.submitted event, derived from the case id: a retried submission
    publishes the same event, and the receipt (the thread root) has a Message-ID known ahead."""
    return uuid5(case_id, "case.submitted")


class CaseSubmitted(CaseEvent):
    """A contact submitted a case; intake validated it and gave it a number."""

    type: Literal["case.submitted"] = "case.submitted"
    case_number: int = Field(ge=1)
    account_id: str
    contact_id: str
    submitted_by: Actor
    priority: Priority
    subject: str
    description: str
    due_date: date | None = None
    details: AnyDetails

    @property
    def case_type(self) -> CaseType:
        """The case type, from the form's discriminator."""
        return self.details.case_type


class CaseRouted(CaseEvent):
    """Routing chose the department whose queue owns the case, unassigned: at submission by
    the routing table, later by a staff transfer (with `actor`, `reason` and the department
    it came from)."""

    type: Literal["case.routed"] = "case.routed"
    department: Department
    billable: bool = Field(description="True for services that may be billable.")
    queue: str = Field(description="Work-queue topic the item was put on.")
    actor: Actor | None = Field(None, description="Who transferred it; None for the table.")
    reason: str | None = Field(None, description="Why it was transferred, shown on the feed.")
    previous_department: Department | None = Field(
        None, description="The department it was transferred from."
    )
    previous_assignee: StaffRef | None = Field(
        None, description="Who had it before a transfer (it arrives unassigned)."
    )
    command_id: UUID | None = Field(None, description="The transfer command, if any.")


class CaseAssigned(CaseEvent):
    """The case owner changed: a staff member, or back to the department queue (None)."""

    type: Literal["case.assigned"] = "case.assigned"
    department: Department
    assignee: StaffRef | None
    previous_assignee: StaffRef | None = None
    actor: Actor


class StatusChanged(CaseEvent):
    """The workflow moved the case from one status to another."""

    type: Literal["case.status_changed"] = "case.status_changed"
    from_status: Status
    to_status: Status
    actor: Actor
    note: str | None = Field(None, description="Resolution, escalation note or reopen details.")
    development_issue: str | None = Field(None, description="Set when assigned to development.")
    release_name: str | None = Field(None, description="Set when available in a release.")
    command_id: UUID | None = Field(None, description="The command that caused it, if any.")


class TriageRecorded(CaseEvent):
    """Staff recorded (or revised) the case's impact assessment; staff-only, like a note."""

    type: Literal["case.triage_recorded"] = "case.triage_recorded"
    actor: Actor
    triage: Triage
    suggested_priority: Priority = Field(description="The priority the assessment suggests.")
    command_id: UUID | None = Field(None, description="The command that recorded it.")


class PriorityChanged(CaseEvent):
    """Staff changed the case's priority, with the reason (the contact sees both)."""

    type: Literal["case.priority_changed"] = "case.priority_changed"
    actor: Actor
    from_priority: Priority
    to_priority: Priority
    reason: str
    command_id: UUID | None = Field(None, description="The command that changed it.")


class IncidentLinked(CaseEvent):
    """Staff linked the case to a status-board incident, or unlinked it (`linked` false); the
    contact sees it on the case."""

    type: Literal["case.incident_linked"] = "case.incident_linked"
    actor: Actor
    notice_id: str
    title: str
    linked: bool = Field(True, description="False: the link was removed.")
    command_id: UUID | None = Field(None, description="The command that linked it.")


class LinkedIncidentResolved(CaseEvent):
    """An incident the case is linked to was resolved on the status board: a note on the case
    and one email to its recipients. The case's status is unchanged; staff resolve it."""

    type: Literal["case.linked_incident_resolved"] = "case.linked_incident_resolved"
    notice_id: str
    title: str
    resolution: str = Field(description="The board's last update on the incident.")


class PostAdded(CaseEvent):
    """A contact or staff member posted to the case feed."""

    type: Literal["case.post_added"] = "case.post_added"
    post_id: UUID
    author: Actor
    body_html: str = Field(description="Sanitized HTML of the post.")
    body_text: str = Field(description="Plain text of the post, for search and email.")
    attachments: list[AttachmentRef] = Field(default_factory=list)
    visibility: Visibility = Field(
        Visibility.PUBLIC,
        description="public: everyone on the case reads it; internal: a staff-only note.",
    )


class AttachmentAdded(CaseEvent):
    """A file was attached to the case, with a post or on its own."""

    type: Literal["case.attachment_added"] = "case.attachment_added"
    attachment: AttachmentRef
    post_id: UUID | None = None
    author: Actor
    visibility: Visibility = Field(
        Visibility.PUBLIC, description="The visibility of the post it came with."
    )


class RecipientsChanged(CaseEvent):
    """The case's notification recipients changed; `recipients` is the full list after it."""

    type: Literal["case.recipients_changed"] = "case.recipients_changed"
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    recipients: list[str]
    actor: Actor


class CaseFollowedUp(CaseEvent):
    """The system reminded the contact that a case awaiting verification will auto-close."""

    type: Literal["case.followed_up"] = "case.followed_up"
    closes_on: date = Field(description="Business day on which the case auto-closes.")
    business_days_left: int = Field(ge=0)


SlaTarget = Literal["first_response", "resolution"]
"""Which service-level target a clock measures: the first response or the resolution."""


class SlaWarning(CaseEvent):
    """A case has used 75 % of a service-level target's time without meeting it."""

    type: Literal["case.sla_warning"] = "case.sla_warning"
    target: SlaTarget
    due_at: AwareDatetime = Field(description="When the target is breached unless met, UTC.")
    priority: Priority
    department: Department
    assignee: StaffRef | None = Field(None, description="Whom to tell; None: the department.")
    percent_elapsed: int = Field(ge=0, le=100, description="Share of the target's time used.")


class SlaBreached(CaseEvent):
    """A service-level target's time ran out before it was met."""

    type: Literal["case.sla_breached"] = "case.sla_breached"
    target: SlaTarget
    due_at: AwareDatetime = Field(description="When the target was due, UTC.")
    priority: Priority
    department: Department
    assignee: StaffRef | None = Field(None, description="Whom to tell; None: the department.")


class CommandRejected(CaseEvent):
    """The workflow refused a command; `reason` says why and what would be accepted."""

    type: Literal["case.command_rejected"] = "case.command_rejected"
    command_id: UUID
    command_type: str
    reason: str
    actor: Actor


AnyCaseEvent = Annotated[
    CaseSubmitted
    | CaseRouted
    | CaseAssigned
    | StatusChanged
    | PostAdded
    | AttachmentAdded
    | RecipientsChanged
    | CaseFollowedUp
    | SlaWarning
    | SlaBreached
    | CommandRejected
    | TriageRecorded
    | PriorityChanged
    | IncidentLinked
    | LinkedIncidentResolved,
    Field(discriminator="type"),
]
CASE_EVENTS: TypeAdapter[AnyCaseEvent] = TypeAdapter(AnyCaseEvent)


# --- work items: topics queue.<department>, key = case id ---------------------------------


class WorkItem(BaseModel):
    """What a department's queue shows for one case."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    case_id: UUID
    case_number: int
    account_id: str
    subject: str
    case_type: CaseType
    priority: Priority
    status: Status
    department: Department
    billable: bool
    assignee: StaffRef | None = None
    due_date: date | None = None
    created_at: AwareDatetime
    last_activity_at: AwareDatetime | None = Field(
        None, description="When the case last saw a post, status change, assignment or transfer."
    )
    last_activity: (
        Literal["submitted", "post", "status change", "assignment", "transfer"] | None
    ) = Field(None, description="What that last activity was.")
    last_actor: Actor | None = Field(None, description="Who made the last activity.")
    customer_replied: bool = Field(
        False, description="The latest post on the case came from a district contact."
    )
    first_response_due_at: AwareDatetime | None = Field(
        None, description="When the first response is due; None once met, paused or untracked."
    )
    resolution_due_at: AwareDatetime | None = Field(
        None, description="When the resolution is due; None while paused, closed or untracked."
    )
    sla_paused: bool = Field(
        False, description="The clocks are paused: the case waits on the customer or a schedule."
    )
    sla_breached: list[SlaTarget] = Field(
        default_factory=list, description="Targets whose time ran out before they were met."
    )
    module: Module | None = Field(None, description="The product module the case is about.")
    triage: Triage | None = Field(
        None, description="Staff's impact assessment, once recorded (staff-only)."
    )


class WorkItemQueued(Message):
    """A case entered a department's queue."""

    type: Literal["work.queued"] = "work.queued"
    item: WorkItem


class WorkItemUpdated(Message):
    """A queued case changed (status, assignee, priority, last activity); `item` is its new
    state."""

    type: Literal["work.updated"] = "work.updated"
    item: WorkItem


AnyWorkItemEvent = Annotated[WorkItemQueued | WorkItemUpdated, Field(discriminator="type")]
WORK_ITEM_EVENTS: TypeAdapter[AnyWorkItemEvent] = TypeAdapter(AnyWorkItemEvent)


# --- directory: topic directory.contacts (compacted), key = "<kind>:<id>" ----------------


class Account(BaseModel):
    """A district (account) whose contacts use the portal."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=255)
    time_zone: str = "America/Chicago"


class Contact(BaseModel):
    """A district contact and what they may do."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1, max_length=64)
    first_name: str
    last_name: str
    email: EmailStr
    title: str | None = None
    primary_phone: str | None = None
    secondary_phone: str | None = None
    contact_type: ContactType
    areas_of_responsibility: list[AreaOfResponsibility] = Field(default_factory=list)
    account_ids: list[str] = Field(min_length=1)
    active: bool = True

    @property
    def display_name(self) -> str:
        """First and last name, as the portal shows it."""
        return f"{self.first_name} {self.last_name}"


class StaffMember(BaseModel):
    """A support staff member, the departments they work and whether they take new work."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=255)
    email: EmailStr
    departments: list[Department] = Field(min_length=1)
    on_duty: bool = True
    active: bool = True
    supervisor: bool = Field(
        False, description="Supervisors act on cases of every department, not only their own."
    )

    def acts_for(self, department: Department) -> bool:
        """Whether this member may act on a case routed to `department`."""
        return self.active and (self.supervisor or department in self.departments)


class ApiToken(BaseModel):
    """A bearer token's SHA-256 (never the token itself) and whom it authenticates."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    token_id: str = Field(min_length=1, max_length=64)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    subject_kind: ActorKind
    subject_id: str
    revoked: bool = False
    scopes: list[TokenScope] = Field(
        default_factory=lambda: [TokenScope.READ, TokenScope.WRITE],
        min_length=1,
        description="`read`: safe requests (GET, HEAD) only; `write`: every request.",
    )
    expires_at: AwareDatetime | None = Field(
        None, description="From this instant the token no longer authenticates; none: never."
    )


class AccountUpserted(Message):
    """An account was created or changed."""

    type: Literal["directory.account_upserted"] = "directory.account_upserted"
    account: Account


class ContactUpserted(Message):
    """A contact was created or changed (deactivated contacts have active=false)."""

    type: Literal["directory.contact_upserted"] = "directory.contact_upserted"
    contact: Contact


class StaffUpserted(Message):
    """A staff member was created or changed."""

    type: Literal["directory.staff_upserted"] = "directory.staff_upserted"
    staff: StaffMember


class TokenIssued(Message):
    """A bearer token was issued, or revoked (revoked=true); keyed `token:<token_id>`."""

    type: Literal["directory.token_issued"] = "directory.token_issued"
    token: ApiToken


AnyDirectoryEvent = Annotated[
    AccountUpserted | ContactUpserted | StaffUpserted | TokenIssued, Field(discriminator="type")
]
DIRECTORY_EVENTS: TypeAdapter[AnyDirectoryEvent] = TypeAdapter(AnyDirectoryEvent)


# --- incidents and maintenance: topic incident.events (compacted), key = notice id ---------


class NoticeUpdate(BaseModel):
    """A timestamped update posted on a notice."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    at: AwareDatetime
    status: NoticeStatus
    body: str


class Notice(BaseModel):
    """An incident or maintenance notification, complete (the topic is compacted)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1, max_length=64)
    kind: NoticeKind
    title: str = Field(min_length=1, max_length=255)
    body: str
    status: NoticeStatus
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    affected_account_ids: list[str] = Field(
        default_factory=list, description="Districts affected; empty means every district."
    )
    updates: list[NoticeUpdate] = Field(default_factory=list, description="Newest first.")
    revision: int = Field(1, ge=1, description="Grows with every change; readers keep the highest.")


class NoticePublished(Message):
    """An incident was opened or maintenance was announced."""

    type: Literal["notice.published"] = "notice.published"
    notice: Notice


class NoticeUpdated(Message):
    """A notice changed: new status, times or an update."""

    type: Literal["notice.updated"] = "notice.updated"
    notice: Notice


class NoticeResolved(Message):
    """An incident was resolved or maintenance completed."""

    type: Literal["notice.resolved"] = "notice.resolved"
    notice: Notice


AnyNoticeEvent = Annotated[
    NoticePublished | NoticeUpdated | NoticeResolved, Field(discriminator="type")
]
NOTICE_EVENTS: TypeAdapter[AnyNoticeEvent] = TypeAdapter(AnyNoticeEvent)
