"""The live consumer on the real stack: a burst of many cases' events, applied in batches."""

import json
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from feed.settings import Settings
from feed.store import CaseStore
from shared.enums import ActorKind
from shared.events import PostAdded
from shared.messages import Actor, Message
from tests.integration.feed.conftest import (
    Bus,
    Expected,
    auth,
    directory_events,
    eventually,
    generate_case,
)
from tests.integration.topics import read_topic

pytestmark = pytest.mark.timeout(900)
BURST = "acc-burst"
CASES = [generate_case(i, BURST, 3000000 + i) for i in range(150)]


def interleaved() -> list[Message]:
    """Every case's events, round robin across cases, each case's in its own order."""
    depth = max(len(c.events) for c in CASES)
    return [c.events[k] for k in range(depth) for c in CASES if k < len(c.events)]


async def dead_letters(settings: Settings) -> list[bytes]:
    """Every record on the case events' dead-letter topic."""
    dlq = f"{settings.topics.case_events}.dlq"
    records = await read_topic(settings.kafka_bootstrap_servers, dlq)
    return [r.value for r in records if r.value is not None]


async def test_burst_is_applied_once_in_case_order(
    bus: Bus,
    http: httpx.AsyncClient,
    tokens: dict[str, str],
    mongo_db: AsyncDatabase[Any],
    feed_settings: Settings,
) -> None:
    """A burst with redeliveries and a poison record: every event once, in each case's order."""
    await bus.directory(directory_events(tokens))
    events = interleaved()
    poison = json.dumps({"type": "case.submitted", "case_id": "not-a-uuid"}).encode()
    await bus.case_events(events[:300])
    await bus.producer.send_and_wait(feed_settings.topics.case_events, poison, key=b"poison")
    await bus.case_events(events[250:])  # 50 events delivered twice

    async def projected() -> bool:
        found = [len(d["items"]) async for d in mongo_db["feeds"].find({})]
        return sum(found) >= len(events)

    await eventually(projected, deadline_s=600)
    stored = {d["_id"]: d async for d in mongo_db["cases"].find({"account_id": BURST})}
    assert len(stored) == len(CASES)
    for case in CASES:
        doc = stored[case.case_id]
        assert doc["applied"] == [str(e.event_id) for e in case.events]
        assert doc["status"] == case.status
        assert doc["last_modified"] == case.last_modified
    feeds = {d["_id"]: d["items"] async for d in mongo_db["feeds"].find({})}
    assert all(len(feeds[c.case_id]) == len(c.events) for c in CASES)
    assert await dead_letters(feed_settings) == [poison]
    body = (await http.get("/cases", headers=auth(tokens["staff"]))).json()
    assert body["total"] == len(CASES)
    newest = sorted(CASES, key=lambda c: (c.last_modified, c.number), reverse=True)
    assert [i["number"] for i in body["items"]] == [c.number for c in newest[:20]]
    await _oldest_case_moves_to_the_top(bus, http, tokens, newest)


async def _oldest_case_moves_to_the_top(
    bus: Bus, http: httpx.AsyncClient, tokens: dict[str, str], newest: list[Expected]
) -> None:
    """A post on the oldest case puts it first, past the window the last read remembered."""
    oldest = newest[-1]
    at = newest[0].last_modified + timedelta(days=1)
    author = Actor(kind=ActorKind.CONTACT, id="c-zack", name="Zack Morris")
    post = PostAdded(
        occurred_at=at,
        case_id=UUID(oldest.case_id),
        post_id=uuid4(),
        author=author,
        body_html="<p>still there?</p>",
        body_text="still there?",
    )
    await bus.case_events([post])

    async def first() -> bool:
        body = (await http.get("/cases", headers=auth(tokens["staff"]))).json()
        return bool(body["items"][0]["number"] == oldest.number)

    await eventually(first)
    body = (await http.get("/cases", headers=auth(tokens["staff"]))).json()
    assert body["total"] == len(CASES)
    expected = [oldest.number] + [c.number for c in newest[:19]]
    assert [i["number"] for i in body["items"]] == expected


@pytest.mark.usefixtures("http")  # the app's lifespan creates the indexes
async def test_newest_first_window_is_served_by_an_index(mongo_db: AsyncDatabase[Any]) -> None:
    """The default list's window read, for a district and for staff, is an index scan."""
    store = CaseStore(mongo_db)
    for account in (BURST, None):
        plan = await store.explain_newest(account)
        text = json.dumps(plan["queryPlanner"]["winningPlan"], default=str)
        assert "IXSCAN" in text, (account, text)
        assert "COLLSCAN" not in text, (account, text)
