"""Debian's chromium through the portal: sign-in, list, submit, case, post; axe on every screen."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import ARGS, CHROMIUM, MARKS, OUTPUT
from tests.integration.portal.conftest import ZACK, Site

pytestmark = MARKS
# Screenshots go to test-output/; `PORTAL_SCREENSHOTS_DIR=docs/portal` refreshes the committed ones.
SHOTS = Path(os.environ.get("PORTAL_SCREENSHOTS_DIR") or OUTPUT)
STAFF_TOKEN = "local-dev-only-staff-support-token"  # the seed's Campus Support staff member


async def axe_violations(page: Any) -> list[str]:
    """Every axe-core violation on the page, as "rule (impact): how many nodes"."""
    from axe_playwright_python.async_playwright import Axe  # type: ignore[import-untyped]

    results = await Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {len(v['nodes'])} nodes, e.g. {v['nodes'][0]['target']}"
        for v in results.response["violations"]
    ]


class Refusals:
    """CSP refusals, failed loads and script errors of the portal's pages (the provider's own
    pages are not ours to judge)."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.seen: list[str] = []

    def console(self, message: Any) -> None:
        where = str(message.location.get("url", ""))
        if message.type == "error" and where.startswith(self.origin):
            self.seen.append(f"{where}: {message.text}")


@pytest.fixture
async def browser_page(site: Site, cleanup: None) -> AsyncIterator[tuple[Any, Refusals]]:
    """A chromium page at laptop size, recording console errors."""
    from playwright.async_api import async_playwright

    refusals = Refusals(site.portal)
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", refusals.console)
        yield page, refusals
        await browser.close()


async def _check(page: Any, shot: str | None) -> None:
    assert await axe_violations(page) == []
    if shot:
        await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"portal-{shot}.png"), full_page=True)


async def test_sign_in_submit_post_and_list(site: Site, browser_page: tuple[Any, Refusals]) -> None:
    """Zack signs in through the provider, submits a question, posts with a file, adds a
    notification recipient, finds the case in the list; each screen has no axe violation and
    no CSP refusal."""
    page, refusals = browser_page
    await page.goto(f"{site.portal}/")
    assert await page.title() == "Sign in · Support Portal"
    await _check(page, "sign-in")
    await page.click("text=Sign in with your district account")
    await page.click(f"button[name=sub][value='{ZACK}']")
    await page.wait_for_url(f"{site.portal}/cases")
    assert "Cases (" in await page.inner_text("h1")
    assert await page.get_attribute(".banner a", "href") == "http://127.0.0.1:8004/notifications"

    await page.click("header >> text=Submit a Case")
    await _check(page, "submit")
    await page.click("text=Ask a Question")
    subject = f"Snow Day {uuid.uuid4().hex[:6]}"
    await page.fill("#f-subject", subject)
    await page.fill("#f-description", "How do I add a snow day to the calendar?")
    await page.select_option("#f-module", "Calendar (terms, periods, days)")
    await page.fill("#f-location_within_product", "System Admin > Calendar > Calendar > Days")
    await _check(page, "case-form")
    await page.click("text=Submit case")
    await page.wait_for_selector("text=was submitted")
    assert subject in await page.inner_text(".details")
    assert "created this case." in await page.inner_text(".feed")

    await page.fill("#post-body", "The snow day is 2026-01-05.")
    await page.set_input_files(
        "#post-files", files=[{"name": "calendar.csv", "mimeType": "text/csv", "buffer": b"a,b\n"}]
    )
    await page.click("button:has-text('Share')")
    await page.wait_for_selector("text=Your post was shared.")
    assert "The snow day is 2026-01-05." in await page.inner_text(".feed")
    assert "calendar.csv" in await page.inner_text(".feed")
    await _check(page, "case")
    await page.click("text=Manage Notification Recipients")
    await page.click("a:has-text('Add')")
    await page.check("input[value='lisa-turtle']")
    await page.click("button:has-text('Next')")
    await page.wait_for_selector("text=Confirm: add these contacts")
    await page.click("button:has-text('Next')")
    await page.wait_for_selector("text=added successfully")
    assert "Lisa Turtle (TESTING)" in await page.inner_text("table")
    await _check(page, "recipients")

    await page.click("header >> text=View Cases")
    await page.click("summary:has-text('Filters')")
    await page.fill("#f-subject", subject)
    await page.click("text=Apply filters")
    await page.wait_for_selector("h1:has-text('Cases (1)')")
    assert subject in await page.inner_text("table.cases")
    await _check(page, "cases")
    await page.set_viewport_size({"width": 390, "height": 844})  # a phone
    await page.click("table.cases tbody a")
    await page.wait_for_selector("#case-title")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390  # no side scroll
    await _check(page, "case-phone")
    assert refusals.seen == []


async def test_error_summary_is_accessible(site: Site, browser_page: tuple[Any, Refusals]) -> None:
    """A refused submission shows the error summary and field messages with no axe violation."""
    page, _ = browser_page
    await page.goto(f"{site.portal}/auth/start?next=/cases/new/application-issue")
    await page.click(f"button[name=sub][value='{ZACK}']")
    await page.wait_for_url("**/cases/new/application-issue")
    await page.fill("#f-subject", "Teachers unable to post grades")
    await page.click("text=Submit case")
    await page.wait_for_selector(".error-summary")
    assert await page.locator(".field .error").count() >= 3
    await _check(page, "form-errors")


async def tab_to(page: Any, selector: str, limit: int = 80) -> None:
    """Press Tab until the element `selector` has the focus, and check the focus is visible."""
    target = await page.query_selector(selector)
    assert target is not None, selector
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await target.evaluate("el => el === document.activeElement"):
            outline = await target.evaluate("el => getComputedStyle(el).outlineStyle")
            assert outline != "none", f"{selector} has no visible focus"
            return
    raise AssertionError(f"Tab never reached {selector}")


async def test_submit_post_close_with_the_keyboard_alone(
    site: Site, browser_page: tuple[Any, Refusals]
) -> None:
    """From the case list, Tab and Enter alone submit a case, post to it and close it."""
    page, _ = browser_page
    await page.goto(f"{site.portal}/auth/start?next=/cases")
    await page.click(f"button[name=sub][value='{ZACK}']")
    await page.wait_for_url(f"{site.portal}/cases")
    await tab_to(page, "header a[href='/cases/new']")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/cases/new")
    await tab_to(page, "a[href='/cases/new/ask-a-question']")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/cases/new/ask-a-question")
    subject = f"Keyboard only {uuid.uuid4().hex[:6]}"
    await tab_to(page, "#f-subject")
    await page.keyboard.type(subject)
    await tab_to(page, "#f-description")
    await page.keyboard.type("Where can I find a specific report?")
    await tab_to(page, "#f-module")
    await page.keyboard.type("Reports")
    await tab_to(page, "button[type=submit]:has-text('Submit case')")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("text=was submitted")
    assert "Reports" in await page.inner_text(".details")
    await tab_to(page, "#post-body")
    await page.keyboard.type("Found it under Reporting.")
    await tab_to(page, "button[type=submit]:has-text('Share')")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("text=Your post was shared.")
    await tab_to(page, "summary:has-text('Close This Case')")
    await page.keyboard.press("Enter")
    await tab_to(page, "button:has-text('Close the case')")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("text=The case is closed.")
    assert "Closed" in await page.inner_text(".facts")
    await _check(page, "case-closed")


async def test_staff_post_appears_live(site: Site, browser_page: tuple[Any, Refusals]) -> None:
    """With the case page open, a post by Support shows up in the feed without a reload."""
    page, refusals = browser_page
    await page.goto(f"{site.portal}/auth/start?next=/cases/new/ask-a-question")
    await page.click(f"button[name=sub][value='{ZACK}']")
    await page.wait_for_url("**/cases/new/ask-a-question")
    await page.fill("#f-subject", f"Live {uuid.uuid4().hex[:6]}")
    await page.fill("#f-description", "Will Support answer?")
    await page.select_option("#f-module", "Reports")
    await page.click("text=Submit case")
    await page.wait_for_selector("text=was submitted")
    number = (await page.inner_text("#case-title")).strip()
    url = page.url
    answer = f"Support here: try Reports > Search {uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=site.intake, timeout=30) as intake:
        posted = await intake.post(
            f"/cases/{number}/posts",
            data={"body": answer},
            headers={"Authorization": f"Bearer {STAFF_TOKEN}"},
        )
        assert posted.status_code == 201, posted.text
    await page.wait_for_selector(f"text={answer}", timeout=30_000)
    assert page.url == url  # no reload, no navigation
    assert "(Support)" in await page.inner_text("#feed-items")
    assert refusals.seen == []


async def _drop(page: Any, names: list[str]) -> None:
    """Drop files named `names` on the post form's drop zone, as a person dragging them."""
    await page.evaluate(
        """names => {
            const data = new DataTransfer();
            for (const name of names) {
                data.items.add(new File(["day,type"], name, {type: "text/csv"}));
            }
            const zone = document.querySelector("[data-drop-for]");
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
        }""",
        names,
    )


async def test_drop_files_then_share(site: Site, browser_page: tuple[Any, Refusals]) -> None:
    """Dropped files are listed; eleven are refused before upload; two are shared."""
    page, refusals = browser_page
    await page.goto(f"{site.portal}/auth/start?next=/cases/new/ask-a-question")
    await page.click(f"button[name=sub][value='{ZACK}']")
    await page.wait_for_url("**/cases/new/ask-a-question")
    await page.fill("#f-subject", f"Drop {uuid.uuid4().hex[:6]}")
    await page.fill("#f-description", "Files attached by dropping them.")
    await page.select_option("#f-module", "Calendar (terms, periods, days)")
    await page.click("text=Submit case")
    await page.wait_for_selector("text=was submitted")
    await _drop(page, [f"day-{i}.csv" for i in range(11)])
    status = page.locator("#post-files-status")
    assert await status.inner_text() == "11 files chosen: up to 10 can be attached at the same time"
    await page.fill("#post-body", "Eleven is too many.")
    await page.click("button:has-text('Share')")
    assert await status.inner_text() == "11 files chosen: up to 10 can be attached at the same time"
    refused = page.locator("#post-files-list li .refused")
    assert await refused.count() == 1  # only the eleventh file, named beside it
    assert await page.text_content("#post-files-list li:nth-child(11)") == (
        "day-10.csv (0.0 KB) refused: only 10 files can be attached to one post"
    )
    await page.reload()
    assert "Eleven is too many." not in await page.inner_text("#feed-items")  # nothing was sent
    await _drop(page, ["monday.csv", "tuesday.csv"])
    assert await page.locator("#post-files-list li").count() == 2
    assert await page.locator("#post-files-list li progress").count() == 2  # one per file
    await page.fill("#post-body", "Two calendars")
    await page.focus("#post-body")
    await page.keyboard.press("Control+A")
    await page.click("[role=toolbar] button[aria-label='Bold']")
    await page.keyboard.press("End")
    await page.keyboard.type("\n")
    await page.click("[role=toolbar] button[aria-label='Bulleted list']")
    await page.keyboard.type("Monday")
    assert await page.input_value("#post-body") == "**Two calendars**\n- Monday"
    await _check(page, "case-share")
    await page.click("button:has-text('Share')")
    await page.wait_for_selector("text=Your post was shared.")
    feed = await page.inner_text("#feed-items")
    assert "monday.csv" in feed
    assert "tuesday.csv" in feed
    assert await page.inner_text("#feed-items .body strong") == "Two calendars"
    assert await page.inner_text("#feed-items .body li") == "Monday"
    await _check(page, None)
    assert refusals.seen == []


async def test_area_picker_add_remove_then_submit(
    site: Site, browser_page: tuple[Any, Refusals]
) -> None:
    """Area of Responsibility is picked with Add and Remove between Available and Chosen; the
    case is created with the chosen areas."""
    page, refusals = browser_page
    await page.goto(f"{site.portal}/auth/start?next=/cases/new/modify-support-contacts")
    await page.click(f"button[name=sub][value='{ZACK}']")
    await page.wait_for_url("**/cases/new/modify-support-contacts")
    assert await page.is_hidden("#f-areas_of_responsibility")  # the fallback, kept in sync
    available = "#f-areas_of_responsibility-available"
    chosen = "#f-areas_of_responsibility-chosen"
    assert await page.locator(f"{available} option").count() == 7
    await page.select_option(available, ["SIS", "Finance"])
    await page.click("button[aria-label='Add to Chosen']")
    assert await page.locator(f"{chosen} option").all_inner_texts() == ["SIS", "Finance"]
    await page.select_option(chosen, ["Finance"])
    await page.click("button[aria-label='Remove from Chosen']")
    await page.select_option(available, ["Human Resources"])
    await page.click("button[aria-label='Add to Chosen']")
    assert await page.locator(f"{chosen} option").all_inner_texts() == ["SIS", "Human Resources"]
    assert await page.locator(f"{available} option").count() == 5
    await page.select_option("#f-request_type", "Add")
    name = f"Kapowski{uuid.uuid4().hex[:6]}"
    await page.fill("#f-subject", f"Add {name}")
    await page.fill("#f-description", "Please add Kelly as a support contact.")
    await page.fill("#f-contact_first_name", "Kelly")
    await page.fill("#f-contact_last_name", name)
    await page.fill("#f-contact_email", "kelly@bayside.example")
    await page.fill("#f-contact_title", "Counselor")
    await page.fill("#f-contact_primary_phone", "555-0199")
    await page.select_option("#f-contact_type", "Technical")
    await _check(page, "area-picker")
    await page.click("text=Submit case")
    await page.wait_for_selector("text=was submitted")
    details = await page.inner_text(".details")
    assert name in details
    assert "SIS, Human Resources" in details
    assert refusals.seen == []
