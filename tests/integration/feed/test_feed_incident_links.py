"""A case linked to a status-board incident, on the real stack: the contact reads the link, the
resolution and the case's current incidents through feed's API."""

from datetime import timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from shared.enums import ActorKind
from shared.events import IncidentLinked, LinkedIncidentResolved
from shared.messages import Actor
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

pytestmark = pytest.mark.integration
ZACK = Actor(kind=ActorKind.CONTACT, id="c-zack", name="Zack Morris (TESTING)")
NUMBER = 4_300_017
TITLE = "Gradebook down"
WORDS = "Restored at 10:40 <b>after</b> a certificate renewal."


async def test_the_contact_reads_a_link_and_its_resolution_once_on_the_case(
    bus: Bus, http: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """After a submission, Belding links the case to an incident and the board resolves it
    (published twice, one event): Zack's case page lists the incident resolved, its feed shows
    the link by Belding and the resolution once, searchable, newest first; the case's Last
    Modified is the resolution's."""
    await bus.directory(directory_events(tokens))
    case = uuid4()
    at = T0 + timedelta(days=400)
    history = question_events(
        case,
        number=NUMBER,
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
    await bus.case_events([*history, linked, resolved, resolved])
    zack = auth(tokens["zack"])

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


async def _search(http: httpx.AsyncClient, who: dict[str, str], q: str) -> list[dict[str, Any]]:
    answer = await http.get(f"/cases/{NUMBER}/feed", params={"q": q}, headers=who)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def _iso(value: Any) -> str:
    return str(value.isoformat().replace("+00:00", "Z"))
