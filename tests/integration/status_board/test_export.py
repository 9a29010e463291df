"""The static export on the real stack: the notices stay readable with every board process down.

The board runs against the real Kafka with STATUS_BOARD_EXPORT_DIR set; an incident comes in
through the admin API and a second one from another producer on Kafka. Then the board is
stopped and a plain static server (python's http.server, a process of its own) serves the
export folder: the page, the Atom feed, the JSON and the banner are there, byte for byte what
the board served, with both incidents.
"""

import asyncio
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

import devstack
from shared.enums import NoticeKind, NoticeStatus
from shared.events import Notice, NoticePublished
from shared.kafka import ensure_topics
from shared.topics import Topics, TopicSpec
from tests.integration.status_board.conftest import (
    BoardFactory,
    as_record,
    free_port,
    produce,
    wait_for,
)

ATOM = "{http://www.w3.org/2005/Atom}"
# Each exported file and the board URL it holds the bytes of.
EXPORTED = {
    "notifications.html": "/notifications",
    "feed.atom": "/feed.atom",
    "api/notices.json": "/api/notices",
    "api/banner.json": "/api/banner",
    "notices/outage.html": "/notices/outage",
    "api/notices/outage.json": "/api/notices/outage",
    "notices/mail.html": "/notices/mail",
}


@pytest.fixture
def static_server(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """The export folder and the URL of `python -m http.server` serving it (once started)."""
    folder = tmp_path / "public"
    folder.mkdir()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        yield folder, url
    finally:
        server.terminate()
        server.wait(10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        time.sleep(0.1)
        return False


def _exported(folder: Path, name: str, text: str) -> bool:
    try:
        return text in (folder / name).read_text(encoding="utf-8")
    except FileNotFoundError:
        return False


async def test_notices_stay_readable_from_the_export_with_the_board_stopped(
    stack: devstack.StackSettings,
    start_board: BoardFactory,
    namespace: str,
    static_server: tuple[Path, str],
) -> None:
    """Published, exported, board stopped: a plain static server serves what the board served."""
    folder, static_url = static_server
    topic = Topics(namespace).incident_events
    await ensure_topics(stack.kafka_bootstrap, [TopicSpec(topic, partitions=1, compacted=True)])
    board = start_board(
        kafka=stack.kafka_bootstrap, extra_env={"STATUS_BOARD_EXPORT_DIR": str(folder)}
    )
    with board.admin() as admin:
        body = {"id": "outage", "title": "Login outage", "body": "Users cannot sign in."}
        assert admin.post("/admin/incidents", json=body).status_code == 201
    mail = Notice(
        id="mail",
        kind=NoticeKind.INCIDENT,
        title="Mail delays",
        body="Emails are delayed.",
        status=NoticeStatus.INVESTIGATING,
        starts_at=datetime(2024, 7, 30, 18, 27, tzinfo=UTC),
    )
    await produce(stack.kafka_bootstrap, topic, as_record(NoticePublished(notice=mail)))

    def settled() -> bool:
        page = "notifications.html"
        return _exported(folder, page, "Mail delays") and _exported(folder, page, "Login outage")

    await asyncio.to_thread(wait_for, settled, 30, "both incidents exported")
    await asyncio.sleep(1)  # let a pass still under way (e.g. Kafka heard again) finish
    with board.public() as public:
        served = {name: public.get(url).content for name, url in EXPORTED.items()}
    assert board.stop() == 0
    with pytest.raises(httpx.TransportError):
        await asyncio.to_thread(httpx.get, f"{board.url}/healthz", timeout=2)

    await asyncio.to_thread(wait_for, lambda: _answers(static_url + "/feed.atom"), 15, "server")
    async with httpx.AsyncClient(base_url=static_url, timeout=10) as static:
        fetched = {name: (await static.get(f"/{name}")) for name in EXPORTED}
    assert {name: r.status_code for name, r in fetched.items()} == dict.fromkeys(EXPORTED, 200)
    assert {name: r.content for name, r in fetched.items()} == served
    page = fetched["notifications.html"].text
    assert "Login outage" in page
    assert "Mail delays" in page
    entries = ET.fromstring(fetched["feed.atom"].content).findall(f"{ATOM}entry")
    assert sorted(e.findtext(f"{ATOM}title") or "" for e in entries) == [
        "Incident: Login outage (Investigating)",
        "Incident: Mail delays (Investigating)",
    ]
    listed = fetched["api/notices.json"].json()
    assert sorted(n["id"] for n in listed["notices"]) == ["mail", "outage"]
    banner = fetched["api/banner.json"].json()
    assert (banner["colour"], banner["counts"]["incidents"]) == ("orange", 2)
    assert fetched["api/notices/outage.json"].json()["title"] == "Login outage"
