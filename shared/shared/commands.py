"""Command contracts on case.commands: requests the routing workflow accepts or rejects."""

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, TypeAdapter

from shared.enums import Status
from shared.messages import Actor, Message, StaffRef


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
    details: str = Field(min_length=1, max_length=32_000)


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


AnyCaseCommand = Annotated[
    CloseCase | ReopenCase | ChangeStatus | AssignCase | FollowUpCase,
    Field(discriminator="type"),
]
CASE_COMMANDS: TypeAdapter[AnyCaseCommand] = TypeAdapter(AnyCaseCommand)
