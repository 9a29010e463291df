"""The portal's pages on fakes: sign-in, sessions, CSRF, the list, a case, posting, submitting."""

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from portal.app import create_app
from portal.service import Portal
from portal.settings import Settings

from tests.unit.portal.fakes import SETTINGS, FakeApi, FakeMailer, FakeOidc, portal

BASE = "http://portal.test"


@pytest.fixture
async def site() -> AsyncIterator[tuple[httpx.AsyncClient, Portal]]:
    """The portal app on fakes, with a client that keeps cookies."""
    fake = portal()
    app = create_app(SETTINGS, fake)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield client, fake


async def sign_in(client: httpx.AsyncClient, next_path: str = "/cases") -> None:
    """Go through /auth/start and the callback as the identity provider would send back."""
    start = await client.get("/auth/start", params={"next": next_path})
    assert start.status_code == 303
    back = await client.get("/auth/callback", params={"code": "c", "state": "st"})
    assert back.status_code == 303, back.text
    assert back.headers["location"] == next_path


def csrf_of(html: str) -> str:
    """The CSRF token of the first form."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def test_signed_out_is_sent_to_sign_in(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """A page without a session redirects to the sign-in page, keeping where to return."""
    client, _ = site
    answer = await client.get("/cases?status=New")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=%2Fcases%3Fstatus%3DNew"


async def test_session_cookie_flags(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """The session cookie is HttpOnly and SameSite=Lax (Secure is for non-local)."""
    client, _ = site
    await client.get("/auth/start")
    back = await client.get("/auth/callback", params={"code": "c", "state": "st"})
    cookie = [
        v for k, v in back.headers.multi_items() if k == "set-cookie" and "portal_session" in v
    ]
    assert cookie
    assert "HttpOnly" in cookie[0]
    assert "SameSite=lax" in cookie[0]
    assert "Secure" not in cookie[0]


async def test_wrong_state_is_refused(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """A callback whose state is not this browser's sign-in is refused, no session made."""
    client, _ = site
    await client.get("/auth/start")
    back = await client.get("/auth/callback", params={"code": "c", "state": "forged"})
    assert back.status_code == 400
    assert "portal_session" not in back.headers.get("set-cookie", "")


async def test_unknown_email_gets_a_clear_page(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """An email that is no active contact gets a page saying so, not a 500."""
    client, fake = site
    assert isinstance(fake.oidc, FakeOidc)
    fake.oidc.email = "stranger@elsewhere.example"
    await client.get("/auth/start")
    back = await client.get("/auth/callback", params={"code": "c", "state": "st"})
    assert back.status_code == 403
    assert "stranger@elsewhere.example" in back.text
    assert "not an active support contact" in back.text


async def test_new_session_id_at_each_sign_in(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """Signing in again issues a different session (no fixation on an old cookie)."""
    client, _ = site
    await sign_in(client)
    first = client.cookies["portal_session"]
    await sign_in(client)
    assert client.cookies["portal_session"] != first


async def test_case_list_shows_columns_and_banner(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """The list shows "Cases (N)", the seed's columns, and the orange incident banner."""
    client, _ = site
    await sign_in(client)
    page = await client.get("/cases")
    assert page.status_code == 200
    assert "Cases (1)" in page.text
    headers = re.findall(r'<th scope="col"[^>]*>\s*<a [^>]*>([^<]+)', page.text)
    assert [h.strip() for h in headers] == [
        "Case Number",
        "Subject",
        "Status",
        "Priority",
        "Module",
        "Last Modified",
        "Contact",
        "Case Type",
    ]
    assert "banner-orange" in page.text
    assert "Incident in progress:" in page.text
    assert "Bayside School (TESTING)" in page.text


async def test_list_passes_filters_and_district(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """Filters in the URL go to the feed API with the district; blanks are dropped."""
    client, fake = site
    await sign_in(client)
    await client.get("/cases", params={"subject": "grade", "subject_op": "contains", "status": ""})
    assert isinstance(fake.api, FakeApi)
    params = [p for m, path, p in fake.api.calls if path == "/cases"][-1]
    assert params == {"subject": "grade", "subject_op": "contains", "account_id": "bayside"}


async def test_case_page(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """The case page shows the top panel, the details and the feed's activity line."""
    client, _ = site
    await sign_in(client)
    page = await client.get("/cases/1227963")
    assert page.status_code == 200
    for text in (
        "Assigned To",
        "Implementation",
        "Zack Morris (TESTING) (Customer) created this case.",
        "How do I add a snow day to the calendar?",
        "Location within Product",
        "Attachments (0)",
    ):
        assert text in page.text


async def test_a_reply_by_email_offers_its_full_message(
    site: tuple[httpx.AsyncClient, Portal],
) -> None:
    """A reply's kept original (message/rfc822) reads "Show full message"; another file of
    the same post keeps its own name."""
    client, fake = site
    api = fake.api
    assert isinstance(api, FakeApi)
    reply = {
        "item_id": "e2",
        "kind": "post",
        "at": "2021-09-16T10:00:00Z",
        "headline": "Zack Morris (TESTING) (Customer)",
        "lines": [],
        "body_html": "<p>It works now, thanks.</p>",
        "attachments": [
            {"attachment_id": "a1", "filename": "original message.eml",
             "content_type": "message/rfc822", "size": 4096},
            {"attachment_id": "a2", "filename": "screen.png", "content_type": "image/png",
             "size": 2048},
        ],
    }  # fmt: skip
    api.case = {**api.case, "feed": {**api.case["feed"], "items": [reply]}}
    await sign_in(client)
    page = (await client.get("/cases/1227963")).text
    assert '<a href="/cases/1227963/attachments/a1">Show full message</a>' in page
    assert '<a href="/cases/1227963/attachments/a2">screen.png</a>' in page
    assert ">original message.eml<" not in page


async def test_the_case_page_names_its_linked_incidents(
    site: tuple[httpx.AsyncClient, Portal],
) -> None:
    """A case linked to two status-board incidents lists both with the board's page and
    whether each is resolved; an unlinked case shows no such row."""
    client, fake = site
    api = fake.api
    assert isinstance(api, FakeApi)
    await sign_in(client)
    assert "Status-board incident" not in (await client.get("/cases/1227963")).text
    api.case = {
        **api.case,
        "incidents": [
            {"notice_id": "inc-1", "title": "Gradebook down", "resolved": True},
            {"notice_id": "inc-2", "title": "Sign-in slow", "resolved": False},
        ],
    }
    page = (await client.get("/cases/1227963")).text
    assert "<dt>Status-board incidents</dt>" in page
    board = SETTINGS.status_board_url.rstrip("/")
    assert f'<a href="{board}/notices/inc-1">Gradebook down</a> · Resolved' in page
    assert f'<a href="{board}/notices/inc-2">Sign-in slow</a> · Open' in page


async def test_unknown_case_is_404(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """A case not in the person's districts is a 404 page."""
    client, _ = site
    await sign_in(client)
    page = await client.get("/cases/999")
    assert page.status_code == 404
    assert "Case not found" in page.text


async def test_post_without_csrf_is_403(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """A form posted without the session's CSRF token is refused with 403."""
    client, fake = site
    await sign_in(client)
    answer = await client.post("/cases/1227963/posts", data={"body": "hello"})
    assert answer.status_code == 403
    assert isinstance(fake.api, FakeApi)
    assert not [c for c in fake.api.calls if c[1].endswith("/posts")]


async def test_post_then_the_page_shows_it(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """A post with the token redirects to the case, whose feed shows the post."""
    client, _ = site
    await sign_in(client)
    token = csrf_of((await client.get("/cases/1227963")).text)
    answer = await client.post(
        "/cases/1227963/posts", data={"body": "It snowed again", "csrf_token": token}
    )
    assert answer.status_code == 303
    page = await client.get(answer.headers["location"])
    assert "<p>It snowed again</p>" in page.text
    assert "Your post was shared." in page.text


async def test_submit_form_marks_required_fields(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """The Ask a Question form defaults Priority to Medium, offers no Critical, marks Module."""
    client, _ = site
    await sign_in(client)
    page = await client.get("/cases/new/ask-a-question")
    assert page.status_code == 200
    assert "<option selected>Medium</option>" in page.text
    assert "Critical" not in page.text.split('id="f-priority"')[1].split("</select>")[0]
    assert re.search(r'<label for="f-module">Module <span class="req"', page.text)
    assert "Teachers unable to post grades" in page.text  # the well-written example


async def test_areas_are_a_multi_select_keeping_the_choice(
    site: tuple[httpx.AsyncClient, Portal],
) -> None:
    """Without JavaScript, Area of Responsibility is one multi-select; a refused form keeps
    the chosen areas selected."""
    client, _ = site
    await sign_in(client)
    page = await client.get("/cases/new/modify-support-contacts")
    control = page.text.split('id="f-areas_of_responsibility"')[1].split("</select>")[0]
    assert 'name="areas_of_responsibility" multiple size="7"' in control
    assert control.count("<option ") == 7
    assert 'aria-required="true"' in control
    token = csrf_of(page.text)
    refused = await client.post(
        "/cases/new/modify-support-contacts",
        data={"csrf_token": token, "areas_of_responsibility": ["SIS", "Finance"]},
    )
    kept = refused.text.split('id="f-areas_of_responsibility"')[1].split("</select>")[0]
    assert re.findall(r'<option value="([^"]+)" selected>', kept) == ["SIS", "Finance"]
    assert '<option value="Food Service">' in kept


async def test_submit_error_is_shown_next_to_the_field(
    site: tuple[httpx.AsyncClient, Portal],
) -> None:
    """Intake's refusal comes back as a summary and a message beside the field, 422."""
    client, _ = site
    await sign_in(client)
    token = csrf_of((await client.get("/cases/new/ask-a-question")).text)
    answer = await client.post(
        "/cases/new/ask-a-question",
        data={"csrf_token": token, "description": "d", "module": "Grade Book"},
    )
    assert answer.status_code == 422
    assert 'id="f-subject-error">Subject is required' in answer.text
    assert 'href="#f-subject">Subject is required' in answer.text


async def test_read_only_sees_no_controls(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """A Read-Only contact sees no Submit a Case link and no post form."""
    client, fake = site
    assert isinstance(fake.oidc, FakeOidc)
    fake.oidc.email = "screech@bayside.example"
    await sign_in(client)
    page = await client.get("/cases/1227963")
    assert "Share an update" not in page.text
    assert "Submit a Case" not in page.text


async def test_pages_have_no_inline_script_or_style(
    site: tuple[httpx.AsyncClient, Portal],
) -> None:
    """Every page's scripts and styles are files, and the CSP allows no inline ones."""
    client, _ = site
    await sign_in(client)
    for path in ("/cases", "/cases/new", "/cases/new/modify-support-contacts", "/cases/1227963"):
        page = await client.get(path)
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), path
        assert "<style" not in page.text, path
        assert " style=" not in page.text, path
        assert not re.search(r"\son[a-z]+=", page.text), path
        policy = page.headers["content-security-policy"]
        assert "unsafe-inline" not in policy
        assert "script-src 'self'" in policy


async def test_sign_out_ends_the_session(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """Signing out (with the token) clears the cookie; the list then asks to sign in."""
    client, _ = site
    await sign_in(client)
    token = csrf_of((await client.get("/cases")).text)
    out = await client.post("/signout", data={"csrf_token": token})
    assert out.status_code == 303
    assert (await client.get("/cases")).status_code == 303


async def test_switch_district(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """A two-district contact switches district; the list then asks for that district."""
    client, fake = site
    assert isinstance(fake.oidc, FakeOidc)
    fake.oidc.email = "slater@bayside.example"
    await sign_in(client)
    page = await client.get("/cases")
    assert 'id="district-select"' in page.text
    token = csrf_of(page.text)
    await client.post("/district", data={"csrf_token": token, "account_id": "ridgemont"})
    await client.get("/cases")
    assert isinstance(fake.api, FakeApi)
    params = [p for m, path, p in fake.api.calls if path == "/cases"][-1]
    assert params["account_id"] == "ridgemont"


async def test_emailed_link_signs_in_once(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """A contact asks for a link, the mail holds it, it signs in once and never again."""
    client, fake = site
    assert isinstance(fake.mailer, FakeMailer)
    asked = await client.post("/signin/email", data={"email": "Zack@Bayside.Example"})
    assert asked.status_code == 200
    assert "Check your email" in asked.text
    ((to, subject, text),) = fake.mailer.sent
    assert subject == "Your Support Portal sign-in link"
    assert to == "zack@bayside.example"
    assert "15 minutes" in text
    link = re.search(r"http://127\.0\.0\.1:8000(/signin/link\?token=\S+)", text)
    assert link
    landing = await client.get(link.group(1))
    assert landing.status_code == 200  # opening the link uses nothing up
    token = re.search(r'name="token" value="([^"]+)"', landing.text)
    assert token
    first = await client.post("/signin/link", data={"token": token.group(1)})
    assert first.status_code == 303
    assert (await client.get("/cases")).status_code == 200
    again = await client.post("/signin/link", data={"token": token.group(1)})
    assert again.status_code == 400
    assert "already used" in again.text


async def test_link_for_a_stranger_sends_nothing(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """An unknown address gets the same page and no mail."""
    client, fake = site
    assert isinstance(fake.mailer, FakeMailer)
    asked = await client.post("/signin/email", data={"email": "who@elsewhere.example"})
    assert asked.status_code == 200
    assert "Check your email" in asked.text
    assert fake.mailer.sent == []


async def test_forged_link_is_refused(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """A token not signed by the portal signs nobody in."""
    client, _ = site
    refused = await client.post("/signin/link", data={"token": "a.b.c"})
    assert refused.status_code == 400
    assert "not valid or has expired" in refused.text


async def test_recipients_for_read_only_is_add_me(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """A Read-Only contact sees "Add me to notifications on this case", not the wizard."""
    client, fake = site
    assert isinstance(fake.oidc, FakeOidc)
    fake.oidc.email = "screech@bayside.example"
    await sign_in(client)
    page = await client.get("/cases/1227963/recipients")
    assert page.status_code == 200
    assert "Add me to notifications on this case" in page.text
    assert "Select Action" not in page.text
    assert "Showing 1 of 1 items" in page.text


async def test_remove_never_offers_the_owner(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """Remove lists no one when the owner is the only recipient."""
    client, _ = site
    await sign_in(client)
    page = await client.get("/cases/1227963/recipients", params={"action": "remove"})
    assert "No contacts can be removed." in page.text


async def test_live_stream_yields_when_the_feed_changes() -> None:
    """The live stream stays quiet while nothing changes and yields once a post lands."""
    fake = portal()
    fake.settings = Settings(live_poll_s=0.01, live_max_s=5, read_your_writes_s=0)
    person = fake.person(fake.new_session("zack", "bayside"))
    stream = fake.changes(person, "1227963")
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await fake.post(person, "1227963", "Snow again", [], None)
    version = await asyncio.wait_for(waiting, 5)
    assert version.endswith("|p1")
    await stream.aclose()


async def test_case_event_wakes_the_stream_without_polling() -> None:
    """With polling an hour apart, a signal for the case makes the stream look and yield."""
    fake = portal()
    fake.settings = Settings(live_poll_s=3600, live_max_s=7200, read_your_writes_s=1)
    person = fake.person(fake.new_session("zack", "bayside"))
    stream = fake.changes(person, "1227963")
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.1)
    await fake.post(person, "1227963", "Snow again", [], None)
    assert not waiting.done()  # nothing told it yet, and the next poll is an hour away
    fake.signals.signal("0b6f3c1e-0000-4000-8000-000000000001")
    version = await asyncio.wait_for(waiting, 30)
    assert version.endswith("|p1")
    await stream.aclose()


async def test_other_cases_events_do_not_wake_the_stream() -> None:
    """A signal for another case leaves the stream asleep."""
    fake = portal()
    fake.settings = Settings(live_poll_s=3600, live_max_s=7200, read_your_writes_s=0)
    person = fake.person(fake.new_session("zack", "bayside"))
    stream = fake.changes(person, "1227963")
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.1)
    await fake.post(person, "1227963", "Snow again", [], None)
    fake.signals.signal("another-case")
    await asyncio.sleep(0.3)
    assert not waiting.done()
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    await stream.aclose()


async def test_times_in_the_district_zone(site: tuple[httpx.AsyncClient, Portal]) -> None:
    """A Bayside case shows Central time (the seed's "09/15/2021 - 01:37 PM CDT")."""
    client, _ = site
    await sign_in(client)
    page = await client.get("/cases/1227963")
    assert "09/15/2021 - 01:37 PM CDT" in page.text
    listing = await client.get("/cases")
    assert "09/15/2021 - 01:37 PM CDT" in listing.text
