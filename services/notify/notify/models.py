"""Notify's private documents: the per-case view, resolved recipients, mail and dead mail."""

import base64
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.enums import Status
from shared.workflow import DEFAULT_TIME_ZONE


class CaseView(BaseModel):
    """What notify keeps per case: enough to address, title and thread its mail."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    case_id: UUID
    case_number: int
    subject: str
    account_id: str
    owner_id: str
    recipients: list[str] = Field(description="Contact ids (or addresses); the owner first.")
    last_status: Status = Status.NEW
    department: str | None = None
    assignee: str | None = None
    assignee_id: str | None = Field(None, description="Staff id of the assignee, if any.")
    root_message_id: str
    opened_at: AwareDatetime
    applied: list[str] = Field(
        default_factory=list, description="Ids of the latest events applied (redelivery guard)."
    )


@dataclass(frozen=True)
class Recipient:
    """Someone to mail: address, display name and the time zone to show times in."""

    key: str
    email: str
    name: str
    time_zone: str = DEFAULT_TIME_ZONE
    first_name: str = ""
    reads_case: bool = False  # staff, or a contact of the case's district: sees post texts
    staff: bool = False  # a vendor staff member: case links open the staff workspace


@dataclass(frozen=True)
class Mail:
    """One rendered email for one recipient of one event."""

    event_id: UUID
    recipient: str
    message_id: str
    template: str
    message: EmailMessage = field(compare=False)
    case_id: UUID | None = None
    request_id: str | None = None  # of the request that caused it (also its X-Request-ID)

    @property
    def key(self) -> str:
        """Sent-log key: the same event never mails the same address twice."""
        return sent_key(self.event_id, self.recipient)


def sent_key(event_id: UUID, recipient: str) -> str:
    """`<event_id>/<address, lower case>`."""
    return f"{event_id}/{recipient.strip().lower()}"


class DeadMail(BaseModel):
    """A mail notify gave up on, with the reason; replayable byte for byte."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    key: str
    event_id: UUID
    recipient: str
    message_id: str
    template: str
    case_id: UUID | None = None
    request_id: str | None = None
    reason: str
    smtp_code: int | None = None
    failed_at: datetime
    raw_b64: str = Field(description="The exact message bytes, base64.")

    @classmethod
    def of(cls, mail: Mail, reason: str, code: int | None, at: datetime) -> "DeadMail":
        """Dead-letter record of `mail`."""
        return cls(
            key=mail.key,
            event_id=mail.event_id,
            recipient=mail.recipient,
            message_id=mail.message_id,
            template=mail.template,
            case_id=mail.case_id,
            request_id=mail.request_id,
            reason=reason,
            smtp_code=code,
            failed_at=at,
            raw_b64=base64.b64encode(mail.message.as_bytes()).decode("ascii"),
        )

    def to_mail(self) -> Mail:
        """The mail again, exactly as it was built."""
        raw = base64.b64decode(self.raw_b64)
        message = BytesParser(policy=default_policy).parsebytes(raw)
        return Mail(
            event_id=self.event_id,
            recipient=self.recipient,
            message_id=self.message_id,
            template=self.template,
            message=message,
            case_id=self.case_id,
            request_id=self.request_id,
        )
