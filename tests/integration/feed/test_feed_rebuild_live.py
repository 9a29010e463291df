"""A rebuild while events keep arriving: the swapped-in read model still holds every event."""

import asyncio
import contextlib
import os
import sys
from collections import Counter
from functools import partial
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from feed.logic import BUCKET_SIZE
from feed.settings import Settings
from feed.store import UNINDEXED
from tests.integration.feed.conftest import (
    DISTRICT_A,
    Bus,
    Expected,
    auth,
    directory_events,
    eventually,
    expected_postings,
    generate_case,
    stored_postings,
    subjects_of,
)

pytestmark = pytest.mark.timeout(900)
EARLY = [generate_case(i, DISTRICT_A, 3_000_000 + i) for i in range(40)]
LATE = [generate_case(i, DISTRICT_A, 3_000_000 + i) for i in range(40, 80)]


async def feed_count(db: AsyncDatabase[Any]) -> int:
    """Feed items across every case."""
    return sum([len(doc["items"]) async for doc in db["feeds"].find({})])


async def subjects_indexed(db: AsyncDatabase[Any]) -> bool:
    """Whether every case's subject is in `subjects` (the live consumer indexes them just
    after each batch)."""
    return await db["cases"].count_documents({UNINDEXED: True}) == 0


async def feed_mismatches(db: AsyncDatabase[Any], cases: list[Expected]) -> list[str]:
    """Each case whose feed does not hold exactly one item per event: its extra and missing ids."""
    wanted = {c.case_id: Counter(str(e.event_id) for e in c.events) for c in cases}
    found: dict[str, list[Any]] = {}
    report = []
    async for doc in db["feeds"].find({}):
        if doc["_id"] in found:
            report.append(f"case {doc['_id']}: a second feed document")
        found.setdefault(doc["_id"], []).extend(doc["items"])
    for case_id in sorted(wanted.keys() | found.keys()):
        items = found.get(case_id, [])
        held, due = Counter(str(item["_id"]) for item in items), wanted.get(case_id, Counter())
        extra, missing = held - due, due - held
        if extra or missing:
            texts = [
                f"{i['_id']} {i.get('event_type')} {i.get('search_lc', '')[:80]!r}"
                for i in items
                if str(i["_id"]) in extra
            ]
            report.append(f"case {case_id}: extra {texts} missing {sorted(missing)}")
    return report


async def test_events_published_during_rebuild_are_in_the_new_collections(
    feed_settings: Settings,
    bus: Bus,
    http: httpx.AsyncClient,
    tokens: dict[str, str],
    mongo_db: AsyncDatabase[Any],
) -> None:
    """Cases published while `rebuild` runs end up in the swapped-in collections (cases, feeds,
    subjects), exactly once, as the live projection had them."""
    await bus.directory(directory_events(tokens))
    early_events = [e for c in EARLY for e in c.events]
    await bus.case_events(early_events)

    async def early_done() -> bool:
        return await feed_count(mongo_db) >= len(early_events)

    await eventually(early_done, deadline_s=600)
    await eventually(partial(subjects_indexed, mongo_db), deadline_s=600)
    stored = await stored_postings(mongo_db["subjects"], BUCKET_SIZE)
    assert stored == expected_postings(subjects_of(EARLY))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "feed",
        "rebuild",
        env=_env(feed_settings),
        stderr=asyncio.subprocess.PIPE,
    )
    for case in LATE:  # keep publishing, spread over the rebuild's replay, indexing and swap
        await bus.case_events(case.events)
        if process.returncode is None:
            await asyncio.sleep(0.3)
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=600)
    assert process.returncode == 0, stderr.decode()[-2000:]
    everything = len(early_events) + sum(len(c.events) for c in LATE)

    async def all_done() -> bool:
        return await feed_count(mongo_db) >= everything

    with contextlib.suppress(pytest.fail.Exception):  # the report below says what is missing
        await eventually(all_done, deadline_s=600)
    mismatches = await feed_mismatches(mongo_db, EARLY + LATE)
    assert not mismatches, "\n".join(mismatches)
    assert await feed_count(mongo_db) == everything
    await eventually(partial(subjects_indexed, mongo_db), deadline_s=600)
    stored = await stored_postings(mongo_db["subjects"], BUCKET_SIZE)
    assert stored == expected_postings(subjects_of(EARLY + LATE))
    case_docs = Counter([doc["_id"] async for doc in mongo_db["cases"].find({}, {"_id": 1})])
    assert [case_id for case_id, seen in case_docs.items() if seen > 1] == []
    body = (
        await http.get("/cases", params={"page_size": 200}, headers=auth(tokens["zack"]))
    ).json()
    numbers = Counter(item["number"] for item in body["items"])
    twice = sorted(number for number, seen in numbers.items() if seen > 1)
    held = await mongo_db["cases"].count_documents({})
    assert body["total"] == len(EARLY) + len(LATE), f"listed twice: {twice}; stored: {held}"
    statuses = {item["number"]: item["status"] for item in body["items"]}
    assert statuses == {c.number: c.status for c in EARLY + LATE}


def _env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "MONGO_URL": settings.mongo_url.get_secret_value(),
        "TOPIC_NAMESPACE": settings.topic_namespace,
        "FEED_MONGO_DATABASE": settings.mongo_database,
        "LOG_FORMAT": "text",
    }
