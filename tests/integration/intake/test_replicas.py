"""Two intake replicas on one database and one set of topics: changes to one case take turns."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from intake.app import create_app
from intake.settings import Settings

BOTH = ["ac-slater", "lisa-turtle", "zack-morris"]


@pytest.fixture(scope="module")
async def second(intake_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A second intake replica on the same topics and database as `client`'s."""
    app = create_app(intake_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake-2") as http:
            yield http


async def _visible(http: httpx.AsyncClient, url: str, kit: Any) -> None:
    """Wait until the replica sees the case (its record is written behind the answer)."""
    for _ in range(100):
        if (await http.get(url, headers=kit.auth(kit.ZACK))).status_code == 200:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never became visible on the second replica")


async def test_concurrent_additions_on_two_replicas_both_count(
    client: httpx.AsyncClient, second: httpx.AsyncClient, intake_settings: Settings, kit: Any
) -> None:
    """Two replicas adding different recipients to one case at once: the list keeps both."""
    case = await kit.submit(client)
    url = f"/cases/{case['case_id']}/recipients"
    await _visible(second, url, kit)
    answers = await asyncio.gather(
        client.post(url, json={"contact_ids": ["lisa-turtle"]}, headers=kit.auth(kit.ZACK)),
        second.post(url, json={"contact_ids": ["ac-slater"]}, headers=kit.auth(kit.ZACK)),
    )
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    for replica in (client, second):
        final = await replica.get(url, headers=kit.auth(kit.ZACK))
        assert sorted(r["contact_id"] for r in final.json()["recipients"]) == BOTH
    events = await kit.case_events(intake_settings, case["case_id"])
    changes = [e for e in events if e["type"] == "case.recipients_changed"]
    assert sorted(len(c["added"]) for c in changes) == [1, 1]
    assert sorted(changes[-1]["recipients"]) == BOTH


async def test_concurrent_add_and_remove_on_two_replicas_apply_in_turn(
    client: httpx.AsyncClient, second: httpx.AsyncClient, intake_settings: Settings, kit: Any
) -> None:
    """A removal on one replica and an addition on the other, at once: neither is undone."""
    case = await kit.submit(client)
    url = f"/cases/{case['case_id']}/recipients"
    added = await client.post(
        url, json={"contact_ids": ["lisa-turtle"]}, headers=kit.auth(kit.ZACK)
    )
    assert added.status_code == 200, added.text
    await _visible(second, url, kit)
    answers = await asyncio.gather(
        client.delete(url, params={"contact_id": "lisa-turtle"}, headers=kit.auth(kit.ZACK)),
        second.post(url, json={"contact_ids": ["ac-slater"]}, headers=kit.auth(kit.ZACK)),
    )
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    final = await client.get(url, headers=kit.auth(kit.ZACK))
    after = ["ac-slater", "zack-morris"]
    assert sorted(r["contact_id"] for r in final.json()["recipients"]) == after
    events = await kit.case_events(intake_settings, case["case_id"])
    changes = [e for e in events if e["type"] == "case.recipients_changed"]
    assert sorted(changes[-1]["recipients"]) == after
