"""HTTP bodies of the feed API: cases, their feed, and the banner."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class OwnerPublic(BaseModel):
    """Who in Support the case is assigned to: a department queue or a staff member."""

    kind: Literal["department", "staff", "contact"]
    name: str
    department: str | None = None
    staff_id: str | None = None


class CaseSummaryPublic(BaseModel):
    """One row of the case list."""

    model_config = ConfigDict(extra="ignore")

    case_id: str = Field(validation_alias="_id")
    number: int
    subject: str
    status: str
    priority: str
    module: str | None = None
    case_type: str
    account_id: str
    account_name: str
    contact_id: str
    contact_name: str
    owner: OwnerPublic | None = None
    created_at: datetime
    last_modified: datetime
    last_modified_local: str | None = None
    closed: bool
    closed_at: datetime | None = None


class CasePagePublic(BaseModel):
    """A page of the case list with the total count."""

    total: int
    page: int
    page_size: int
    pages: int
    items: list[CaseSummaryPublic]


class AttachmentPublic(BaseModel):
    """Metadata of an attachment; the bytes are served by intake."""

    model_config = ConfigDict(extra="ignore")

    attachment_id: str
    filename: str
    content_type: str
    size: int
    post_id: str | None = None


class FeedItemPublic(BaseModel):
    """A post or an activity line in a case's feed."""

    model_config = ConfigDict(extra="ignore")

    item_id: str = Field(validation_alias="_id")
    kind: Literal["post", "activity"]
    at: datetime
    at_local: str | None = None
    actor: dict[str, Any]
    role: str | None = Field(None, description="Customer, Support or System.")
    headline: str
    lines: list[str] = []
    body_html: str | None = None
    body_text: str | None = None
    attachments: list[AttachmentPublic] = []


class FeedPagePublic(BaseModel):
    """A page of a case's feed."""

    total: int
    page: int
    page_size: int
    pages: int
    sort: Literal["newest", "oldest"]
    items: list[FeedItemPublic]


class CasePublic(CaseSummaryPublic):
    """A case with everything the detail panel shows, and the first page of its feed."""

    description: str
    details: dict[str, Any]
    due_date: str | None = None
    created_by: dict[str, Any]
    created_local: str | None = None
    last_modified_by: str | None = None
    resolution: str | None = None
    development_issue: str | None = None
    release_name: str | None = None
    billable: bool | None = None
    attachments: list[AttachmentPublic] = []
    recipients: list[str] = []
    feed: FeedPagePublic | None = None


class BannerPublic(BaseModel):
    """The portal banner: an open incident (orange), open maintenance (green) or none (gray)."""

    state: Literal["incident", "maintenance", "none"]
    color: Literal["orange", "green", "gray"]
    title: str | None = None
    notice_id: str | None = None
    status: str | None = None
    link: str


class CommandOutcomePublic(BaseModel):
    """What became of a contact's close or reopen (or a staff command) on a case."""

    command_id: str
    case_id: str
    case_number: int | None = None
    command: str | None = Field(
        None, description="close, reopen, change_status...; null while pending."
    )
    outcome: Literal["pending", "applied", "rejected"] = Field(
        description="pending until the workflow decides; applied, or rejected with the reason."
    )
    reason: str | None = Field(None, description="Why the workflow rejected it.")
    decided_at: datetime | None = None
    status: str | None = Field(
        None, description="The case status the command moved it to; else the status now."
    )
