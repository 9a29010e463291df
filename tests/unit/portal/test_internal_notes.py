"""Internal notes on the staff case page: the labelled choice, what is sent, the badge."""

from typing import Any

from portal.api import TEMPLATES

from tests.unit.portal.test_staff_pages import csrf, site, staff_sign_in

__all__ = ["site"]  # the fixture, shared with the staff page tests
BADGE = "Internal note — not visible to the customer"


def _feed_case(visibility: str) -> dict[str, Any]:
    note = {
        "item_id": "n1",
        "kind": "post",
        "at": "2021-09-16T15:00:00Z",
        "headline": "Pat Support (Support)",
        "lines": [],
        "body_html": "<p>Check the server log</p>",
        "attachments": [{"attachment_id": "f1", "filename": "server.log", "size": 2048}],
        "visibility": visibility,
    }
    return {"number": 1227963, "time_zone": "America/Chicago", "feed": {"items": [note]}}


async def test_the_share_form_offers_reply_or_internal_note_public_first(site: Any) -> None:
    """Two labelled radios in a fieldset with a legend; the reply to the customer is checked."""
    client, _, _ = site
    await staff_sign_in(client)
    page = (await client.get("/staff/cases/1227963")).text
    form = page.split('action="/staff/cases/1227963/posts"')[1].split("</form>")[0]
    assert "<legend>Who reads it</legend>" in form
    assert '<label for="staff-post-body">Share an update</label>' in form
    assert 'id="post-public" name="visibility" value="public" checked' in form
    assert '<label for="post-public">Reply to the customer' in form
    assert 'id="post-internal" name="visibility" value="internal">' in form
    assert '<label for="post-internal">Internal note (staff only)' in form


async def test_an_internal_note_is_sent_to_intake_as_internal(site: Any) -> None:
    """Choosing the internal note sends visibility=internal and confirms it as a note."""
    client, api, _ = site
    await staff_sign_in(client)
    page = await client.get("/staff/cases/1227963")
    answer = await client.post(
        "/staff/cases/1227963/posts",
        data={
            "csrf_token": csrf(page.text),
            "body": "Server log attached",
            "visibility": "internal",
        },
    )
    assert answer.status_code == 303
    assert "Internal+note+added" in answer.headers["location"]
    sent = {"body": "Server log attached", "visibility": "internal"}
    assert ("intake", "/cases/1227963/posts", sent) in api.writes
    shown = await client.get(answer.headers["location"])
    assert "Done: Internal note added." in shown.text


async def test_an_unknown_visibility_is_refused_with_the_text_kept(site: Any) -> None:
    """A forged visibility posts nothing; the page explains and keeps what was written."""
    client, api, _ = site
    await staff_sign_in(client)
    page = await client.get("/staff/cases/1227963")
    answer = await client.post(
        "/staff/cases/1227963/posts",
        data={"csrf_token": csrf(page.text), "body": "kept words", "visibility": "everyone"},
    )
    assert answer.status_code == 422
    assert "Choose who reads it" in answer.text
    assert "kept words" in answer.text
    assert not [w for w in api.writes if w[1].endswith("/posts")]


def test_an_internal_item_carries_the_badge_in_words_and_the_staff_link() -> None:
    """The one feed template badges an internal note in words and links its file under the
    prefix it is given (staff pages), else under the contact's /cases."""
    template = TEMPLATES.env.get_template("_feed_items.html")
    staff = template.render(case=_feed_case("internal"), files_prefix="/staff/cases", zone="UTC")
    assert BADGE in staff
    assert 'href="/staff/cases/1227963/attachments/f1"' in staff
    public = template.render(case=_feed_case("public"), zone="UTC")
    assert BADGE not in public
    assert 'href="/cases/1227963/attachments/f1"' in public
