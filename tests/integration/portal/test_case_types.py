"""Each of the ten case forms, filled as a person would, creates its case with its fields."""

import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.integration.portal.conftest import ZACK, Site, sign_in

TODAY = datetime.now(ZoneInfo("America/Chicago")).date()  # Bayside's time zone
SOON, PAST = str(TODAY + timedelta(days=20)), str(TODAY - timedelta(days=3))
# The seed's fields of each type, with what a contact would type; shown back on the case page.
FORMS: dict[str, tuple[dict[str, str | list[str]], list[str]]] = {
    "application-issue": (
        {
            "application_type": "Campus Application",
            "module": "Grade Book",
            "steps_to_reproduce": "1. Log in as teacher Anne Shirley",
            "expected_results": "Post button to be active",
            "who_is_impacted": "English Lit 1100 teachers",
            "issue_began": PAST,
        },
        ["Steps to Reproduce", "Post button to be active", "English Lit 1100 teachers"],
    ),
    "ask-a-question": ({"module": "Calendar (terms, periods, days)"}, []),
    "report-an-outage": ({"error_message": "502 Bad Gateway"}, ["502 Bad Gateway"]),
    "request-training": (
        {"request_type": "Campus Learning", "preferred_training_date": SOON},
        ["Preferred Training Date", SOON],
    ),
    "data-restore": (
        {
            "module": "Enrollment",
            "approximate_date_of_loss": PAST,
            "reason_for_restore": "Deleted by mistake",
            "written_permission": "true",
        },
        ["Reason for Restore", "Deleted by mistake"],
    ),
    "server-issue": ({"module": "Hosting", "issue_began": PAST}, ["Issue Began"]),
    "server-access": (
        {"request_type": "SQL Server", "schema_training_completed": "true"},
        ["Schema Bootcamp training completed", "SQL Server"],
    ),
    "modify-support-contacts": (
        {
            "request_type": "Add",
            "contact_first_name": "Kelly",
            "contact_last_name": "Kapowski",
            "contact_email": "kelly@bayside.example",
            "contact_title": "Counselor",
            "contact_primary_phone": "555-0199",
            "contact_type": "Technical",
            "areas_of_responsibility": ["SIS", "Finance"],
        },
        ["Kapowski", "SIS, Finance", "kelly@bayside.example"],
    ),
    "request-consulting": ({"preferred_consult_date": SOON}, ["Preferred Consult Date"]),
    "request-technical-services": (
        {
            "services_type": "Custom Report, Report Card or Transcript",
            "module": "Reports",
            "desired_completion_date": SOON,
        },
        ["Desired Completion Date", "Custom Report, Report Card or Transcript"],
    ),
}


@pytest.fixture(scope="module")
def zack(site: Site, cleanup: None) -> httpx.Client:
    """Zack Morris signed in."""
    client = httpx.Client(base_url=site.portal, timeout=30)
    sign_in(client, site, ZACK)
    return client


@pytest.mark.parametrize("slug", sorted(FORMS))
def test_each_form_creates_its_case(zack: httpx.Client, slug: str) -> None:
    """The type's form, with its required fields filled, creates a case showing them."""
    fields, shown = FORMS[slug]
    form = zack.get(f"/cases/new/{slug}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    subject = f"{slug} {uuid.uuid4().hex[:6]}"
    data = {"csrf_token": token.group(1), "subject": subject, "description": "Who, what, where."}
    answer = zack.post(f"/cases/new/{slug}", data={**data, **fields})
    assert answer.status_code == 303, answer.text
    page = zack.get(answer.headers["location"])
    assert page.status_code == 200
    assert subject in page.text
    for text in shown:
        assert text in page.text, text
