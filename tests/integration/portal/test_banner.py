"""The portal banner: an incident for one district is orange there and gray elsewhere; open
maintenance is green; each links to the status board's notifications."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

import devstack
from shared.enums import NoticeKind, NoticeStatus
from shared.events import Notice, NoticePublished
from shared.topics import Topics
from tests.browser import ARGS, CHROMIUM, MARKS
from tests.integration.portal.conftest import SPICOLI, ZACK, Site, sign_in
from tests.integration.portal.test_browser import SHOTS, axe_violations

pytestmark = MARKS


async def _publish(stack: devstack.StackSettings, site: Site, notice: Notice) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        event = NoticePublished(notice=notice)
        topic = Topics(site.namespace).incident_events
        await producer.send_and_wait(
            topic, event.model_dump_json().encode(), key=notice.id.encode()
        )
    finally:
        await producer.stop()


def _notice(kind: NoticeKind, title: str, accounts: list[str]) -> Notice:
    now = datetime.now(UTC)
    status = NoticeStatus.INVESTIGATING if kind is NoticeKind.INCIDENT else NoticeStatus.SCHEDULED
    return Notice(
        id=f"n-{uuid.uuid4().hex[:8]}",
        kind=kind,
        title=title,
        body="We are looking into it.",
        status=status,
        starts_at=now - timedelta(minutes=1)
        if kind is NoticeKind.INCIDENT
        else now + timedelta(days=14),
        affected_account_ids=accounts,
    )


async def _banner_of(client: httpx.AsyncClient, wanted: str) -> str:
    """The banner's HTML once it says `wanted` (the feed projects notices from Kafka)."""
    html = ""
    for _ in range(100):
        html = (await client.get("/cases")).text
        banner = html.split('<div class="banner', 1)[1].split("</div>", 1)[0]
        if wanted in banner:
            return banner
        await asyncio.sleep(0.2)
    raise AssertionError(f"the banner never said {wanted!r}: {banner}")


async def test_banner_by_district(stack: devstack.StackSettings, site: Site, cleanup: None) -> None:
    """Gray while nothing is open; Ridgemont's incident is orange for Jeff Spicoli and not shown
    to Bayside's Zack, whose scheduled maintenance is green; each links to the board."""
    async with httpx.AsyncClient(base_url=site.portal, timeout=30) as zack:
        await asyncio.to_thread(_sign_in_sync, site, zack, ZACK)
        banner = await _banner_of(zack, "No open notifications.")
        assert "banner-gray" in banner
    title = f"Digicert Incident {uuid.uuid4().hex[:4]}"
    await _publish(stack, site, _notice(NoticeKind.INCIDENT, title, ["ridgemont"]))
    upgrade = f"Database upgrade {uuid.uuid4().hex[:4]}"
    await _publish(stack, site, _notice(NoticeKind.MAINTENANCE, upgrade, ["bayside"]))
    async with httpx.AsyncClient(base_url=site.portal, timeout=30) as spicoli:
        await asyncio.to_thread(_sign_in_sync, site, spicoli, SPICOLI)
        banner = await _banner_of(spicoli, title)
        assert "banner-orange" in banner
        assert "Incident in progress:" in banner
        assert 'href="http://127.0.0.1:8004/notifications"' in banner
    async with httpx.AsyncClient(base_url=site.portal, timeout=30) as zack:
        await asyncio.to_thread(_sign_in_sync, site, zack, ZACK)
        banner = await _banner_of(zack, upgrade)
        assert "banner-green" in banner
        assert "Scheduled maintenance:" in banner
        assert title not in banner
    await _screenshot(site)


def _sign_in_sync(site: Site, client: httpx.AsyncClient, email: str) -> None:
    """Sign in with a sync client and hand its cookies to the async one."""
    with httpx.Client(timeout=30) as sync:
        sign_in(sync, site, email)
        client.cookies.update(sync.cookies)


async def _screenshot(site: Site) -> None:
    """The orange banner in chromium: no axe violation (its contrast included)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page: Any = await browser.new_page(viewport={"width": 1280, "height": 700})
        await page.goto(f"{site.portal}/auth/start?next=/cases")
        await page.click(f"button[name=sub][value='{SPICOLI}']")
        await page.wait_for_selector(".banner-orange")
        assert await axe_violations(page) == []
        await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / "portal-banner-incident.png"))
        await browser.close()
