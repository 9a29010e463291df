"""The feed's documented request examples, sent to the real app on the local stack, are accepted."""

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from uuid import uuid4

import httpx
import pytest

from shared.directory import hash_token
from shared.enums import ActorKind, ContactType
from shared.events import (
    Account,
    AccountUpserted,
    ApiToken,
    Contact,
    ContactUpserted,
    TokenIssued,
)
from shared.messages import Actor
from tests.integration.feed.conftest import T0, Bus, auth, eventually, question_events

pytestmark = pytest.mark.timeout(300)
# The seed's district and contact, under the ids deploy/seed/directory.json gives them.
BAYSIDE = Account(id="bayside", name="Bayside School (TESTING)", time_zone="America/Chicago")
ZACK = Contact(
    id="zack-morris",
    first_name="Zack",
    last_name="Morris (TESTING)",
    email="zack.morris@bayside.example",
    contact_type=ContactType.AUTHORIZED_SUPPORT,
    account_ids=["bayside"],
)


@pytest.fixture(scope="module")
def zack(tokens: dict[str, str]) -> dict[str, str]:
    """The Authorization header of Zack's token in this module."""
    return auth(tokens["zack"] + "-seed")


@pytest.fixture(scope="module")
async def case_id(bus: Bus, zack: dict[str, str], http: httpx.AsyncClient) -> str:
    """A case of Zack's district the feed has projected, once his token is known."""
    token = ApiToken(
        token_id="t-zack-morris",
        sha256=hash_token(zack["Authorization"].removeprefix("Bearer ")),
        subject_kind=ActorKind.CONTACT,
        subject_id=ZACK.id,
    )
    await bus.directory(
        [AccountUpserted(account=BAYSIDE), ContactUpserted(contact=ZACK), TokenIssued(token=token)]
    )
    case = uuid4()
    author = Actor(kind=ActorKind.CONTACT, id=ZACK.id, name=ZACK.display_name)
    await bus.case_events(
        question_events(
            case,
            number=7_000_001,
            account_id=BAYSIDE.id,
            contact=author,
            subject="Teachers unable to post grades",
            at=T0,
            description="The Post button is greyed out.",
        )
    )

    async def projected() -> bool:
        return (await http.get(f"/cases/{case}", headers=zack)).status_code == 200

    await eventually(projected)
    return str(case)


async def _spec(http: httpx.AsyncClient) -> dict[str, Any]:
    spec: dict[str, Any] = (await http.get("/openapi.json")).raise_for_status().json()
    return spec


def _query_examples(spec: dict[str, Any], path: str) -> list[tuple[str, str]]:
    """Each documented (parameter, value) of an operation's query, as a client sends it."""
    found = []
    for parameter in spec["paths"][path]["get"].get("parameters", []):
        for example in parameter.get("examples", {}).values():
            value = example["value"]
            text = str(value).lower() if isinstance(value, bool) else str(value)
            found.append((parameter["name"], text))
    return found


async def test_each_documented_case_filter_is_accepted(
    http: httpx.AsyncClient, zack: dict[str, str], case_id: str
) -> None:
    """Every example value of the case list's query parameters answers 200 on its own."""
    examples = _query_examples(await _spec(http), "/cases")
    assert len(examples) >= 12
    refused = []
    for name, value in examples:
        answer = await http.get("/cases", params={name: value}, headers=zack)
        if answer.status_code != 200:
            refused.append((name, value, answer.status_code, answer.text[:200]))
    assert refused == []


async def test_the_documented_filter_query_finds_the_case(
    http: httpx.AsyncClient, zack: dict[str, str], case_id: str
) -> None:
    """The query the list's description shows answers 200 and finds the seed-like case."""
    description = (await _spec(http))["paths"]["/cases"]["get"]["description"]
    (url,) = re.findall(r"`GET (/cases\?[^`]+)`", description)
    params = dict(parse_qsl(urlsplit(url).query))
    assert params["subject"] == "grades"
    params["status"] = "New"  # the query asks for Assigned cases; this one is routed, not taken
    answer = await http.get("/cases", params=params, headers=zack)
    assert answer.status_code == 200
    assert case_id in [item["case_id"] for item in answer.json()["items"]]


async def test_documented_feed_search_and_outcome_wait_are_accepted(
    http: httpx.AsyncClient, zack: dict[str, str], case_id: str
) -> None:
    """The feed's `q` example and the outcome's `wait` example answer 200 on a real case."""
    spec = await _spec(http)
    for name, value in _query_examples(spec, "/cases/{case_ref}/feed"):
        answer = await http.get(f"/cases/{case_id}/feed", params={name: value}, headers=zack)
        assert answer.status_code == 200, (name, value, answer.text)
    path = "/cases/{case_ref}/commands/{command_id}"
    (wait,) = _query_examples(spec, path)
    assert wait == ("wait", "5")
    # A command nobody sent stays pending: the documented wait runs out, and answers so.
    url = f"/cases/{case_id}/commands/{uuid4()}"
    answer = await http.get(url, params=dict([wait]), headers=zack)
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "pending"
