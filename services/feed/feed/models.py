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

    # By name too: the documented examples carry the served names.
    model_config = ConfigDict(extra="ignore", validate_by_name=True)

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
    visibility: Literal["public", "internal"] = Field(
        "public", description="internal: a staff-only note's file (staff read it only)."
    )


class FeedItemPublic(BaseModel):
    """A post or an activity line in a case's feed."""

    model_config = ConfigDict(extra="ignore", validate_by_name=True)

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
    visibility: Literal["public", "internal"] = Field(
        "public", description="internal: a staff-only note; contacts never read one."
    )


class FeedPagePublic(BaseModel):
    """A page of a case's feed."""

    total: int
    page: int
    page_size: int
    pages: int
    sort: Literal["newest", "oldest"]
    items: list[FeedItemPublic]


class LinkedIncidentPublic(BaseModel):
    """A status-board incident the case is linked to: it shares the incident's cause and fix."""

    notice_id: str = Field(description="The board's notice id.")
    title: str
    linked_at: datetime
    resolved: bool = Field(description="The incident was resolved on the status board.")
    resolved_at: datetime | None = Field(None, description="When its resolution was noted.")


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
    incidents: list[LinkedIncidentPublic] = Field(
        [], description="Status-board incidents the case is linked to now, oldest link first."
    )
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


# --- OpenAPI examples (the seed's case: Zack Morris of Bayside School, grades not posting) ---

CASE_ID_EXAMPLE = "5f0c9d6e-2b7a-4c1e-9a43-8e6b1d2f7c35"
_ZACK = {"kind": "contact", "id": "zack-morris", "name": "Zack Morris (TESTING)"}
CASE_SUMMARY_EXAMPLE: dict[str, Any] = {
    "case_id": CASE_ID_EXAMPLE,
    "number": 1000003,
    "subject": "Teachers unable to post grades",
    "status": "Assigned",
    "priority": "Medium",
    "module": "Grade Book",
    "case_type": "Application Issue",
    "account_id": "bayside",
    "account_name": "Bayside School (TESTING)",
    "contact_id": "zack-morris",
    "contact_name": "Zack Morris (TESTING)",
    "owner": {"kind": "department", "name": "Campus Support", "department": "Campus Support"},
    "created_at": "2021-09-15T18:44:00Z",
    "last_modified": "2021-09-15T18:44:00Z",
    "last_modified_local": "09/15/2021 - 01:44 PM CDT",
    "closed": False,
    "closed_at": None,
}
CASE_PAGE_EXAMPLE: dict[str, Any] = {
    "total": 1,
    "page": 1,
    "page_size": 20,
    "pages": 1,
    "items": [CASE_SUMMARY_EXAMPLE],
}
POST_ITEM_EXAMPLE: dict[str, Any] = {
    "item_id": "9d1e4b7a-6c2f-4e8d-b3a5-0f7c2e9a1b64",
    "kind": "post",
    "at": "2021-09-15T18:37:00Z",
    "at_local": "09/15/2021 - 01:37 PM CDT",
    "actor": _ZACK,
    "role": "Customer",
    "headline": "Zack Morris (TESTING) (Customer)",
    "lines": [],
    "body_html": "<p>A screenshot of the greyed-out Post button.</p>",
    "body_text": "A screenshot of the greyed-out Post button.",
    "attachments": [
        {
            "attachment_id": "3c8f2a6d-1e9b-4d7c-a5f0-6b2e8d4c9a17",
            "filename": "post-button.png",
            "content_type": "image/png",
            "size": 48213,
            "post_id": "9d1e4b7a-6c2f-4e8d-b3a5-0f7c2e9a1b64",
            "visibility": "public",
        }
    ],
    "visibility": "public",
}
ACTIVITY_ITEM_EXAMPLE: dict[str, Any] = {
    "item_id": "2a7d5c1e-8b4f-4a9e-b6d3-c1f0e7a2b958",
    "kind": "activity",
    "at": "2021-09-15T18:50:00Z",
    "at_local": "09/15/2021 - 01:50 PM CDT",
    "actor": {"kind": "staff", "id": "mr-belding", "name": "Mr. Belding"},
    "role": "Support",
    "headline": "Mr. Belding (Support) updated this record.",
    "lines": ["Status New to Assigned"],
    "body_html": None,
    "body_text": None,
    "attachments": [],
    "visibility": "public",
}
FEED_PAGE_EXAMPLE: dict[str, Any] = {
    "total": 2,
    "page": 1,
    "page_size": 20,
    "pages": 1,
    "sort": "newest",
    "items": [ACTIVITY_ITEM_EXAMPLE, POST_ITEM_EXAMPLE],
}
CASE_EXAMPLE: dict[str, Any] = {
    **CASE_SUMMARY_EXAMPLE,
    "description": (
        "None of the English Literature teachers at 21-22 Campus High School are able to post "
        "grades. When they try to click the Post button in their grade books, it is greyed out."
    ),
    "details": {
        "case_type": "Application Issue",
        "module": "Grade Book",
        "who_is_impacted": "English Lit 1100 teachers",
        "issue_began": "2021-09-07",
        "expected_results": "Post button to be active",
    },
    "due_date": None,
    "created_by": _ZACK,
    "created_local": "09/15/2021 - 01:44 PM CDT",
    "last_modified_by": "Mr. Belding",
    "resolution": None,
    "development_issue": None,
    "release_name": None,
    "billable": False,
    "attachments": [POST_ITEM_EXAMPLE["attachments"][0]],
    "recipients": ["zack-morris"],
    "incidents": [
        {
            "notice_id": "digicert-2021",
            "title": "Digicert Incident",
            "linked_at": "2021-09-15T18:52:00Z",
            "resolved": False,
        }
    ],
    "feed": FEED_PAGE_EXAMPLE,
}
_OUTCOME = {
    "command_id": "7e3b9f2c-4a6d-4c1b-8e5f-2d9a0c7b6e41",
    "case_id": CASE_ID_EXAMPLE,
    "case_number": 1000003,
}
OUTCOME_EXAMPLES: dict[str, dict[str, Any]] = {
    "pending": {
        "summary": "Not decided yet",
        "value": {**_OUTCOME, "command": None, "outcome": "pending", "reason": None,
                  "decided_at": None, "status": "Assigned"},
    },
    "applied": {
        "summary": "A close the workflow applied",
        "value": {**_OUTCOME, "command": "close", "outcome": "applied", "reason": None,
                  "decided_at": "2021-09-16T14:02:00Z", "status": "Closed"},
    },
    "rejected": {
        "summary": "A reopen refused after the 60-day window",
        "value": {
            **_OUTCOME, "command": "reopen", "outcome": "rejected",
            "reason": (
                "a case reopens within 60 days of closing; this one could be reopened until "
                "2021-11-15 (America/Chicago); submit a new case instead"
            ),
            "decided_at": "2022-01-10T15:20:00Z", "status": "Closed",
        },
    },
}  # fmt: skip
BANNER_EXAMPLES: dict[str, dict[str, Any]] = {
    "incident": {
        "summary": "An open incident (orange)",
        "value": {
            "state": "incident",
            "color": "orange",
            "title": "Digicert Incident",
            "notice_id": "digicert-2021",
            "status": "Investigating",
            "link": "http://127.0.0.1:8004/notifications",
        },
    },
    "maintenance": {
        "summary": "Open maintenance (green)",
        "value": {
            "state": "maintenance",
            "color": "green",
            "title": "Scheduled maintenance",
            "notice_id": "maintenance-2021-09-18",
            "status": "Scheduled",
            "link": "http://127.0.0.1:8004/notifications",
        },
    },
    "none": {
        "summary": "Nothing open (gray)",
        "value": {
            "state": "none",
            "color": "gray",
            "title": None,
            "notice_id": None,
            "status": None,
            "link": "http://127.0.0.1:8004/notifications",
        },
    },
}
