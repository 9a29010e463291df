"""Message contracts: every case type round-trips, readers are tolerant, structural rules hold."""

from datetime import date
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from shared.cases import DETAILS_BY_TYPE, ApplicationIssue, ModifySupportContacts, ServerAccess
from shared.commands import CASE_COMMANDS, ReopenCase
from shared.enums import ActorKind, CaseType, Priority
from shared.events import CASE_EVENTS, CaseSubmitted
from shared.messages import Actor, UnknownMessage, decode

ZACK = Actor(kind=ActorKind.CONTACT, id="zack-morris", name="Zack Morris (TESTING)")

EXAMPLE_DETAILS: dict[CaseType, dict[str, Any]] = {
    CaseType.ASK_A_QUESTION: {"module": "Calendar (terms, periods, days)"},
    CaseType.APPLICATION_ISSUE: {
        "application_type": "Campus Application",
        "module": "Grade Book",
        "steps_to_reproduce": "1. Log in as teacher Anne Shirley",
        "expected_results": "Post button to be active",
        "who_is_impacted": "English Lit 1100 teachers",
        "issue_began": "2021-09-07",
    },
    CaseType.DATA_RESTORE: {
        "module": "Enrollment",
        "approximate_date_of_loss": "2026-11-20",
        "reason_for_restore": "Enrollment end-dated by mistake",
        "written_permission": True,
    },
    CaseType.MODIFY_SUPPORT_CONTACTS: {
        "request_type": "Add",
        "contact_first_name": "Kelly",
        "contact_last_name": "Kapowski",
        "contact_email": "kelly@example.org",
        "contact_title": "Registrar",
        "contact_primary_phone": "555-0100",
        "contact_type": "Technical",
        "areas_of_responsibility": ["SIS"],
    },
    CaseType.REPORT_AN_OUTAGE: {},
    CaseType.SERVER_ISSUE: {"module": "Reports", "issue_began": "2026-11-19"},
    CaseType.SERVER_ACCESS: {"request_type": "SSRS"},
    CaseType.REQUEST_TRAINING: {
        "request_type": "Campus Learning",
        "preferred_training_date": "2026-12-07",
    },
    CaseType.REQUEST_CONSULTING: {"preferred_consult_date": "2026-12-08"},
    CaseType.REQUEST_TECHNICAL_SERVICES: {
        "services_type": "Custom Report, Report Card or Transcript",
        "module": "Reports",
        "desired_completion_date": "2027-01-15",
    },
}


def _submitted(case_type: CaseType) -> dict[str, Any]:
    return {
        "type": "case.submitted",
        "case_id": str(uuid4()),
        "case_number": 1227963,
        "account_id": "bayside",
        "contact_id": "zack-morris",
        "submitted_by": ZACK.model_dump(mode="json"),
        "priority": "Medium",
        "subject": "Snow Day",
        "description": "How do I add a snow day to the calendar?",
        "details": {"case_type": case_type.value, **EXAMPLE_DETAILS[case_type]},
    }


def test_examples_cover_all_ten_types() -> None:
    """The example table is complete, so the round-trip test covers every form."""
    assert set(EXAMPLE_DETAILS) == set(DETAILS_BY_TYPE) == set(CaseType)


@pytest.mark.parametrize("case_type", list(CaseType))
def test_case_submitted_round_trips_for_every_type(case_type: CaseType) -> None:
    """Each type's form parses into its own model and serializes back unchanged."""
    event = decode(CASE_EVENTS, _submitted(case_type))
    assert isinstance(event, CaseSubmitted)
    assert isinstance(event.details, DETAILS_BY_TYPE[case_type])
    assert event.case_type is case_type
    assert decode(CASE_EVENTS, event.model_dump_json()) == event


def test_reader_ignores_fields_added_later() -> None:
    """Tolerant reader: an unknown extra field does not break parsing."""
    raw = {**_submitted(CaseType.REPORT_AN_OUTAGE), "added_in_v2": "x"}
    event = decode(CASE_EVENTS, raw)
    assert isinstance(event, CaseSubmitted)
    assert event.priority is Priority.MEDIUM


def test_unknown_message_type_raises_unknown_message() -> None:
    """A type this reader does not know is reported as UnknownMessage, not a parse failure."""
    with pytest.raises(UnknownMessage):
        decode(CASE_EVENTS, {**_submitted(CaseType.REPORT_AN_OUTAGE), "type": "case.merged"})


def test_occurred_at_must_be_timezone_aware() -> None:
    """Naive timestamps are refused: every time on the wire is aware UTC."""
    raw = {**_submitted(CaseType.REPORT_AN_OUTAGE), "occurred_at": "2026-11-22T10:00:00"}
    with pytest.raises(ValidationError, match="timezone"):
        decode(CASE_EVENTS, raw)


def test_replacing_a_contact_names_who_is_replaced() -> None:
    """Modify Support Contacts with request type Replace needs the contact to remove."""
    fields = {**EXAMPLE_DETAILS[CaseType.MODIFY_SUPPORT_CONTACTS], "request_type": "Replace"}
    with pytest.raises(ValidationError, match="contact_replacement_name"):
        ModifySupportContacts.model_validate(fields)
    named = ModifySupportContacts.model_validate({**fields, "contact_replacement_name": "A. C."})
    assert named.contact_replacement_name == "A. C."


def test_sql_server_access_needs_schema_training() -> None:
    """SQL Server access requires Schema Bootcamp training; SSRS does not."""
    with pytest.raises(ValidationError, match="schema_training_completed"):
        ServerAccess.model_validate({"request_type": "SQL Server"})
    assert ServerAccess.model_validate({"request_type": "SSRS"}).schema_training_completed is False


def test_data_restore_requires_written_permission() -> None:
    """A restore without written permission is not a valid form."""
    fields = {**EXAMPLE_DETAILS[CaseType.DATA_RESTORE], "written_permission": False}
    with pytest.raises(ValidationError, match="written_permission"):
        DETAILS_BY_TYPE[CaseType.DATA_RESTORE].model_validate(fields)


def test_reopen_needs_details() -> None:
    """ReopenCase without additional details is refused."""
    raw = {"type": "case.reopen", "case_id": str(uuid4()), "actor": ZACK.model_dump(mode="json")}
    with pytest.raises(ValidationError, match="details"):
        CASE_COMMANDS.validate_python(raw)
    command = CASE_COMMANDS.validate_python({**raw, "details": "Still failing for period 2"})
    assert isinstance(command, ReopenCase)


def test_dates_parse_as_dates() -> None:
    """Date fields are real dates on the wire (ISO 8601)."""
    event = decode(CASE_EVENTS, _submitted(CaseType.APPLICATION_ISSUE))
    assert isinstance(event, CaseSubmitted)
    assert isinstance(event.details, ApplicationIssue)
    assert event.details.issue_began == date(2021, 9, 7)
