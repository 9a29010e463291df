"""Service-private models: admin request bodies and the public JSON shapes."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.enums import NoticeStatus
from shared.events import Notice

NoticeId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Title = Annotated[str, Field(min_length=1, max_length=255)]
Body = Annotated[str, Field(min_length=1, max_length=20_000)]


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
    starts_at: AwareDatetime | None = Field(None, description="Defaults to now.")
    affected_account_ids: list[str] = Field(default_factory=list)


class MaintenanceCreate(_Body):
    """Announce maintenance, usually two weeks ahead; it starts and completes on its own."""

    id: NoticeId | None = Field(
        None, description="Your own id makes retries safe; else one is made."
    )
    title: Title
    body: Body
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    affected_account_ids: list[str] = Field(default_factory=list)


class UpdateCreate(_Body):
    """Post a timestamped update; it may change the status."""

    body: Body
    status: NoticeStatus | None = Field(None, description="Defaults to the current status.")
    at: AwareDatetime | None = Field(None, description="Defaults to now.")


class NoticePatch(_Body):
    """Change fields of a notice; fields left out keep their value."""

    title: Title | None = None
    body: Body | None = None
    status: NoticeStatus | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    affected_account_ids: list[str] | None = None


class ResolveBody(_Body):
    """Resolve an incident or complete maintenance, with an optional closing update."""

    body: Body | None = None
    at: AwareDatetime | None = Field(None, description="Defaults to now.")


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
    notices: list[Notice]


class OutboxStatus(BaseModel):
    """How much the relay still has to publish."""

    pending: int
    sent: int
    last_heard: datetime | None
