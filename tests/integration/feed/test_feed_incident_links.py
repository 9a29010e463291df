"""A case linked to a status-board incident, on the real stack: the contact reads the link, the
resolution and the case's current incidents through feed's API, the same after a rebuild."""

import asyncio
import os
import sys
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from feed.app import projection_of, read_model
from feed.settings import Settings
from shared.enums import ActorKind
from shared.events import IncidentLinked, LinkedIncidentResolved
from shared.messages import Actor, Message
from shared.mongo import mongo_client
from tests.integration.feed.conftest import (
    DISTRICT_A,
    STAFF,
    T0,
    Bus,
    auth,
    directory_events,
    eventually,
    question_events,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
ZACK = Actor(kind=ActorKind.CONTACT, id="c-zack", name="Zack Morris (TESTING)")
NUMBER = 4_300_017
TITLE = "Gradebook down"
WORDS = "Restored at 10:40 <b>after</b> a certificate renewal."


def _events(case: UUID, number: int) -> list[Message]:
    """A question by Zack, linked by Belding to an incident the board then resolves."""
    at = T0 + timedelta(days=400)
    history = question_events(
        case,
        number=number,
        account_id=DISTRICT_A,
        contact=ZACK,
        subject="Nobody can open the grade book",
        at=at,
        description="Every teacher gets a certificate error.",
    )
    linked = IncidentLinked(
        case_id=case,
        occurred_at=at + timedelta(minutes=5),
        actor=STAFF,
        notice_id="gradebook-down.1",
        title=TITLE,
    )
    resolved = LinkedIncidentResolved(
        case_id=case,
        occurred_at=at + timedelta(minutes=50),
        notice_id="gradebook-down.1",
        title=TITLE,
        resolution=WORDS,
    )
    return [*history, linked, resolved]


async def test_the_contact_reads_a_link_and_its_resolution_once_on_the_case(
    bus: Bus, http: httpx.AsyncClient, tokens: dict[str, str], feed_settings: Settings
) -> None:
    """After a submission, Belding links the case to an incident and the board resolves it
    (published twice, one event): Zack's case page lists the incident resolved, its feed shows
    the link by Belding and the resolution once, searchable, newest first; the case's Last
    Modified is the resolution's. A rebuild from offset 0 serves the same page."""
    await bus.directory(directory_events(tokens))
    events = _events(uuid4(), NUMBER)
    await bus.case_events([*events, events[-1]])
    zack = auth(tokens["zack"])
    at = T0 + timedelta(days=400)

    async def shown() -> bool:
        page = await http.get(f"/cases/{NUMBER}", headers=zack)
        return page.status_code == 200 and bool(page.json()["incidents"])

    await eventually(shown)
    page = (await http.get(f"/cases/{NUMBER}", headers=zack)).json()
    assert page["incidents"] == [
        {
            "notice_id": "gradebook-down.1",
            "title": "Gradebook down",
            "linked_at": _iso(at + timedelta(minutes=5)),
            "resolved": True,
            "resolved_at": _iso(at + timedelta(minutes=50)),
        }
    ]
    assert page["last_modified"] == _iso(at + timedelta(minutes=50))
    newest = page["feed"]["items"]
    assert [(i["headline"], i["lines"], i["role"]) for i in newest[:2]] == [
        (
            "The incident “Gradebook down” is resolved.",
            ["Resolution: Restored at 10:40 <b>after</b> a certificate renewal."],
            "System",
        ),
        (
            "Richard Belding (Support) updated this record.",
            ["Linked to the status-board incident “Gradebook down”"],
            "Support",
        ),
    ]
    assert all(i["body_html"] is None for i in newest[:2])
    assert page["feed"]["total"] == 4  # created, routed, linked, resolved: the repeat is one
    found = await _search(http, zack, "certificate RENEWAL")
    assert [i["headline"] for i in found] == ["The incident “Gradebook down” is resolved."]
    await _rebuild(feed_settings)
    assert (await http.get(f"/cases/{NUMBER}", headers=zack)).json() == page


async def test_one_by_one_and_batched_projections_store_the_same_links(
    feed_settings: Settings,
) -> None:
    """The per-event write (the server's $addToSet) and the batch write (folded in memory)
    leave the same case document and feed on the real server."""
    case = uuid4()
    events = _events(case, NUMBER + 1)
    mongo = mongo_client(feed_settings)
    names = [feed_settings.mongo_database + suffix for suffix in ("_one", "_all")]
    try:
        one, many = (
            projection_of(read_model(feed_settings.model_copy(update={"mongo_database": n}), mongo))
            for n in names
        )
        for event in events:
            await one.project(event)  # type: ignore[arg-type]
        await many.project_all(events)  # type: ignore[arg-type]
        stored = [await mongo[n]["cases"].find_one({"_id": str(case)}) for n in names]
        feeds = [await mongo[n]["feeds"].find_one({"_id": str(case)}) for n in names]
        assert stored[0] is not None
        assert [e["change"] for e in stored[0]["incident_links"]] == ["linked", "resolved"]
        assert stored[0] == stored[1]
        assert feeds[0] == feeds[1]
    finally:
        for name in names:
            await mongo.drop_database(name)
        await mongo.close()


async def _rebuild(settings: Settings) -> None:
    """`python -m feed rebuild` on the module's namespace and database."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "MONGO_URL": settings.mongo_url.get_secret_value(),
        "TOPIC_NAMESPACE": settings.topic_namespace,
        "FEED_MONGO_DATABASE": settings.mongo_database,
        "LOG_FORMAT": "text",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "feed", "rebuild", env=env, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=240)
    assert process.returncode == 0, stderr.decode()[-2000:]


async def _search(http: httpx.AsyncClient, who: dict[str, str], q: str) -> list[dict[str, Any]]:
    answer = await http.get(f"/cases/{NUMBER}/feed", params={"q": q}, headers=who)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def _iso(value: Any) -> str:
    return str(value.isoformat().replace("+00:00", "Z"))
