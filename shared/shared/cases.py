"""Per-case-type form details: exactly the fields the Case Submission page lists for each type."""

import re
from datetime import date
from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from shared.enums import (
    ApplicationType,
    AreaOfResponsibility,
    CaseType,
    ContactChangeRequestType,
    ContactType,
    Module,
    ServerAccessRequestType,
    TechnicalServicesType,
    TrainingRequestType,
)

ShortText = Annotated[str, Field(min_length=1, max_length=255)]
LongText = Annotated[str, Field(min_length=1, max_length=32_000)]
Phone = Annotated[str, Field(min_length=7, max_length=32, pattern=r"^[0-9+().\- x]+$")]


class Details(BaseModel):
    """Fields specific to one case type; `case_type` picks the form."""

    model_config = ConfigDict(frozen=True)


class AskAQuestion(Details):
    """Ask a how-to question or for advice."""

    case_type: Literal[CaseType.ASK_A_QUESTION] = CaseType.ASK_A_QUESTION
    module: Module = Field(description="Area of the product the question concerns.")
    location_within_product: ShortText | None = Field(
        None, description="Area in the product where you are working, e.g. System Admin > Calendar."
    )


class ApplicationIssue(Details):
    """The product is not working as expected."""

    case_type: Literal[CaseType.APPLICATION_ISSUE] = CaseType.APPLICATION_ISSUE
    application_type: ApplicationType = Field(description="Which application is affected.")
    module: Module = Field(description="Area of the product where the issue occurs.")
    steps_to_reproduce: LongText = Field(description="Click-by-click steps to replicate the issue.")
    environment_changes: LongText | None = Field(
        None, description="Recent changes to workstations or the site (software, tool rights)."
    )
    error_message: LongText | None = Field(None, description="Any error message shown, verbatim.")
    expected_results: LongText = Field(description="What should happen instead.")
    who_is_impacted: ShortText = Field(description="Scope: e.g. all teachers of one course.")
    issue_began: date = Field(description="When the issue first occurred.")


class DataRestore(Details):
    """Restore lost or deleted data; data is kept for 30 days and needs written permission."""

    case_type: Literal[CaseType.DATA_RESTORE] = CaseType.DATA_RESTORE
    module: Module = Field(description="Area of the product whose data was lost.")
    approximate_date_of_loss: date = Field(
        description="When the data was deleted (within 30 days)."
    )
    reason_for_restore: LongText = Field(description="Why the data was lost.")
    written_permission: Literal[True] = Field(
        description="Your written permission to restore; restoration may recreate deleted data."
    )


class ModifySupportContacts(Details):
    """Add, modify or replace one of the district's support contacts."""

    case_type: Literal[CaseType.MODIFY_SUPPORT_CONTACTS] = CaseType.MODIFY_SUPPORT_CONTACTS
    request_type: ContactChangeRequestType
    contact_first_name: ShortText
    contact_last_name: ShortText
    contact_email: EmailStr
    contact_title: ShortText
    contact_primary_phone: Phone
    contact_secondary_phone: Phone | None = None
    contact_type: ContactType
    areas_of_responsibility: list[AreaOfResponsibility] = Field(min_length=1)
    contact_replacement_name: ShortText | None = Field(
        None, description="When replacing a contact: the contact to remove."
    )

    @model_validator(mode="after")
    def _replacement_named(self) -> Self:
        if (
            self.request_type is ContactChangeRequestType.REPLACE
            and not self.contact_replacement_name
        ):
            raise ValueError("contact_replacement_name is required when request_type is Replace")
        return self


class ReportAnOutage(Details):
    """The product is inaccessible for all or most users."""

    case_type: Literal[CaseType.REPORT_AN_OUTAGE] = CaseType.REPORT_AN_OUTAGE
    error_message: LongText | None = Field(None, description="Any error message shown, verbatim.")


class ServerIssue(Details):
    """An issue with the district's server."""

    case_type: Literal[CaseType.SERVER_ISSUE] = CaseType.SERVER_ISSUE
    module: Module
    error_message: LongText | None = None
    issue_began: date


class ServerAccess(Details):
    """Request Server, SQL Server or SSRS access; SQL Server needs Schema Bootcamp training."""

    case_type: Literal[CaseType.SERVER_ACCESS] = CaseType.SERVER_ACCESS
    request_type: ServerAccessRequestType
    schema_training_completed: bool = Field(
        False, description="Schema Bootcamp training completed; required for SQL Server access."
    )

    @model_validator(mode="after")
    def _schema_training(self) -> Self:
        needs_training = self.request_type is ServerAccessRequestType.SQL_SERVER
        if needs_training and not self.schema_training_completed:
            raise ValueError("SQL Server access requires schema_training_completed to be true")
        return self


class RequestTraining(Details):
    """Schedule product training; first, second and third choice dates."""

    case_type: Literal[CaseType.REQUEST_TRAINING] = CaseType.REQUEST_TRAINING
    request_type: TrainingRequestType
    preferred_training_date: date = Field(description="First choice date.")
    preferred_training_date_2: date | None = Field(None, description="Second choice date.")
    preferred_training_date_3: date | None = Field(None, description="Third choice date.")


class RequestConsulting(Details):
    """Time with a Business Consultant."""

    case_type: Literal[CaseType.REQUEST_CONSULTING] = CaseType.REQUEST_CONSULTING
    preferred_consult_date: date = Field(description="First date for the consult.")
    preferred_consult_date_2: date | None = None
    preferred_consult_date_3: date | None = None


class RequestTechnicalServices(Details):
    """A new or existing Technical Services project."""

    case_type: Literal[CaseType.REQUEST_TECHNICAL_SERVICES] = CaseType.REQUEST_TECHNICAL_SERVICES
    services_type: TechnicalServicesType = Field(description="What kind of request this is.")
    module: Module
    desired_completion_date: date = Field(description="Date by which the work should be finished.")


AnyDetails = Annotated[
    AskAQuestion
    | ApplicationIssue
    | DataRestore
    | ModifySupportContacts
    | ReportAnOutage
    | ServerIssue
    | ServerAccess
    | RequestTraining
    | RequestConsulting
    | RequestTechnicalServices,
    Field(discriminator="case_type"),
]

DETAILS_BY_TYPE: dict[CaseType, type[Details]] = {
    CaseType.ASK_A_QUESTION: AskAQuestion,
    CaseType.APPLICATION_ISSUE: ApplicationIssue,
    CaseType.DATA_RESTORE: DataRestore,
    CaseType.MODIFY_SUPPORT_CONTACTS: ModifySupportContacts,
    CaseType.REPORT_AN_OUTAGE: ReportAnOutage,
    CaseType.SERVER_ISSUE: ServerIssue,
    CaseType.SERVER_ACCESS: ServerAccess,
    CaseType.REQUEST_TRAINING: RequestTraining,
    CaseType.REQUEST_CONSULTING: RequestConsulting,
    CaseType.REQUEST_TECHNICAL_SERVICES: RequestTechnicalServices,
}


def module_of(details: Details) -> Module | None:
    """The module a case concerns, for the types whose form asks for one."""
    module = getattr(details, "module", None)
    return module if isinstance(module, Module) else None


# Case numbers are positive 64-bit integers (Mongo's int64): at most 19 ASCII digits.
CASE_NUMBER_MAX = 2**63 - 1
_CASE_NUMBER = re.compile(r"[0-9]{1,19}")
_LONGEST_UUID = 45  # the longest UUID spelling, braces and "urn:uuid:" included


def parse_case_ref(text: str) -> int | UUID | None:
    """A case number (1 to 19 ASCII digits, within 1..2^63-1) or a case id (a UUID); None for
    anything else (other digits such as "²" or "①" included). Every service reads a case
    reference with this one rule."""
    if _CASE_NUMBER.fullmatch(text):
        number = int(text)
        return number if 1 <= number <= CASE_NUMBER_MAX else None
    if len(text) > _LONGEST_UUID:
        return None
    try:
        return UUID(text)
    except ValueError:
        return None
