"""Factories for routing's unit tests: submitted cases of every type, commands, a context."""

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from routing.logic import BusinessCalendar, Context
from shared.enums import ActorKind, CaseType, Department, Module, Priority
from shared.events import CaseSubmitted, StaffMember
from shared.messages import Actor

DETAILS: dict[CaseType, dict[str, Any]] = {
    CaseType.ASK_A_QUESTION: {"module": "Grade Book"},
    CaseType.APPLICATION_ISSUE: {
        "application_type": "Campus Application",
        "module": "Grade Book",
        "steps_to_reproduce": "1. open grade book",
        "expected_results": "scores save",
        "who_is_impacted": "all teachers",
        "issue_began": "2026-11-01",
    },
    CaseType.DATA_RESTORE: {
        "module": "Enrollment",
        "approximate_date_of_loss": "2026-11-10",
        "reason_for_restore": "deleted by mistake",
        "written_permission": True,
    },
    CaseType.MODIFY_SUPPORT_CONTACTS: {
        "request_type": "Add",
        "contact_first_name": "Ann",
        "contact_last_name": "Lee",
        "contact_email": "ann@example.org",
        "contact_title": "Registrar",
        "contact_primary_phone": "555-123-4567",
        "contact_type": "Technical",
        "areas_of_responsibility": ["SIS"],
    },
    CaseType.REPORT_AN_OUTAGE: {},
    CaseType.SERVER_ISSUE: {"module": "Data Warehouse", "issue_began": "2026-11-01"},
    CaseType.SERVER_ACCESS: {"request_type": "Server"},
    CaseType.REQUEST_TRAINING: {
        "request_type": "Grade Book",
        "preferred_training_date": "2027-01-05",
    },
    CaseType.REQUEST_CONSULTING: {"preferred_consult_date": "2027-01-05"},
    CaseType.REQUEST_TECHNICAL_SERVICES: {
        "services_type": "Other Services",
        "module": "Reports",
        "desired_completion_date": "2027-02-01",
    },
}

CONTACT = Actor(kind=ActorKind.CONTACT, id="c-1", name="Zack Morris")
STAFF = Actor(kind=ActorKind.STAFF, id="s-1", name="Kelly Kapowski")
# Kelly as the directory knows her: Campus Support, where Ask a Question cases go.
KELLY = StaffMember(
    id="s-1",
    name="Kelly Kapowski",
    email="kelly@example.com",
    departments=[Department.CAMPUS_SUPPORT],
)
NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)  # Friday 10:00 in Chicago


def submitted(
    case_type: CaseType,
    module: Module | None = None,
    *,
    priority: Priority = Priority.MEDIUM,
    due_date: date | None = None,
    case_id: UUID | None = None,
) -> CaseSubmitted:
    """A CaseSubmitted of `case_type` with a valid form (module overridden when given)."""
    details = {"case_type": case_type.value, **DETAILS[case_type]}
    if module is not None:
        details["module"] = module.value
    return CaseSubmitted.model_validate(
        {
            "case_id": case_id or uuid4(),
            "case_number": 1001,
            "account_id": "a-1",
            "contact_id": CONTACT.id,
            "submitted_by": CONTACT.model_dump(),
            "priority": priority,
            "subject": "Teachers cannot save scores",
            "description": "details",
            "due_date": due_date,
            "details": details,
        }
    )


@pytest.fixture(scope="session")
def calendar() -> BusinessCalendar:
    """US federal business days."""
    return BusinessCalendar("US")


@pytest.fixture
def context(calendar: BusinessCalendar) -> Callable[..., Context]:
    """A decision context at a given time (Chicago); Kelly of Campus Support acts (and is
    the assignee named) unless `staff` or `assignee` say otherwise."""

    def make(now: datetime = NOW, **extra: Any) -> Context:
        return Context(
            now, calendar, "America/Chicago", **{"staff": KELLY, "assignee": KELLY, **extra}
        )

    return make


@pytest.fixture(scope="session")
def new_case() -> Callable[..., CaseSubmitted]:
    """Builds a CaseSubmitted of a given type."""
    return submitted
