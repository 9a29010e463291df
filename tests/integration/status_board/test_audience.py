"""Real process: a district notice stays off the public board and still reaches Kafka."""

import asyncio
import xml.etree.ElementTree as ET

import devstack
from shared.events import NOTICE_EVENTS
from shared.topics import Topics
from tests.integration.status_board.conftest import BoardFactory, BoardProcess, read_all, wait_for

DISTRICT = {
    "id": "bayside-sis",
    "title": "Campus unavailable for Bayside",
    "body": "Investigating.",
    "affected_account_ids": ["bayside"],
}
PUBLIC = {"id": "mail", "title": "Mail delays", "body": "Emails are delayed."}


def _pending(board: BoardProcess) -> int:
    with board.admin() as admin:
        return int(admin.get("/admin/outbox").json()["pending"])


async def test_district_incident_is_not_public_but_is_published(
    stack: devstack.StackSettings, start_board: BoardFactory, namespace: str
) -> None:
    """Page, banner, JSON and Atom show only the public notice, no district id; Kafka has both."""
    board = start_board(kafka=stack.kafka_bootstrap)
    with board.admin() as admin:
        assert admin.post("/admin/incidents", json=DISTRICT).status_code == 201
    with board.public() as public:
        banner = public.get("/api/banner").json()
        assert banner["state"] != "incident"
        assert "INCIDENT IN PROGRESS" not in public.get("/").text.upper()
    with board.admin() as admin:
        assert admin.post("/admin/incidents", json=PUBLIC).status_code == 201
    with board.public() as public:
        bodies = [public.get(path).text for path in ("/", "/notifications?tab=closed")]
        bodies += [public.get("/api/notices", params={"state": s}).text for s in ("open", "all")]
        bodies.append(public.get("/feed.atom").text)
        assert all("Mail delays" in body for body in bodies[:1] + bodies[2:])
        assert not any("Bayside" in body or "bayside" in body for body in bodies)
        assert not any("affected_account_ids" in body for body in bodies)
        assert public.get("/api/banner").json()["counts"]["incidents"] == 1
        feed = ET.fromstring(public.get("/feed.atom").content)
        assert len(feed.findall("{http://www.w3.org/2005/Atom}entry")) == 1
        for path in ("/notices/bayside-sis", "/api/notices/bayside-sis"):
            assert public.get(path).status_code == 404
    await asyncio.to_thread(wait_for, lambda: _pending(board) == 0, 60, "outbox drained")
    records = await read_all(stack.kafka_bootstrap, Topics(namespace).incident_events)
    events = {r.key: NOTICE_EVENTS.validate_json(r.value) for r in records}
    assert events[b"bayside-sis"].notice.affected_account_ids == ["bayside"]
