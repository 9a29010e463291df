"""Service-private models: admin request bodies and the public JSON shapes."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi.openapi.models import Example
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

from shared.enums import NoticeKind, NoticeStatus
from shared.events import Notice, NoticeUpdate
from status_board import logic

TITLE_MAX = 200
BODY_MAX = 10_000
DISTRICTS_MAX = 500
_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


# Messages leave out the field's name: the error answer puts it in front (`title must ...`).
def _plain(one_line: bool) -> AfterValidator:
    def check(text: str) -> str:
        if not text.strip():
            raise ValueError("must not be blank")
        problem = logic.control_error(text, one_line=one_line)
        if problem:
            raise ValueError(problem)
        return text

    return AfterValidator(check)


def _time_text(value: object) -> object:
    if isinstance(value, str | datetime):
        return value
    raise ValueError("must be an RFC 3339 date-time string with a zone, e.g. 2026-12-06T15:00:00Z")


def _in_window(at: datetime) -> datetime:
    problem = logic.window_error(at, datetime.now(UTC))
    if problem:
        raise ValueError(problem)
    return at


NoticeId = Annotated[str, Field(pattern=_ID_PATTERN)]
DistrictId = Annotated[str, Field(pattern=_ID_PATTERN, description="A district (account) id.")]
Districts = Annotated[
    list[DistrictId],
    Field(
        max_length=DISTRICTS_MAX,
        description="Districts the notice is aimed at (at most 500); empty means public.",
    ),
]
Title = Annotated[str, Field(min_length=1, max_length=TITLE_MAX), _plain(one_line=True)]
Body = Annotated[str, Field(min_length=1, max_length=BODY_MAX), _plain(one_line=False)]
When = Annotated[
    AwareDatetime,
    BeforeValidator(_time_text),
    AfterValidator(_in_window),
    Field(description="RFC 3339 with a zone, from 2000-01-01 to ten years ahead."),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentCreate(_Body):
    """Open an incident; it shows at once and reaches Kafka when Kafka is reachable."""

    id: NoticeId | None = Field(
        None, description="Your own id makes retries safe; else one is made."
    )
    title: Title
    body: Body
    status: NoticeStatus = NoticeStatus.INVESTIGATING
    starts_at: When | None = Field(None, description="Defaults to now.")
    affected_account_ids: Districts = Field(default_factory=list)


class MaintenanceCreate(_Body):
    """Announce maintenance, usually two weeks ahead; it starts and completes on its own."""

    id: NoticeId | None = Field(
        None, description="Your own id makes retries safe; else one is made."
    )
    title: Title
    body: Body
    starts_at: When
    ends_at: When
    affected_account_ids: Districts = Field(default_factory=list)


class UpdateCreate(_Body):
    """Post a timestamped update; it may change the status."""

    body: Body
    status: NoticeStatus | None = Field(None, description="Defaults to the current status.")
    at: When | None = Field(None, description="Defaults to now.")


class NoticePatch(_Body):
    """Change fields of a notice; fields left out keep their value."""

    title: Title | None = None
    body: Body | None = None
    status: NoticeStatus | None = None
    starts_at: When | None = None
    ends_at: When | None = None
    affected_account_ids: Districts | None = None


class ResolveBody(_Body):
    """Resolve an incident or complete maintenance, with an optional closing update."""

    body: Body | None = None
    at: When | None = Field(None, description="Defaults to now.")


class NoticePublic(BaseModel):
    """A public notice as the public JSON shows it: never which districts a notice is for."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: NoticeKind
    title: str
    body: str
    status: NoticeStatus
    starts_at: datetime
    ends_at: datetime | None
    updates: list[NoticeUpdate] = Field(description="Newest first.")
    revision: int

    @classmethod
    def of(cls, notice: Notice) -> "NoticePublic":
        """The public view of a notice."""
        return cls.model_validate(notice.model_dump(exclude={"affected_account_ids"}))


class BannerCounts(BaseModel):
    """Open notices behind the banner."""

    incidents: int
    maintenance: int
    open: int


class BannerPublic(BaseModel):
    """What the portal shows below its header."""

    colour: Literal["orange", "green", "gray", "yellow"]
    state: str
    label: str
    text: str = Field(description="The label with the delay notice when live updates are late.")
    link: str
    counts: BannerCounts
    stale: bool
    delayed_since: datetime | None
    last_updated: datetime | None


class NoticeList(BaseModel):
    """Notices of one tab (or all), with how fresh they are."""

    state: Literal["open", "closed", "all"]
    count: int
    stale: bool
    last_updated: datetime | None
    notices: list[NoticePublic]


class OutboxStatus(BaseModel):
    """How much the relay still has to publish."""

    pending: int
    sent: int
    refused: int = Field(
        0, description="Rows Kafka refused for good: dead-lettered and kept aside locally."
    )
    last_heard: datetime | None


# --- documented examples (OpenAPI); tests check they validate against the models above ------
# OpenAPI leaves out null values, so every field of an example holds a value.

_DIGICERT = (
    "DigiCert has an error which requires all of our impacted certificates to be reissued and"
    " reinstalled by 2:30PM CDT today before they are revoked."
)
_DOMAINS_UPDATED = (
    "All customer domains have been updated and we believe sites should not be impacted by"
    " this issue."
)
INCIDENT_EXAMPLES: dict[str, Example] = {
    "public": {
        "summary": "A public incident, starting now",
        "value": {"title": "Digicert Incident", "body": _DIGICERT},
    },
    "districts": {
        "summary": "An incident aimed at two districts, with your own id",
        "value": {
            "id": "login-outage-20261202",
            "title": "Login outage",
            "body": "Some users cannot sign in; we are investigating.",
            "status": "Identified",
            "affected_account_ids": ["bayside", "ridgemont"],
        },
    },
}
MAINTENANCE_EXAMPLES: dict[str, Example] = {
    "upgrade": {
        "summary": "Maintenance announced two weeks ahead",
        "value": {
            "title": "Database upgrade",
            "body": "The Support Portal is read-only while the database is upgraded.",
            "starts_at": "2026-12-16T15:00:00Z",
            "ends_at": "2026-12-16T17:00:00Z",
        },
    },
}
UPDATE_EXAMPLES: dict[str, Example] = {
    "status": {
        "summary": "An update that moves the incident to Monitoring",
        "value": {"body": "Fix deployed; we are watching the sites.", "status": "Monitoring"},
    },
    "text": {
        "summary": "An update that keeps the status, at a given time",
        "value": {"body": "Certificates are being reissued.", "at": "2024-07-30T19:10:00Z"},
    },
}
PATCH_EXAMPLES: dict[str, Example] = {
    "retitle": {
        "summary": "A new title and end time",
        "value": {"title": "Database upgrade (extended)", "ends_at": "2026-12-16T18:00:00Z"},
    },
}
RESOLVE_EXAMPLES: dict[str, Example] = {
    "with_text": {"summary": "Resolve with a closing update", "value": {"body": _DOMAINS_UPDATED}},
    "default_text": {"summary": "Resolve with the default closing text", "value": {}},
}
NOTICE_EXAMPLE = {
    "id": "incident-20240730-1a2b3c",
    "kind": "incident",
    "title": "Digicert Incident",
    "body": _DIGICERT,
    "status": "Resolved",
    "starts_at": "2024-07-30T18:27:00Z",
    "ends_at": "2024-07-30T19:25:00Z",
    "affected_account_ids": [],
    "updates": [{"at": "2024-07-30T19:25:00Z", "status": "Resolved", "body": _DOMAINS_UPDATED}],
    "revision": 2,
}
NOTICE_PUBLIC_EXAMPLE = {k: v for k, v in NOTICE_EXAMPLE.items() if k != "affected_account_ids"}
NOTICE_LIST_EXAMPLE = {
    "state": "closed",
    "count": 1,
    "stale": False,
    "last_updated": "2024-07-30T19:25:00Z",
    "notices": [NOTICE_PUBLIC_EXAMPLE],
}
BANNER_EXAMPLE = {
    "colour": "orange",
    "state": "incident",
    "label": "Incident in progress",
    "text": "Incident in progress. Live updates delayed since Jul 30, 2024, 01:40 PM CDT.",
    "link": "http://127.0.0.1:8004/notifications",
    "counts": {"incidents": 1, "maintenance": 0, "open": 1},
    "stale": True,
    "delayed_since": "2024-07-30T18:40:00Z",
    "last_updated": "2024-07-30T18:27:00Z",
}
OUTBOX_EXAMPLE = {"pending": 1, "sent": 12, "refused": 0, "last_heard": "2026-12-02T13:05:00Z"}
