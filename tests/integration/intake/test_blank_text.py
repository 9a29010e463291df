"""Blank required text is refused at once (422 naming the field), not accepted and refused later."""

import re
from typing import Any

import httpx
import pytest

from intake.settings import Settings
from shared.enums import Status
from tests.seed_facts import SEED_CASE_TYPES

BLANK = "   \n\t "  # the issue's payload
INVISIBLE = "\u200b\u00a0\ufeff \u2060"  # zero-width space, no-break space, BOM, word joiner
# The text fields each form requires (Case Submission seed), written out by hand.
REQUIRED_TEXT = [
    (case_type, field) for case_type in SEED_CASE_TYPES for field in ("subject", "description")
] + [
    ("Application Issue", "steps_to_reproduce"),
    ("Application Issue", "expected_results"),
    ("Application Issue", "who_is_impacted"),
    ("Data Restore", "reason_for_restore"),
    ("Modify Support Contacts", "contact_first_name"),
    ("Modify Support Contacts", "contact_last_name"),
    ("Modify Support Contacts", "contact_title"),
    ("Modify Support Contacts", "contact_primary_phone"),
]


def _names(answer: httpx.Response, field: str) -> bool:
    """Whether the error answer names `field` (in its list of errors or its message)."""
    body = answer.json()
    fields = [issue.get("field") for issue in body.get("errors", [])]
    text = f"{body.get('detail', '')} {body.get('message', '')}"
    return field in fields or re.search(rf"\b{re.escape(field)}\b", text) is not None


async def test_reopen_with_blank_details_is_refused_at_once(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any
) -> None:
    """`POST /cases/{id}/reopen {"details": "   \\n\\t "}` is a 422 naming details; no command."""
    case = await kit.submit(client)
    await kit.set_status(client, intake_settings, case["case_id"], Status.CLOSED)
    url = f"/cases/{case['case_id']}/reopen"
    for details in (BLANK, INVISIBLE):
        answer = await client.post(url, json={"details": details}, headers=kit.auth(kit.ZACK))
        assert answer.status_code == 422, answer.text
        assert _names(answer, "details"), answer.text
    assert await kit.case_commands(intake_settings, case["case_id"]) == []
    written = await client.post(url, json={"details": "still broken"}, headers=kit.auth(kit.ZACK))
    assert written.status_code == 202, written.text


@pytest.mark.parametrize(("case_type", "field"), REQUIRED_TEXT)
async def test_blank_required_text_is_named(
    client: httpx.AsyncClient, kit: Any, case_type: str, field: str
) -> None:
    """A required text field of a case form that is blank once trimmed is a 422 naming it."""
    body = {**kit.body_for(case_type), field: BLANK}
    if field in ("subject", "description"):
        body[field] = INVISIBLE if case_type == "Ask a Question" else BLANK
    answer = await client.post("/cases", json=body, headers=kit.auth(kit.ZACK))
    assert answer.status_code == 422, answer.text
    assert _names(answer, field), answer.text


async def test_blank_replacement_name_of_a_replace_request_is_named(
    client: httpx.AsyncClient, kit: Any
) -> None:
    """Replacing a contact needs the contact to remove; a blank name is refused naming it."""
    body = {
        **kit.body_for("Modify Support Contacts"),
        "request_type": "Replace",
        "contact_replacement_name": BLANK,
    }
    answer = await client.post("/cases", json=body, headers=kit.auth(kit.ZACK))
    assert answer.status_code == 422, answer.text
    assert _names(answer, "contact_replacement_name"), answer.text


async def test_blank_optional_text_counts_as_not_given(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any
) -> None:
    """Blank optional text (environment changes, error message) is published as absent."""
    body = {**kit.body_for("Application Issue"), "environment_changes": BLANK, "error_message": ""}
    answer = await client.post("/cases", json=body, headers=kit.auth(kit.ZACK))
    assert answer.status_code == 201, answer.text
    (event,) = await kit.case_events(intake_settings, answer.json()["case_id"])
    assert event["details"]["environment_changes"] is None
    assert event["details"]["error_message"] is None


@pytest.mark.parametrize(
    "body",
    [BLANK, "<p> </p><script>alert(1)</script>", "<p>\u200b</p><br>", "<img src=javascript:x>"],
    ids=["whitespace", "empty-tags-and-script", "zero-width", "refused-image"],
)
async def test_post_blank_after_sanitizing_is_named(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any, body: str
) -> None:
    """A post with no files whose body is blank once sanitized is a 422 naming body."""
    case = await kit.submit(client)
    answer = await client.post(
        f"/cases/{case['case_id']}/posts", data={"body": body}, headers=kit.auth(kit.ZACK)
    )
    assert answer.status_code == 422, answer.text
    assert _names(answer, "body"), answer.text
    events = await kit.case_events(intake_settings, case["case_id"])
    assert [e["type"] for e in events] == ["case.submitted"]


async def test_blank_close_note_is_no_note(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any
) -> None:
    """Closing with a blank note (it is optional) sends the close without a note."""
    case = await kit.submit(client)
    answer = await client.post(
        f"/cases/{case['case_id']}/close", json={"note": BLANK}, headers=kit.auth(kit.ZACK)
    )
    assert answer.status_code == 202, answer.text
    (command,) = await kit.case_commands(intake_settings, case["case_id"])
    assert (command["type"], command["note"]) == ("case.close", None)
