"""Real browser: headless Debian Chromium shows the banner, both tabs, and no script is needed."""

from datetime import UTC, datetime, timedelta

from tests.browser import ARGS, CHROMIUM, MARKS, OUTPUT
from tests.integration.status_board.conftest import BoardFactory, BoardProcess

pytestmark = MARKS


def _content(board: BoardProcess) -> None:
    start = datetime.now(UTC) + timedelta(days=14)
    with board.admin() as admin:
        digicert = {
            "id": "digicert",
            "title": "Digicert Incident",
            "body": "DigiCert must reissue our TLS certificates today.\n\nWe will update here.",
        }
        admin.post("/admin/incidents", json=digicert).raise_for_status()
        update = {"body": "All customer domains have been updated.", "status": "Monitoring"}
        admin.post("/admin/notices/digicert/updates", json=update).raise_for_status()
        old = {"id": "mail", "title": "Email delays", "body": "Outbound mail was delayed."}
        admin.post("/admin/incidents", json=old).raise_for_status()
        admin.post("/admin/notices/mail/resolve", json={"body": "Mail flows again."})
        maintenance = {
            "id": "upgrade",
            "title": "Scheduled database upgrade",
            "body": "The portal will be read-only for two hours.",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(),
        }
        admin.post("/admin/maintenance", json=maintenance).raise_for_status()


async def test_page_in_chromium(start_board: BoardFactory) -> None:
    """The orange banner says what it means, tabs are links, Closed lists the resolved incident."""
    from playwright.async_api import async_playwright

    board = start_board()
    _content(board)
    OUTPUT.mkdir(exist_ok=True)
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = await browser.new_page(
            java_script_enabled=False, viewport={"width": 1100, "height": 900}
        )
        await page.goto(f"{board.url}/")
        banner = page.locator(".banner")
        assert "Incident in progress" in (await banner.text_content() or "")
        colour = await banner.evaluate("el => getComputedStyle(el).backgroundColor")
        assert colour == "rgb(242, 140, 30)"
        current = page.locator(".tab.current")
        assert (await current.inner_text()).startswith("Open Notifications")
        assert await page.locator("article.notice").count() == 2
        await page.screenshot(path=str(OUTPUT / "status-board-open.png"), full_page=True)
        await page.click("text=Closed Notifications")
        assert page.url.endswith("/notifications?tab=closed")
        assert (await page.locator(".tab.current").inner_text()).startswith("Closed Notifications")
        assert "Email delays" in await page.locator("main").inner_text()
        await page.screenshot(path=str(OUTPUT / "status-board-closed.png"), full_page=True)
        await browser.close()
