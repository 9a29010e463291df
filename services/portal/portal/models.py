"""The portal's own models: the session, the sign-in state, the people and forms pages show."""

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.enums import ContactType

FieldKind = Literal[
    "text", "textarea", "select", "date", "checkbox", "choices", "email", "tel", "confirm"
]


class Session(BaseModel):
    """What the signed session cookie carries: who, which district, the CSRF token, expiry."""

    model_config = ConfigDict(frozen=True)

    sid: str = Field(description="Random per sign-in: a new session never reuses an old id.")
    contact_id: str
    account_id: str = Field(description="The district the person is looking at.")
    csrf: str
    expires_at: int = Field(description="Unix time the session ends.")


class LoginState(BaseModel):
    """The sign-in in progress, in its own short-lived signed cookie."""

    model_config = ConfigDict(frozen=True)

    state: str
    nonce: str
    code_verifier: str
    next_path: str = "/"
    expires_at: int


@dataclass(frozen=True)
class District:
    """A district (account) as the header shows it."""

    account_id: str
    name: str
    time_zone: str


@dataclass(frozen=True)
class Person:
    """The signed-in contact, resolved from the directory on every request."""

    contact_id: str
    name: str
    email: str
    contact_type: ContactType
    districts: list[District]
    district: District

    @property
    def can_modify_cases(self) -> bool:
        """Read-Only contacts see everything of their district and change nothing."""
        return self.contact_type.can_modify_cases


@dataclass(frozen=True)
class FieldSpec:
    """One control of a case form: name, label, kind, whether required, its tool tip."""

    name: str
    label: str
    kind: FieldKind
    required: bool
    help: str = ""
    options: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CaseTypeCard:
    """A case type as the Submit a Case page offers it."""

    case_type: str
    slug: str
    description: str
    examples: list[str]
    billable: bool


@dataclass(frozen=True)
class Column:
    """A sortable column of the case list."""

    key: str
    label: str
