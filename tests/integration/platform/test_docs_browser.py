"""Headless Debian Chromium, cut off from every host but the service: /docs and /redoc render.

Issue 13, item 11: Swagger UI came from a CDN, so /docs was blank without internet; under
the new CSP an inline start script would be blocked, so the page must start from files.
"""

from typing import Any
from urllib.parse import urlsplit

from tests.browser import ARGS, CHROMIUM, MARKS, OUTPUT
from tests.integration.platform.conftest import Processes

pytestmark = MARKS


class Offline:
    """A page that may reach 127.0.0.1 only; records what else it tried and CSP refusals."""

    def __init__(self) -> None:
        self.blocked: list[str] = []
        self.refused: list[str] = []

    async def route(self, route: Any) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("http", "https") and urlsplit(url).hostname != "127.0.0.1":
            self.blocked.append(url)
            await route.abort()
        else:
            await route.continue_()

    def console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.refused.append(message.text)


async def _open(url: str, ready: str, shot: str, *, javascript: bool = True) -> Offline:
    from playwright.async_api import async_playwright

    offline = Offline()
    OUTPUT.mkdir(exist_ok=True)
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = await browser.new_page(
            java_script_enabled=javascript, viewport={"width": 1200, "height": 900}
        )
        page.on("console", offline.console)
        await page.route("**/*", offline.route)
        await page.goto(url)
        await page.wait_for_selector(ready, timeout=30_000)
        await page.screenshot(path=str(OUTPUT / shot))
        await browser.close()
    return offline


async def test_swagger_ui_renders_offline_under_the_csp(processes: Processes) -> None:
    """Intake's /docs shows its title and operations with no host but the service reachable."""
    ready = ".swagger-ui .opblock-summary-path >> text=/cases"
    offline = await _open(f"{processes.urls['intake']}/docs", ready, "docs-swagger.png")
    assert offline.blocked == []
    assert offline.refused == []


async def test_redoc_renders_offline_under_the_csp(processes: Processes) -> None:
    """Feed's /redoc shows its operations from the packaged ReDoc.

    ReDoc's sidebar credit is an image on its CDN; the CSP refuses it (so no request goes
    out) and the alt text shows instead. Nothing else may be refused.
    """
    ready = "h1 >> text=Feed"
    offline = await _open(f"{processes.urls['feed']}/redoc", ready, "docs-redoc.png")
    assert offline.blocked == []
    credit = "https://cdn.redoc.ly/redoc/logo-mini.svg"
    assert [text for text in offline.refused if credit not in text] == []


async def test_asyncapi_page_reads_without_javascript(processes: Processes) -> None:
    """Notify's /asyncapi lists its topics with JavaScript off."""
    ready = "h2 >> text=Channels"
    url = f"{processes.urls['notify']}/asyncapi"
    offline = await _open(url, ready, "docs-asyncapi.png", javascript=False)
    assert offline.blocked == []
