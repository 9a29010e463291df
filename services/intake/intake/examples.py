"""OpenAPI examples of intake's requests and answers, from the seeds and the local directory."""

from datetime import date, datetime, timedelta
from typing import Any

from shared.zones import zone_info

CASE_ID = "3f1c2a9e-7b4d-4e21-9c3a-5d8e6f0a1b2c"
CASE_NUMBER = 1000003
POST_ID = "8d2e4f60-1a3b-4c5d-9e7f-0a1b2c3d4e5f"
COMMAND_ID = "c0ffee00-1234-4abc-8def-0123456789ab"
ATTACHMENT = {
    "attachment_id": "6650a1f2c3d4e5f601234567",
    "filename": "snow-day.txt",
    "content_type": "text/plain",
    "size": 42,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
}
SEED_DESCRIPTION = (
    "None of the English Literature teachers at 21-22 Campus High School are able to post "
    "grades. When they try to click the Post button in their grade books, it is greyed out and "
    "inactive. This is only happening for teachers who teach this course.\n\n"
    "Example: Anne Shirley, English Lit 1100-1, Quarter 1, Quarter grading task"
)
SEED_STEPS = (
    "1. Log in as teacher Anne Shirley\n"
    "2. In Campus Learning, go to Grade Book for 1100-1\n"
    "3. Select Q1, Quarter grade task\n"
    "4. Click Post. Note that it is greyed out and cannot be pushed."
)


def _example(summary: str, value: Any) -> dict[str, Any]:
    return {"summary": summary, "value": value}


def submission_examples(today: date | None = None) -> dict[str, dict[str, Any]]:
    """One submission per case type; dates are relative to `today` so each stays accepted."""
    today = today or datetime.now(zone_info(None)).date()
    soon, past = str(today + timedelta(days=14)), str(today - timedelta(days=3))
    later, latest = str(today + timedelta(days=15)), str(today + timedelta(days=16))
    cases: dict[str, tuple[str, dict[str, Any]]] = {
        "Application Issue": (
            "The seed's well-written case",
            {
                "subject": "Teachers unable to post grades",
                "description": SEED_DESCRIPTION,
                "application_type": "Campus Application",
                "module": "Grade Book",
                "steps_to_reproduce": SEED_STEPS,
                "environment_changes": "None",
                "expected_results": "Post button to be active",
                "who_is_impacted": "English Lit 1100 teachers",
                "issue_began": "2021-09-07",
            },
        ),
        "Ask a Question": (
            "A how-to question",
            {
                "subject": "What is the best way to set up a snow day?",
                "description": "We close tomorrow for snow; how do we mark the day?",
                "module": "Calendar (terms, periods, days)",
                "location_within_product": "System Administration > Calendar > Days",
            },
        ),
        "Report an Outage": (
            "The product is down for everyone (the only type that may be Critical)",
            {
                "subject": "Users are unable to access Infinite Campus",
                "description": "Since 7:40 no one in the district can log in; the page times out.",
                "priority": "Critical",
                "error_message": "502 Bad Gateway",
            },
        ),
        "Request Training": (
            "Training with three preferred dates (in the future)",
            {
                "subject": "Campus Learning training for teachers",
                "description": "Twelve new teachers need Campus Learning training this term.",
                "request_type": "Campus Learning",
                "preferred_training_date": soon,
                "preferred_training_date_2": later,
                "preferred_training_date_3": latest,
            },
        ),
        "Data Restore": (
            "Deleted data within the 30-day retention, with written permission",
            {
                "subject": "Restore deleted enrollment",
                "description": "A registrar ended and deleted the wrong student's enrollment.",
                "module": "Enrollment",
                "approximate_date_of_loss": past,
                "reason_for_restore": "Deleted by mistake while cleaning up duplicates.",
                "written_permission": True,
            },
        ),
        "Server Issue": (
            'A server problem (case_type "Server/Hardware" is accepted too)',
            {
                "subject": "SQL database connection issues",
                "description": "Reports fail with a connection error since the weekend.",
                "module": "Hosting",
                "error_message": "A network-related error occurred while connecting to SQL Server",
                "issue_began": past,
            },
        ),
        "Server Access": (
            "SQL Server access (Schema Bootcamp training completed)",
            {
                "subject": "Request access to the database to run SQL scripts",
                "description": "Our data analyst needs read access to run state reporting checks.",
                "request_type": "SQL Server",
                "schema_training_completed": True,
            },
        ),
        "Modify Support Contacts": (
            "Add a contact",
            {
                "subject": "Add an additional contact after the purchase of a Premium Suite",
                "description": "Please add our new counselor as a Technical contact.",
                "request_type": "Add",
                "contact_first_name": "Kelly",
                "contact_last_name": "Kapowski",
                "contact_email": "kelly.kapowski@bayside.example",
                "contact_title": "Counselor",
                "contact_primary_phone": "555-0199",
                "contact_type": "Technical",
                "areas_of_responsibility": ["SIS"],
            },
        ),
        "Request Consulting": (
            "Time with a Business Consultant",
            {
                "subject": "Standards-based grading consultation",
                "description": "We are moving to standards-based grading next year.",
                "preferred_consult_date": soon,
                "preferred_consult_date_2": later,
            },
        ),
        "Request Technical Services": (
            "A custom report by a date",
            {
                "subject": "Custom report card",
                "description": "A report card layout with the district's new standards.",
                "services_type": "Custom Report, Report Card or Transcript",
                "module": "Reports",
                "desired_completion_date": soon,
            },
        ),
    }
    return {
        case_type: _example(summary, {"case_type": case_type, **fields})
        for case_type, (summary, fields) in cases.items()
    }


CASE_PUBLIC = {
    "case_id": CASE_ID,
    "case_number": CASE_NUMBER,
    "case_type": "Application Issue",
    "status": "New",
    "priority": "Medium",
    "subject": "Teachers unable to post grades",
    "account_id": "bayside",
    "contact_id": "zack-morris",
    "created_at": "2021-09-15T18:44:00Z",
}
POST_PUBLIC = {
    "post_id": POST_ID,
    "case_id": CASE_ID,
    "body_html": "<p>The snow-day schedule we tried is attached.</p>",
    "attachments": [ATTACHMENT],
    "visibility": "public",
}
ATTACHMENTS_PUBLIC = [
    {
        **ATTACHMENT,
        "post_id": POST_ID,
        "uploaded_at": "2021-09-15T19:02:11Z",
        "uploaded_by": "zack-morris",
        "visibility": "public",
    }
]
CLOSE_EXAMPLES = {
    "with a note": _example("Close, saying why", {"note": "Solved: the Post button works again."}),
    "without a note": _example("Close without a note", {}),
}
REOPEN_EXAMPLES = {
    "details": _example(
        "Reopen within 60 days of closing",
        {"details": "The Post button is greyed out again for English Lit 1100-2."},
    )
}
CLOSE_ACCEPTED = {
    "command_id": COMMAND_ID,
    "case_id": CASE_ID,
    "command": "case.close",
    "outcome_url": f"http://127.0.0.1:8003/cases/{CASE_ID}/commands/{COMMAND_ID}",
}
RECIPIENTS_EXAMPLES = {
    "add Lisa": _example(
        "Add Lisa Turtle (ids from GET /directory/contacts)", {"contact_ids": ["lisa-turtle"]}
    ),
}
RECIPIENTS_PUBLIC = {
    "case_id": CASE_ID,
    "recipients": [
        {
            "contact_id": "zack-morris",
            "name": "Zack Morris (TESTING)",
            "contact_type": "Authorized Support",
            "owner": True,
        },
        {
            "contact_id": "lisa-turtle",
            "name": "Lisa Turtle (TESTING)",
            "contact_type": "Technical",
            "owner": False,
        },
    ],
}
CONTACTS_PUBLIC = {
    "account_id": "bayside",
    "account_name": "Bayside School (TESTING)",
    "contacts": [
        {
            "contact_id": "lisa-turtle",
            "name": "Lisa Turtle (TESTING)",
            "contact_type": "Technical",
            "email": "lisa.turtle@bayside.example",
        },
        {
            "contact_id": "zack-morris",
            "name": "Zack Morris (TESTING)",
            "contact_type": "Authorized Support",
            "email": "zack.morris@bayside.example",
        },
    ],
}
STAFF_PUBLIC = {
    "department": "Campus Support",
    "staff": [
        {
            "staff_id": "staff-support",
            "name": "Pat Support",
            "email": "pat.support@vendor.example",
            "departments": ["Campus Support"],
            "on_duty": True,
            "supervisor": False,
        }
    ],
}
POST_FORM = {
    "body": "<p>The snow-day schedule we tried is attached.</p>",
    "files": ["snow-day.txt"],
    "visibility": "public",
}
DOWNLOAD_TEXT = "Snow day: Tuesday; all periods cancelled.\n"

# A Modify Support Contacts case applied by staff: Kelly Kapowski added to Bayside, and Lisa
# Turtle replaced by her after a retirement (001: "Replace existing Technical Contact").
KELLY = {
    "first_name": "Kelly",
    "last_name": "Kapowski",
    "email": "kelly.kapowski@bayside.example",
    "title": "Systems Administrator",
    "primary_phone": "555-0142",
    "secondary_phone": None,
    "contact_type": "Technical",
    "areas_of_responsibility": ["SIS", "Finance"],
}
CONTACT_CREATE_EXAMPLES = {
    "add": _example("Add Kelly Kapowski to Bayside", {**KELLY, "account_id": "bayside"}),
    "replace": _example(
        "Kelly Kapowski replaces Lisa Turtle (retired)",
        {**KELLY, "account_id": "bayside", "replaces": "lisa-turtle"},
    ),
}
CONTACT_UPDATE_EXAMPLES = {
    "phone": _example(
        "A new phone and Finance added",
        {
            "account_id": "bayside",
            "primary_phone": "555-0199",
            "areas_of_responsibility": ["SIS", "Finance"],
        },
    )
}
KELLY_RECORD = {
    "contact_id": "kelly-kapowski",
    "name": "Kelly Kapowski",
    **KELLY,
    "account_ids": ["bayside"],
    "active": True,
}
CONTACT_ADDED: dict[str, Any] = {
    "change": "added",
    "contact": KELLY_RECORD,
    "replaced": None,
    "changed_fields": [],
    "revoked_token_ids": [],
    "replayed": False,
}
CONTACT_MODIFIED = {
    **CONTACT_ADDED,
    "change": "modified",
    "contact": {**KELLY_RECORD, "primary_phone": "555-0199"},
    "changed_fields": ["primary_phone"],
}
