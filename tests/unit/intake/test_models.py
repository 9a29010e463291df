"""Intake bodies: blank required text is refused naming the field; blank optional is absent."""

from datetime import date
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from intake.models import CaseCreate, CloseCreate, ReopenCreate

BLANK = "   \n\t "
CASES: TypeAdapter[Any] = TypeAdapter(CaseCreate)
ISSUE = {
    "case_type": "Application Issue",
    "subject": "Teachers unable to post grades",
    "description": "None of the English Literature teachers can post grades.",
    "application_type": "Campus Application",
    "module": "Grade Book",
    "steps_to_reproduce": "1. Log in as Anne Shirley 2. Click Post",
    "expected_results": "Post button to be active",
    "who_is_impacted": "English Lit 1100 teachers",
    "issue_began": str(date(2021, 9, 7)),
}
CONTACT = {
    "case_type": "Modify Support Contacts",
    "subject": "Add a counselor",
    "description": "Kelly joins as a technical contact.",
    "request_type": "Add",
    "contact_first_name": "Kelly",
    "contact_last_name": "Kapowski",
    "contact_email": "kelly@bayside.example",
    "contact_title": "Counselor",
    "contact_primary_phone": "555-0199",
    "contact_type": "Technical",
    "areas_of_responsibility": ["SIS"],
}


def _refused_fields(body: dict[str, Any]) -> set[str]:
    with pytest.raises(ValidationError) as refused:
        CASES.validate_python(body)
    return {".".join(str(p) for p in e["loc"][1:]) for e in refused.value.errors()}


@pytest.mark.parametrize(
    "field", ["subject", "description", "steps_to_reproduce", "expected_results", "who_is_impacted"]
)
def test_blank_required_text_of_an_application_issue_is_named(field: str) -> None:
    """Whitespace alone in a required text field is refused under that field's name."""
    assert _refused_fields({**ISSUE, field: BLANK}) == {field}


@pytest.mark.parametrize(
    "field", ["contact_first_name", "contact_last_name", "contact_title", "contact_primary_phone"]
)
def test_blank_required_text_of_a_contact_change_is_named(field: str) -> None:
    """Seven spaces pass the phone pattern and length, but not as a blank field."""
    value = " " * 7 if field == "contact_primary_phone" else "\u200b\u2060 "
    assert _refused_fields({**CONTACT, field: value}) == {field}


def test_blank_optional_text_is_not_given() -> None:
    """Blank optional text (environment changes, error message) counts as absent."""
    body = CASES.validate_python({**ISSUE, "environment_changes": BLANK, "error_message": ""})
    assert (body.environment_changes, body.error_message) == (None, None)


def test_blank_replacement_name_of_a_replace_request_is_missing() -> None:
    """A Replace request with a blank replacement name is refused as without one."""
    with pytest.raises(ValidationError, match="contact_replacement_name"):
        CASES.validate_python(
            {**CONTACT, "request_type": "Replace", "contact_replacement_name": BLANK}
        )


def test_reopen_details_must_not_be_blank() -> None:
    """The issue's reopen payload is refused; real details pass unchanged."""
    with pytest.raises(ValidationError) as refused:
        ReopenCreate.model_validate({"details": BLANK})
    assert refused.value.errors()[0]["loc"] == ("details",)
    assert ReopenCreate.model_validate({"details": " still broken "}).details == " still broken "


def test_blank_close_note_is_no_note() -> None:
    """The close note is optional: blank is the same as none."""
    assert CloseCreate.model_validate({"note": BLANK}).note is None
    assert CloseCreate.model_validate({"note": "fixed"}).note == "fixed"


def test_server_hardware_names_server_issue() -> None:
    """The seed's "Server/Hardware" validates as a Server Issue and dumps as "Server Issue"."""
    body = {
        "case_type": "Server/Hardware",
        "subject": "The district server is down",
        "description": "No one can reach the SIS since 7 am.",
        "module": "Hosting",
        "issue_began": "2026-11-30",
    }
    case = CASES.validate_python(body)
    assert type(case).__name__ == "ServerIssueCreate"
    assert case.model_dump(mode="json")["case_type"] == "Server Issue"
    mapping = CASES.json_schema()["discriminator"]["mapping"]
    assert mapping["Server/Hardware"] == mapping["Server Issue"]
