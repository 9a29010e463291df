"""The portal with plain HTTP form posts (no JavaScript): submit, post, read your writes, scope."""

import re
import uuid

import httpx
import pytest

from tests.integration.portal.conftest import SCREECH, SPICOLI, ZACK, Site, sign_in


def csrf_of(html: str) -> str:
    """The page's CSRF token."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def key_of(html: str) -> str:
    """The form's Idempotency-Key."""
    found = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    assert found, "no idempotency key on the form"
    return found.group(1)


@pytest.fixture(scope="module")
def zack(site: Site, cleanup: None) -> httpx.Client:
    """Zack Morris signed in."""
    client = httpx.Client(base_url=site.portal, timeout=30)
    sign_in(client, site, ZACK)
    return client


def _submit_question(client: httpx.Client, subject: str) -> httpx.Response:
    form = client.get("/cases/new/ask-a-question").text
    data = {
        "csrf_token": csrf_of(form),
        "idempotency_key": key_of(form),
        "subject": subject,
        "description": "How do I add a snow day to the calendar?",
        "module": "Calendar (terms, periods, days)",
        "location_within_product": "System Admin > Calendar > Calendar > Days",
        "priority": "Medium",
    }
    return client.post("/cases/new/ask-a-question", data=data)


def test_submit_then_the_case_page_shows_it(zack: httpx.Client) -> None:
    """A submitted form redirects to the new case, whose page shows it at once (no 404)."""
    subject = f"Snow Day {uuid.uuid4().hex[:6]}"
    answer = _submit_question(zack, subject)
    assert answer.status_code == 303, answer.text
    number = re.fullmatch(r"/cases/(\d+)\?submitted=1", answer.headers["location"])
    assert number
    page = zack.get(answer.headers["location"])
    assert page.status_code == 200
    assert subject in page.text
    assert "Zack Morris (TESTING) (Customer) created this case." in page.text
    assert "System Admin &gt; Calendar &gt; Calendar &gt; Days" in page.text
    listing = zack.get("/cases", params={"subject": subject, "subject_op": "equals"})
    assert "Cases (1)" in listing.text
    assert f'href="/cases/{number.group(1)}"' in listing.text


def test_double_submit_creates_one_case(zack: httpx.Client) -> None:
    """The same form sent twice (same Idempotency-Key) creates one case."""
    subject = f"Twice {uuid.uuid4().hex[:6]}"
    form = zack.get("/cases/new/report-an-outage").text
    data = {
        "csrf_token": csrf_of(form),
        "idempotency_key": key_of(form),
        "subject": subject,
        "description": "Users are unable to access Infinite Campus",
        "priority": "Critical",
    }
    first = zack.post("/cases/new/report-an-outage", data=data)
    second = zack.post("/cases/new/report-an-outage", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    listing = zack.get("/cases", params={"subject": subject, "subject_op": "equals"})
    assert "Cases (1)" in listing.text


def test_missing_required_field_is_shown_beside_it(zack: httpx.Client) -> None:
    """A form without Module comes back 422 with the message next to Module."""
    form = zack.get("/cases/new/ask-a-question").text
    data = {"csrf_token": csrf_of(form), "subject": "No module", "description": "d"}
    answer = zack.post("/cases/new/ask-a-question", data=data)
    assert answer.status_code == 422
    assert 'id="f-module-error"' in answer.text
    assert "The case was not submitted" in answer.text
    assert 'value="No module"' in answer.text  # what was typed is kept


def test_post_with_attachment_shows_on_the_next_page(zack: httpx.Client) -> None:
    """A post with a file redirects to the case, whose feed shows the post and the file."""
    answer = _submit_question(zack, f"Post here {uuid.uuid4().hex[:6]}")
    case_url = answer.headers["location"].split("?")[0]
    page = zack.get(case_url).text
    text = f"It snowed again {uuid.uuid4().hex[:6]}"
    posted = zack.post(
        f"{case_url}/posts",
        data={"csrf_token": csrf_of(page), "body": text, "idempotency_key": key_of(page)},
        files={"files": ("calendar.csv", b"day,type\n2026-01-05,snow\n", "text/csv")},
    )
    assert posted.status_code == 303, posted.text
    after = zack.get(posted.headers["location"])
    assert text in after.text
    assert "calendar.csv" in after.text
    assert "Attachments (1)" in after.text
    link = re.search(r'href="(/cases/\d+/attachments/[^"]+)"', after.text)
    assert link
    download = zack.get(link.group(1))
    assert download.status_code == 200
    assert download.content == b"day,type\n2026-01-05,snow\n"
    assert download.headers["content-disposition"].startswith("attachment")


def test_formatted_post_is_shown_as_intake_sanitized_it(zack: httpx.Client) -> None:
    """Bold, a list and a link typed in the box show as tags; typed HTML shows as text."""
    answer = _submit_question(zack, f"Formatted {uuid.uuid4().hex[:6]}")
    case_url = answer.headers["location"].split("?")[0]
    page = zack.get(case_url).text
    tag = uuid.uuid4().hex[:6]
    typed = (
        f"**Snow {tag}**\n- Monday\n- [guide](https://docs.example/days)\n"
        "<img src=x onerror=alert(1)>"
    )
    posted = zack.post(
        f"{case_url}/posts",
        data={"csrf_token": csrf_of(page), "body": typed, "idempotency_key": key_of(page)},
    )
    assert posted.status_code == 303, posted.text
    after = zack.get(posted.headers["location"]).text
    assert f"<p><strong>Snow {tag}</strong></p>" in after
    assert "<li>Monday</li>" in after
    assert (
        '<li><a href="https://docs.example/days" rel="noopener noreferrer nofollow">guide</a></li>'
        in after
    )
    assert "&lt;img src=x onerror=alert(1)&gt;" in after
    assert "<img src=x" not in after


def test_post_without_csrf_token_is_403(zack: httpx.Client) -> None:
    """A post without the CSRF token is refused with 403 and nothing is posted."""
    answer = _submit_question(zack, f"No token {uuid.uuid4().hex[:6]}")
    case_url = answer.headers["location"].split("?")[0]
    refused = zack.post(f"{case_url}/posts", data={"body": "forged"})
    assert refused.status_code == 403
    assert "forged" not in zack.get(case_url).text


def test_blank_post_is_refused_on_the_page(zack: httpx.Client) -> None:
    """A blank post comes back 422 with intake's reason on the case page."""
    answer = _submit_question(zack, f"Blank {uuid.uuid4().hex[:6]}")
    case_url = answer.headers["location"].split("?")[0]
    page = zack.get(case_url).text
    refused = zack.post(f"{case_url}/posts", data={"csrf_token": csrf_of(page), "body": "  "})
    assert refused.status_code == 422
    assert "Your post was not shared" in refused.text


def test_other_district_case_is_404(site: Site, zack: httpx.Client) -> None:
    """Jeff Spicoli of Ridgemont gets 404 for a Bayside case URL."""
    answer = _submit_question(zack, f"Bayside only {uuid.uuid4().hex[:6]}")
    case_url = answer.headers["location"].split("?")[0]
    with httpx.Client(base_url=site.portal, timeout=30) as spicoli:
        sign_in(spicoli, site, SPICOLI)
        assert spicoli.get(case_url).status_code == 404


def test_read_only_sees_no_controls(site: Site, zack: httpx.Client) -> None:
    """Screech (Read-Only) reads the case but has no post form and no Submit a Case."""
    answer = _submit_question(zack, f"Read only {uuid.uuid4().hex[:6]}")
    case_url = answer.headers["location"].split("?")[0]
    with httpx.Client(base_url=site.portal, timeout=30) as screech:
        sign_in(screech, site, SCREECH)
        page = screech.get(case_url)
        assert page.status_code == 200
        assert "Share an update" not in page.text
        assert "Submit a Case" not in page.text
        assert screech.get("/cases/new/ask-a-question").status_code == 403


def test_close_then_reopen(zack: httpx.Client) -> None:
    """Close This Case closes it (status Closed on the next page); Reopen needs details and
    then shows Re-Opened."""
    answer = _submit_question(zack, f"Close me {uuid.uuid4().hex[:6]}")
    case_url = answer.headers["location"].split("?")[0]
    page = zack.get(case_url).text
    assert "Close This Case" in page
    closed = zack.post(
        f"{case_url}/close",
        data={"csrf_token": csrf_of(page), "idempotency_key": key_of(page), "note": "Solved"},
    )
    assert closed.status_code == 303, closed.text
    after = zack.get(closed.headers["location"]).text
    assert '<span class="status">Closed</span>' in after
    assert "Reopen" in after
    blank = zack.post(f"{case_url}/reopen", data={"csrf_token": csrf_of(after), "details": " "})
    assert blank.status_code == 422
    reopened = zack.post(
        f"{case_url}/reopen",
        data={"csrf_token": csrf_of(after), "details": "The snow day did not show up."},
    )
    assert reopened.status_code == 303, reopened.text
    assert '<span class="status">Re-Opened</span>' in zack.get(case_url).text


def test_ten_files_of_15_mb_accepted_an_eleventh_refused(zack: httpx.Client) -> None:
    """Ten attachments of 15 MB each are posted; eleven files are refused, nothing posted."""
    answer = _submit_question(zack, f"Ten files {uuid.uuid4().hex[:6]}")
    case_url = answer.headers["location"].split("?")[0]
    page = zack.get(case_url).text
    eleven = [("files", (f"note-{i}.txt", b"x", "text/plain")) for i in range(11)]
    refused = zack.post(
        f"{case_url}/posts", data={"csrf_token": csrf_of(page), "body": "eleven"}, files=eleven
    )
    assert refused.status_code == 422
    assert "11 files chosen: up to 10" in refused.text
    size = 15 * 1024 * 1024
    ten = [("files", (f"scan-{i}.pdf", bytes([i]) * size, "application/pdf")) for i in range(10)]
    posted = zack.post(
        f"{case_url}/posts",
        data={"csrf_token": csrf_of(page), "body": "ten scans", "idempotency_key": key_of(page)},
        files=ten,
        timeout=120,
    )
    assert posted.status_code == 303, posted.text[:500]
    after = zack.get(case_url).text
    assert "Attachments (10)" in after
    assert "eleven" not in after
