"""The staff SLA report page on the real stack: portal, routing and its report endpoint."""

import asyncio
import re
import uuid

import pytest

from tests.browser import ARGS, CHROMIUM
from tests.integration.portal.test_staff_workspace import (
    PAT,
    TIA,
    StaffSite,
    _browser_staff,
    _screen,
    csrf,
    eventually,
    staff_client,
    staff_site,
    submit,
)

pytestmark = pytest.mark.integration
__all__ = ["staff_site"]  # the module-scoped processes, shared by this module's tests

CAMPUS = re.compile(r'<h2 id="sla-dept-\d+">Campus Support</h2>')


def test_a_submitted_case_counts_in_the_campus_support_report(staff_site: StaffSite) -> None:
    """A fresh case has its clocks start this week: Campus Support staff see it counted,
    Training staff see no Campus Support section, a bad ?weeks= is a 400 page."""
    submit(staff_site, f"SLA report {uuid.uuid4().hex[:6]}")
    pat = staff_client(staff_site, PAT)
    pages: list[str] = []

    def counted() -> bool:
        page = pat.get("/staff/reports/sla", params={"weeks": "1"})
        pages[:] = [page.text] if page.status_code == 200 else []
        return bool(pages) and CAMPUS.search(pages[0]) is not None

    eventually(counted, "the case in the SLA report")
    row = re.search(r'<th scope="row">\d{4}-\d{2}-\d{2}</th>\s*<td>(\d+)</td>', pages[0])
    assert row is not None
    assert int(row.group(1)) >= 1
    training = staff_client(staff_site, TIA).get("/staff/reports/sla").text
    assert CAMPUS.search(training) is None
    assert pat.get("/staff/reports/sla", params={"weeks": "60"}).status_code == 400


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
async def test_the_sla_report_page_passes_axe(staff_site: StaffSite) -> None:
    """Pat answers a fresh case (its first response met), then the report, with that week's
    figures, passes axe and is the docs' screenshot."""
    from playwright.async_api import async_playwright

    number = await asyncio.to_thread(submit, staff_site, f"SLA axe {uuid.uuid4().hex[:6]}")
    await asyncio.to_thread(_answer, staff_site, number)
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = await _browser_staff(browser, staff_site, PAT)
        await page.goto(f"{staff_site.portal}/staff/reports/sla")
        await page.wait_for_selector("h1", timeout=30_000)
        await _screen(page, "sla-report")  # axe, and docs/portal/staff-sla-report.png
        await browser.close()


def _answer(site: StaffSite, number: int) -> None:
    """Pat posts an explanation to the contact (the first response) and waits until the
    report counts a met first response this week."""
    pat = staff_client(site, PAT)
    eventually(lambda: pat.get(f"/staff/cases/{number}").status_code == 200, "the case")
    page = pat.get(f"/staff/cases/{number}")
    body = {"csrf_token": csrf(page.text), "body": "We are looking at it now."}
    assert pat.post(f"/staff/cases/{number}/posts", data=body).status_code == 303

    def met() -> bool:
        report = pat.get("/staff/reports/sla", params={"weeks": "1"}).text
        row = re.search(r'<th scope="row">[\d-]+</th>\s*<td>\d+</td>\s*<td>(\d+) / ', report)
        return row is not None and int(row.group(1)) >= 1

    eventually(met, "a met first response in the report")
