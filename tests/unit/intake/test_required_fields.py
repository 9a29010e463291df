"""Each case form's fields, and which it cannot be submitted without, as 001 "Case Fields" lists."""

from datetime import datetime, timedelta
from typing import Any, get_args
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from intake.models import CaseCreate
from tests import seed_facts

CASES: TypeAdapter[Any] = TypeAdapter(CaseCreate)
TODAY = datetime.now(ZoneInfo("America/Chicago")).date()
PAST, SOON = str(TODAY - timedelta(days=3)), str(TODAY + timedelta(days=10))

# The code's optional fields the seed lists with no words that let the contact leave them out.
# A complete submission of each type, every field filled in (001's example case for the issue).
_COMMON = {
    "subject": "Teachers unable to post grades",
    "description": "None of the English Literature teachers can post grades.",
    "priority": "High",
    "account_id": "bayside",
    "contact_id": "zack-morris",
    "due_date": SOON,
}
FULL: dict[str, dict[str, Any]] = {
    "Ask a Question": {
        "module": "Calendar (terms, periods, days)",
        "location_within_product": "System Admin > Calendar > Calendar > Days",
    },
    "Application Issue": {
        "application_type": "Campus Application",
        "module": "Grade Book",
        "steps_to_reproduce": "1. Log in as teacher Anne Shirley 2. Click Post",
        "environment_changes": "None",
        "error_message": "Post is greyed out",
        "expected_results": "Post button to be active",
        "who_is_impacted": "English Lit 1100 teachers",
        "issue_began": PAST,
    },
    "Data Restore": {
        "module": "Enrollment",
        "approximate_date_of_loss": PAST,
        "reason_for_restore": "Deleted by mistake",
        "written_permission": True,
    },
    "Modify Support Contacts": {
        "request_type": "Add",
        "contact_first_name": "Kelly",
        "contact_last_name": "Kapowski",
        "contact_email": "kelly@bayside.example",
        "contact_title": "Counselor",
        "contact_primary_phone": "555-0199",
        "contact_secondary_phone": "555-0198",
        "contact_type": "Technical",
        "areas_of_responsibility": ["SIS"],
        "contact_replacement_name": "Screech Powers",
    },
    "Report an Outage": {"error_message": "502 Bad Gateway"},
    "Server Issue": {"module": "Hosting", "error_message": "Timeout", "issue_began": PAST},
    "Server Access": {"request_type": "Server", "schema_training_completed": True},
    "Request Training": {
        "request_type": "Grade Book",
        "preferred_training_date": SOON,
        "preferred_training_date_2": SOON,
        "preferred_training_date_3": SOON,
    },
    "Request Consulting": {
        "preferred_consult_date": SOON,
        "preferred_consult_date_2": SOON,
        "preferred_consult_date_3": SOON,
    },
    "Request Technical Services": {
        "services_type": "Custom Report, Report Card or Transcript",
        "module": "Reports",
        "desired_completion_date": SOON,
    },
}
FIELDS = [
    (case_type, field)
    for case_type in seed_facts.SEED_CASE_TYPES
    for field in sorted(seed_facts.form_fields(case_type))
]


def _body(case_type: str) -> dict[str, Any]:
    return {"case_type": case_type, **_COMMON, **FULL[case_type]}


def _form(case_type: str) -> type[BaseModel]:
    forms: tuple[type[BaseModel], ...] = get_args(get_args(CaseCreate)[0])
    return next(f for f in forms if case_type in str(f.model_fields["case_type"].annotation))


@pytest.mark.parametrize("case_type", seed_facts.SEED_CASE_TYPES)
def test_each_form_has_exactly_the_seeds_fields(case_type: str) -> None:
    """A form's fields are those 001 lists for its type (plus the listed extras), no others."""
    got = set(_form(case_type).model_fields) - {"case_type"}
    assert got == seed_facts.form_fields(case_type)


@pytest.mark.parametrize("case_type", seed_facts.SEED_CASE_TYPES)
def test_a_complete_form_is_accepted(case_type: str) -> None:
    """Every field of the form filled in validates, under the seed's case type."""
    assert CASES.validate_python(_body(case_type)).case_type == case_type


@pytest.mark.parametrize(
    ("case_type", "field"),
    [(t, f) for t, f in FIELDS if f in seed_facts.required_fields(t)],
)
def test_leaving_out_a_required_field_is_refused_naming_it(case_type: str, field: str) -> None:
    """A form without one of its required fields is refused as missing that field."""
    body = _body(case_type)
    del body[field]
    with pytest.raises(ValidationError) as refused:
        CASES.validate_python(body)
    named = [(".".join(map(str, e["loc"][1:])), e["type"]) for e in refused.value.errors()]
    assert named == [(field, "missing")]


@pytest.mark.parametrize(
    ("case_type", "field"),
    [(t, f) for t, f in FIELDS if f not in seed_facts.required_fields(t)],
)
def test_leaving_out_an_optional_field_is_accepted(case_type: str, field: str) -> None:
    """A form without a field the seed lets the contact leave out still validates."""
    body = _body(case_type)
    del body[field]
    assert CASES.validate_python(body).case_type == case_type


def test_sql_server_access_needs_schema_training() -> None:
    """The seed: "Schema Bootcamp training is required for SQL Server access"."""
    body = {**_body("Server Access"), "request_type": "SQL Server"}
    assert CASES.validate_python(body).schema_training_completed
    del body["schema_training_completed"]
    with pytest.raises(ValidationError, match="schema_training_completed"):
        CASES.validate_python(body)
