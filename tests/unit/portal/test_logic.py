"""The portal's pure decisions: each case type's form, the list's links, safe redirects."""

import pytest
from portal import logic
from portal.errors import Refused

from shared.enums import CaseType


def _required(case_type: CaseType) -> set[str]:
    return {f.name for f in logic.detail_fields(case_type) if f.required}


def _all(case_type: CaseType) -> set[str]:
    return {f.name for f in logic.detail_fields(case_type)}


def test_application_issue_form_has_the_seed_fields() -> None:
    """Application Issue shows Type, Module, steps, environment, error, expected, impact, began."""
    assert _all(CaseType.APPLICATION_ISSUE) == {
        "application_type",
        "module",
        "steps_to_reproduce",
        "environment_changes",
        "error_message",
        "expected_results",
        "who_is_impacted",
        "issue_began",
    }
    assert "environment_changes" not in _required(CaseType.APPLICATION_ISSUE)
    assert "error_message" not in _required(CaseType.APPLICATION_ISSUE)
    assert "steps_to_reproduce" in _required(CaseType.APPLICATION_ISSUE)


def test_outage_form_asks_only_for_the_error_message() -> None:
    """Report an Outage adds only the optional Error Message to the common fields."""
    assert _all(CaseType.REPORT_AN_OUTAGE) == {"error_message"}
    assert _required(CaseType.REPORT_AN_OUTAGE) == set()


def test_modify_support_contacts_form() -> None:
    """Modify Support Contacts asks for the contact's names, email, title, phones, type, areas."""
    assert _required(CaseType.MODIFY_SUPPORT_CONTACTS) == {
        "request_type",
        "contact_first_name",
        "contact_last_name",
        "contact_email",
        "contact_title",
        "contact_primary_phone",
        "contact_type",
        "areas_of_responsibility",
    }
    areas = next(
        f
        for f in logic.detail_fields(CaseType.MODIFY_SUPPORT_CONTACTS)
        if f.name == "areas_of_responsibility"
    )
    assert areas.kind == "choices"
    assert areas.options == [
        "SIS",
        "Food Service",
        "Human Resources",
        "Finance",
        "Online Payments",
        "Voice Messenger",
        "State Edition",
    ]


def test_training_and_consulting_dates() -> None:
    """Training and consulting ask for a first date (required) and two more choices."""
    assert _required(CaseType.REQUEST_TRAINING) == {"request_type", "preferred_training_date"}
    assert _required(CaseType.REQUEST_CONSULTING) == {"preferred_consult_date"}
    kinds = {f.name: f.kind for f in logic.detail_fields(CaseType.REQUEST_CONSULTING)}
    assert kinds == {
        "preferred_consult_date": "date",
        "preferred_consult_date_2": "date",
        "preferred_consult_date_3": "date",
    }


def test_data_restore_needs_written_permission() -> None:
    """Data Restore asks for module, date of loss, reason and a written-permission box."""
    fields = {f.name: f for f in logic.detail_fields(CaseType.DATA_RESTORE)}
    assert set(fields) == {
        "module",
        "approximate_date_of_loss",
        "reason_for_restore",
        "written_permission",
    }
    assert fields["written_permission"].kind == "confirm"


def test_module_choices_are_alphabetical_with_not_applicable_last() -> None:
    """The Module dropdown lists modules alphabetically, Not Applicable last."""
    module = next(f for f in logic.detail_fields(CaseType.ASK_A_QUESTION) if f.name == "module")
    assert module.options[-1] == "Not Applicable"
    assert module.options[:-1] == sorted(module.options[:-1], key=str.lower)
    assert "Grade Book" in module.options


def test_critical_only_on_outage() -> None:
    """Priority offers Critical on Report an Outage only."""
    assert logic.priorities_for(CaseType.REPORT_AN_OUTAGE) == ["Critical", "High", "Medium", "Low"]
    assert logic.priorities_for(CaseType.ASK_A_QUESTION) == ["High", "Medium", "Low"]


def test_ten_cards_three_billable() -> None:
    """Submit a Case offers ten types; Training, Consulting, Technical Services may be billable."""
    assert len(logic.CARDS) == 10
    assert {c.case_type for c in logic.CARDS if c.billable} == {
        "Request Training",
        "Request Consulting",
        "Request Technical Services",
    }


def test_submission_body_from_form() -> None:
    """Blank controls are left out, boxes become true, areas a list, text is trimmed."""
    form: dict[str, str | list[str]] = {
        "subject": "New registrar",
        "description": "Please add Kelly.",
        "priority": "Medium",
        "request_type": "Add",
        "contact_first_name": " Kelly ",
        "contact_secondary_phone": "",
        "areas_of_responsibility": ["SIS", "Finance"],
        "csrf_token": "x",
    }
    fields = logic.detail_fields(CaseType.MODIFY_SUPPORT_CONTACTS)
    body = logic.submission_body(CaseType.MODIFY_SUPPORT_CONTACTS, form, fields)
    assert body == {
        "case_type": "Modify Support Contacts",
        "subject": "New registrar",
        "description": "Please add Kelly.",
        "priority": "Medium",
        "request_type": "Add",
        "contact_first_name": "Kelly",
        "areas_of_responsibility": ["SIS", "Finance"],
    }


def test_errors_by_field_keeps_the_first_message_in_the_form_s_words() -> None:
    """Intake's issues map to form fields, worded with the form's labels; nested paths map to
    their top field."""
    issues = [
        {"field": "application_type", "rule": "missing", "message": "application_type is required"},
        {"field": "application_type", "rule": "x", "message": "second"},
        {"field": "areas_of_responsibility[0]", "rule": "enum", "message": "bad area"},
    ]
    assert logic.errors_by_field(issues) == {
        "application_type": "Type is required",
        "areas_of_responsibility": "bad area",
    }


def test_errors_follow_the_form_order() -> None:
    """The error summary lists problems in the order of the form's fields."""
    fields = logic.detail_fields(CaseType.APPLICATION_ISSUE)
    errors = {"issue_began": "a", "subject": "b", "module": "c", "body": "d"}
    assert list(logic.in_form_order(errors, fields)) == ["subject", "module", "issue_began", "body"]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/cases/1000003", "/cases/1000003"),
        ("/cases?status=New", "/cases?status=New"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_safe_next(target: str | None, expected: str) -> None:
    """Only same-site paths are returned to after sign-in (no open redirect)."""
    assert logic.safe_next(target) == expected


def test_sort_link_flips_the_current_column() -> None:
    """Clicking the sorted column flips its order; another column starts ascending."""
    query = {"sort": "subject", "order": "asc", "page": "3", "status": "New"}
    assert logic.sort_link(query, "subject") == "/cases?status=New&sort=subject&order=desc"
    assert logic.sort_link(query, "priority") == "/cases?status=New&sort=priority&order=asc"
    assert logic.sort_link({}, "last_modified") == "/cases?sort=last_modified&order=asc"


def test_list_query_keeps_known_non_blank_parameters() -> None:
    """The URL's query keeps filters, sort and paging; blanks and unknowns are dropped."""
    params = {"subject": "grade", "status": "", "evil": "x", "page_size": "50"}
    assert logic.list_query(params) == {"subject": "grade", "page_size": "50"}
    assert logic.feed_params({"subject_op": "contains"}) == {}


def test_file_limits() -> None:
    """Ten files of 15 MB pass; an eleventh file or a file over 15 MB is refused, named."""
    limit = 15 * 1024 * 1024
    logic.check_files([(f"f{i}.pdf", limit) for i in range(10)])
    with pytest.raises(Refused, match="up to 10"):
        logic.check_files([(f"f{i}.pdf", 1) for i in range(11)])
    with pytest.raises(Refused, match=r"big\.zip: over the 15 MB limit"):
        logic.check_files([("big.zip", limit + 1)])


def test_local_time_in_the_district_zone() -> None:
    """An API time shows in the district's zone, in the seed's format."""
    assert logic.local("2021-09-15T18:37:00Z", "America/Chicago") == "09/15/2021 - 01:37 PM CDT"
    assert logic.local("2021-09-15T18:37:00Z", "America/Los_Angeles") == (
        "09/15/2021 - 11:37 AM PDT"
    )
    assert logic.local(None, "America/Chicago") == ""
