"""Envelope every Kafka message shares, value objects, and tolerant decoding."""

from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from shared.enums import ActorKind, Disruption

SCHEMA_VERSION = 1


def utcnow() -> datetime:
    """Aware UTC now; the one clock for message timestamps."""
    return datetime.now(UTC)


class Message(BaseModel):
    """Fields every event and command carries; readers ignore fields they do not know."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: UUID = Field(default_factory=uuid4, description="Unique id; handlers dedupe on it.")
    occurred_at: AwareDatetime = Field(default_factory=utcnow, description="When it happened, UTC.")
    schema_version: int = Field(
        SCHEMA_VERSION, description="Contract version; changes are additive."
    )


class Actor(BaseModel):
    """Who did something: a contact, a staff member, or the system (timers)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: ActorKind
    id: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=255)


SYSTEM = Actor(kind=ActorKind.SYSTEM, id="system", name="Support Portal")


class StaffRef(BaseModel):
    """A support staff member a case can be assigned to."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=255)
    email: str | None = None


class AttachmentRef(BaseModel):
    """Metadata of a stored attachment; the bytes live in intake's GridFS."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    attachment_id: str
    filename: str = Field(min_length=1, max_length=255)
    content_type: str
    size: int = Field(ge=0)
    sha256: str


M = TypeVar("M")


class UnknownMessage(Exception):
    """A message whose `type` this reader does not know: skip it, never fail on it."""


def decode(adapter: TypeAdapter[M], data: bytes | str | dict[str, Any]) -> M:
    """Parse a message; raise UnknownMessage for a type added after this reader was built."""
    try:
        if isinstance(data, dict):
            return adapter.validate_python(data)
        return adapter.validate_json(data)
    except ValidationError as exc:
        if any(error["type"] == "union_tag_invalid" for error in exc.errors()):
            raise UnknownMessage(str(exc.errors()[0].get("input", ""))) from exc
        raise


class Triage(BaseModel):
    """Staff's impact assessment of a case (the seeds' Triage Process): what suggests its
    priority, and whether it is qualified as a product defect."""

    model_config = ConfigDict(frozen=True)

    disruption: Disruption = Field(description="Level of disruption to customer workflow.")
    daily_functions_blocked: bool = Field(description="Inability to perform daily functions.")
    workaround_exists: bool = Field(description="Existence of a viable workaround.")
    several_sites: bool = Field(description="Multiple schools/districts are affected by the issue.")
    several_users: bool = Field(description="Multiple users are directly impacted.")
    defect_qualified: bool = Field(False, description="Qualified as a product defect.")
    development_issue: str | None = Field(
        None, max_length=64, description="The development issue of a qualified defect."
    )

    @model_validator(mode="after")
    def _defect_has_its_issue(self) -> "Triage":
        if self.defect_qualified and not (self.development_issue or "").strip():
            raise ValueError(
                "development_issue is required when defect_qualified is true: give the "
                "development issue number the defect is tracked under (e.g. DEV-4821)"
            )
        if not self.defect_qualified and self.development_issue:
            raise ValueError(
                "development_issue is set but defect_qualified is false: qualify the defect, "
                "or leave the issue out"
            )
        return self


NOTICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""A status-board notice id, as the board's admin API accepts it."""


class IncidentLink(BaseModel):
    """A status-board incident a case is linked to: the case shares its cause and its fix."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    notice_id: str = Field(pattern=NOTICE_ID_PATTERN, description="The board's notice id.")
    title: str = Field(min_length=1, max_length=255, description="The incident's title.")
    linked_at: AwareDatetime
    resolved_at: AwareDatetime | None = Field(
        None, description="When the incident's resolution was noted on the case."
    )
