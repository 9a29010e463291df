"""HTTP bodies of the intake API: one submission body per case type, answers and errors."""

import types
import typing
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from shared.cases import (
    DETAILS_BY_TYPE,
    ApplicationIssue,
    AskAQuestion,
    DataRestore,
    LongText,
    ModifySupportContacts,
    Phone,
    ReportAnOutage,
    RequestConsulting,
    RequestTechnicalServices,
    RequestTraining,
    ServerAccess,
    ServerIssue,
    ShortText,
)
from shared.commands import BLANK_RULE, NonBlankText, is_blank
from shared.enums import (
    AreaOfResponsibility,
    CaseType,
    ContactType,
    Department,
    Priority,
    Status,
    Visibility,
)
from shared.messages import AttachmentRef

DistrictId = Annotated[str, Field(min_length=1, max_length=64)]


def _not_blank(cls: type[BaseModel], value: Any, info: ValidationInfo) -> Any:
    """Required text that is blank is refused; optional text that is blank is not given."""
    if not isinstance(value, str) or not is_blank(value):
        return value
    if cls.model_fields[info.field_name or ""].is_required():
        raise PydanticCustomError("not_blank", BLANK_RULE)
    return None


def not_blank(*fields: str) -> Any:
    """A validator: these string fields must say something once trimmed.

    Blank is the contracts' rule (shared.commands.is_blank: only whitespace, control or
    zero-width characters). A required field that is blank is a 422 naming it, so nothing
    downstream receives what it would refuse later. The shared form types cannot carry the
    rule themselves: events already on Kafka were written with them.
    """
    return field_validator(*fields, mode="before", check_fields=False)(classmethod(_not_blank))


def _is_text(model: type[BaseModel], name: str) -> bool:
    """Whether the field takes a string (str, or str or None)."""
    annotation = model.model_fields[name].annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_str(arg) for arg in typing.get_args(annotation))
    return _is_str(annotation)


def _is_str(annotation: Any) -> bool:
    if typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation is str


# Every string field of every case type's form, plus the fields all forms share.
_DETAIL_TEXT = {
    name
    for model in DETAILS_BY_TYPE.values()
    for name in model.model_fields
    if _is_text(model, name)
}
CASE_TEXT_FIELDS = ("subject", "description", "account_id", "contact_id", *sorted(_DETAIL_TEXT))


class CaseFields(BaseModel):
    """Fields every case form shows; no text field of any type's form may be blank."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    _text = not_blank(*CASE_TEXT_FIELDS)

    subject: ShortText = Field(description="Brief, specific topic of the case.")
    description: LongText = Field(description="Who, what, where, when, why and how.")
    priority: Priority = Field(
        Priority.MEDIUM, description="Defaults to Medium; Critical only for Report an Outage."
    )
    account_id: DistrictId | None = Field(
        None, description="District reporting the issue; defaults to yours (required if several)."
    )
    contact_id: DistrictId | None = Field(
        None, description="Contact reporting the issue; defaults to you."
    )
    due_date: date | None = Field(None, description="For time-sensitive cases; not in the past.")


class AskAQuestionCreate(CaseFields, AskAQuestion):
    """Submit an Ask a Question case."""

    case_type: Literal[CaseType.ASK_A_QUESTION]


class ApplicationIssueCreate(CaseFields, ApplicationIssue):
    """Submit an Application Issue case."""

    case_type: Literal[CaseType.APPLICATION_ISSUE]


class DataRestoreCreate(CaseFields, DataRestore):
    """Submit a Data Restore case (loss within the 30-day retention, written permission)."""

    case_type: Literal[CaseType.DATA_RESTORE]


class ModifySupportContactsCreate(CaseFields, ModifySupportContacts):
    """Submit a Modify Support Contacts case."""

    case_type: Literal[CaseType.MODIFY_SUPPORT_CONTACTS]


class ReportAnOutageCreate(CaseFields, ReportAnOutage):
    """Submit a Report an Outage case; the only type that accepts Critical."""

    case_type: Literal[CaseType.REPORT_AN_OUTAGE]


# The seed's own name of a case type (000's Case Search lists "Server/Hardware"), accepted at
# input only: the case is stored and shown under the type's name.
SERVER_HARDWARE = "Server/Hardware"


class ServerIssueCreate(CaseFields, ServerIssue):
    """Submit a Server Issue case (case_type "Server/Hardware", the seed's name, is accepted
    too, and stored and shown as "Server Issue")."""

    case_type: Literal[CaseType.SERVER_ISSUE, "Server/Hardware"]  # type: ignore[assignment]

    @field_validator("case_type", mode="after")
    @classmethod
    def _type_not_alias(cls, value: str) -> CaseType:
        """The alias names the type itself."""
        return CaseType.SERVER_ISSUE if value == SERVER_HARDWARE else CaseType(value)


class ServerAccessCreate(CaseFields, ServerAccess):
    """Submit a Server Access case (SQL Server needs Schema Bootcamp training)."""

    case_type: Literal[CaseType.SERVER_ACCESS]


class RequestTrainingCreate(CaseFields, RequestTraining):
    """Submit a Request Training case (preferred dates in the future)."""

    case_type: Literal[CaseType.REQUEST_TRAINING]


class RequestConsultingCreate(CaseFields, RequestConsulting):
    """Submit a Request Consulting case (preferred dates in the future)."""

    case_type: Literal[CaseType.REQUEST_CONSULTING]


class RequestTechnicalServicesCreate(CaseFields, RequestTechnicalServices):
    """Submit a Request Technical Services case (completion date not in the past)."""

    case_type: Literal[CaseType.REQUEST_TECHNICAL_SERVICES]


CaseCreate = Annotated[
    AskAQuestionCreate
    | ApplicationIssueCreate
    | DataRestoreCreate
    | ModifySupportContactsCreate
    | ReportAnOutageCreate
    | ServerIssueCreate
    | ServerAccessCreate
    | RequestTrainingCreate
    | RequestConsultingCreate
    | RequestTechnicalServicesCreate,
    Field(discriminator="case_type"),
]
COMMON_FIELDS = frozenset(CaseFields.model_fields)


class CasePublic(BaseModel):
    """A submitted case: its id and number."""

    case_id: UUID
    case_number: int
    case_type: CaseType
    status: Status
    priority: Priority
    subject: str
    account_id: str
    contact_id: str
    created_at: datetime


class PostPublic(BaseModel):
    """A post as accepted: sanitized body and the stored attachments."""

    post_id: UUID
    case_id: UUID
    body_html: str
    attachments: list[AttachmentRef]
    visibility: Visibility = Field(
        Visibility.PUBLIC, description="public, or internal: a note only staff read."
    )


class AttachmentPublic(AttachmentRef):
    """A stored attachment of a case."""

    post_id: UUID | None = None
    uploaded_at: datetime
    uploaded_by: str
    visibility: Visibility = Field(
        Visibility.PUBLIC, description="internal: attached to a staff-only note (staff only)."
    )


class CloseCreate(BaseModel):
    """Close a case; an optional note says why (a blank note is no note)."""

    model_config = ConfigDict(extra="forbid")
    _text = not_blank("note")

    note: str | None = Field(None, max_length=32_000)


class ReopenCreate(BaseModel):
    """Reopen a closed case within 60 days, with additional details (not blank)."""

    model_config = ConfigDict(extra="forbid")

    details: NonBlankText = Field(description="Additional details for further investigation.")


class CommandAccepted(BaseModel):
    """The command is on Kafka; the workflow applies it (StatusChanged) or rejects it."""

    command_id: UUID
    case_id: UUID
    command: str
    outcome_url: str = Field(
        description=(
            "The feed route answering pending, applied or rejected (with the reason); "
            "add ?wait=5 to wait for it. Also the Location header."
        )
    )


class RecipientsCreate(BaseModel):
    """Contacts to add as notification recipients."""

    model_config = ConfigDict(extra="forbid")

    contact_ids: list[DistrictId] = Field(min_length=1, max_length=100)


class RecipientPublic(BaseModel):
    """One notification recipient."""

    contact_id: str
    name: str | None = None
    contact_type: ContactType | None = None
    owner: bool = False


class RecipientsPublic(BaseModel):
    """A case's notification recipients."""

    case_id: UUID
    recipients: list[RecipientPublic]


class ContactPublic(BaseModel):
    """A district contact as recipient pickers show them (email for the district only)."""

    contact_id: str
    name: str
    contact_type: ContactType
    email: str | None = Field(
        None, description="Shown to contacts of this district only; omitted for anyone else."
    )


class ContactsPublic(BaseModel):
    """The active contacts of one district, by name."""

    account_id: str
    account_name: str
    contacts: list[ContactPublic]


class StaffPublic(BaseModel):
    """A staff member of a department."""

    staff_id: str
    name: str
    email: str
    departments: list[Department]
    on_duty: bool
    supervisor: bool


class StaffListPublic(BaseModel):
    """The active staff of one department, by name."""

    department: Department
    staff: list[StaffPublic]


# --- directory changes (staff) ---------------------------------------------------------


class ContactFields(BaseModel):
    """A contact's fields as a Modify Support Contacts case names them (001's Case Fields)."""

    model_config = ConfigDict(extra="forbid")

    first_name: ShortText = Field(description="Contact First Name.")
    last_name: ShortText = Field(description="Contact Last Name.")
    email: EmailStr = Field(description="Contact Email; no other active contact may have it.")
    title: ShortText | None = Field(None, description="Contact Title.")
    primary_phone: Phone | None = Field(None, description="Contact Primary Phone.")
    secondary_phone: Phone | None = Field(None, description="Contact Secondary Phone.")
    contact_type: ContactType = Field(description="Contact Type: what the contact may do.")
    areas_of_responsibility: list[AreaOfResponsibility] = Field(
        default_factory=list, description="Area of Responsibility: the areas they answer for."
    )


class ContactCreate(ContactFields):
    """A new contact of one district; with `replaces`, the contact it takes over from."""

    account_id: DistrictId = Field(description="The district the contact belongs to.")
    replaces: DistrictId | None = Field(
        None,
        description=(
            "Contact Replacement Name, as the id of an active contact of the same district: "
            "deactivated, and every token of theirs revoked, together with the creation."
        ),
    )


class ContactUpdate(BaseModel):
    """The fields to change; a field left out keeps its value."""

    model_config = ConfigDict(extra="forbid")

    account_id: DistrictId = Field(description="The district the contact must belong to.")
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    email: EmailStr | None = None
    title: ShortText | None = None
    primary_phone: Phone | None = None
    secondary_phone: Phone | None = None
    contact_type: ContactType | None = None
    areas_of_responsibility: list[AreaOfResponsibility] | None = None


class ContactRecordPublic(BaseModel):
    """A contact as the directory holds them."""

    contact_id: str
    name: str
    first_name: str
    last_name: str
    email: str
    title: str | None
    primary_phone: str | None
    secondary_phone: str | None
    contact_type: ContactType
    areas_of_responsibility: list[AreaOfResponsibility]
    account_ids: list[str]
    active: bool


class ContactChangePublic(BaseModel):
    """What a directory change did."""

    change: Literal["added", "modified", "replaced"]
    contact: ContactRecordPublic = Field(description="The contact created or updated.")
    replaced: ContactRecordPublic | None = Field(
        None, description="The contact deactivated by a replacement."
    )
    changed_fields: list[str] = Field(
        default_factory=list, description="Of a modification: the fields whose value changed."
    )
    revoked_token_ids: list[str] = Field(
        default_factory=list, description="The replaced contact's tokens, revoked now."
    )
    replayed: bool = Field(
        False,
        description="True when this Idempotency-Key was used before: the change was already "
        "made then, and nothing was changed now.",
    )
