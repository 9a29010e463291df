"""The case list's `contact` filter takes a contact's id as well as their name (real stack)."""

from datetime import timedelta
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import httpx
import pytest

from shared.directory import hash_token
from shared.enums import ActorKind, ContactType, Department
from shared.events import (
    Account,
    AccountUpserted,
    ApiToken,
    Contact,
    ContactUpserted,
    StaffMember,
    StaffUpserted,
    TokenIssued,
)
from shared.messages import Actor, Message
from tests.integration.feed.conftest import T0, Bus, auth, eventually, question_events

pytestmark = pytest.mark.timeout(300)
# The seed's people (deploy/seed/directory.json).
ZACK = ("zack-morris", "Zack", "Morris (TESTING)", ["bayside"])
LISA = ("lisa-turtle", "Lisa", "Turtle (TESTING)", ["bayside"])
SPICOLI = ("jeff-spicoli", "Jeff", "Spicoli (TESTING)", ["ridgemont"])
NUMBER = 8_100_000
# (number, contact id, district): two cases of Zack's, one of Lisa's, one of Jeff's.
CASES = [
    (NUMBER, "zack-morris", "bayside"),
    (NUMBER + 1, "lisa-turtle", "bayside"),
    (NUMBER + 2, "zack-morris", "bayside"),
    (NUMBER + 3, "jeff-spicoli", "ridgemont"),
]


@pytest.fixture(scope="module")
def seed_tokens() -> dict[str, str]:
    """Fresh bearer tokens of Zack Morris, Jeff Spicoli and Pat Support."""
    return {who: f"tok-{who}-{uuid4().hex}" for who in ("zack-morris", "jeff-spicoli", "staff")}


def directory(tokens: dict[str, str]) -> list[Message]:
    """Bayside and Ridgemont, their contacts, Pat Support and the tokens."""
    events: list[Message] = [
        AccountUpserted(account=Account(id="bayside", name="Bayside School (TESTING)")),
        AccountUpserted(account=Account(id="ridgemont", name="Ridgemont High (TESTING)")),
        StaffUpserted(
            staff=StaffMember(
                id="staff-support",
                name="Pat Support",
                email="pat.support@vendor.example",
                departments=[Department.CAMPUS_SUPPORT],
            )
        ),
    ]
    for cid, first, last, accounts in (ZACK, LISA, SPICOLI):
        contact = Contact(
            id=cid,
            first_name=first,
            last_name=last,
            email=f"{cid}@example.org",
            contact_type=ContactType.AUTHORIZED_SUPPORT,
            account_ids=accounts,
        )
        events.append(ContactUpserted(contact=contact))
    subjects = {
        "zack-morris": ActorKind.CONTACT,
        "jeff-spicoli": ActorKind.CONTACT,
        "staff": ActorKind.STAFF,
    }
    for who, kind in subjects.items():
        subject_id = "staff-support" if who == "staff" else who
        token = ApiToken(
            token_id=f"t-{who}",
            sha256=hash_token(tokens[who]),
            subject_kind=kind,
            subject_id=subject_id,
        )
        events.append(TokenIssued(token=token))
    return events


def case_events(i: int, number: int, contact_id: str, account_id: str) -> list[Message]:
    """A submitted and routed question of `contact_id`."""
    case_id = uuid5(NAMESPACE_URL, f"contact-filter/{number}")
    contact = Actor(kind=ActorKind.CONTACT, id=contact_id, name=contact_id)
    return question_events(
        case_id,
        number=number,
        account_id=account_id,
        contact=contact,
        subject=f"Question {number}",
        at=T0 + timedelta(minutes=i),
        description="contact filter",
    )


def case_id_of(number: int) -> UUID:
    """The id of the fixture case with this number."""
    return uuid5(NAMESPACE_URL, f"contact-filter/{number}")


@pytest.fixture(scope="module")
async def loaded(bus: Bus, http: httpx.AsyncClient, seed_tokens: dict[str, str]) -> None:
    """The directory first (so submissions carry names), then the cases, projected."""
    await bus.directory(directory(seed_tokens))

    async def authorized() -> bool:
        answer = await http.get("/cases", headers=auth(seed_tokens["staff"]))
        return answer.status_code == 200

    await eventually(authorized)
    await bus.case_events([e for i, c in enumerate(CASES) for e in case_events(i, *c)])

    async def projected() -> bool:
        listed = await http.get("/cases", headers=auth(seed_tokens["staff"]))
        names = {item["contact_name"] for item in listed.json()["items"]}
        return names == {"Zack Morris (TESTING)", "Lisa Turtle (TESTING)", "Jeff Spicoli (TESTING)"}

    await eventually(projected)


async def _numbers(http: httpx.AsyncClient, token: str, contact: str) -> list[int]:
    params = {"contact": contact, "sort": "case_number", "order": "asc"}
    answer = await http.get("/cases", params=params, headers=auth(token))
    assert answer.status_code == 200, answer.text
    return [item["number"] for item in answer.json()["items"]]


@pytest.mark.usefixtures("loaded")
async def test_contact_filter_by_id(http: httpx.AsyncClient, seed_tokens: dict[str, str]) -> None:
    """?contact=zack-morris lists Zack's two cases, ?contact=lisa-turtle Lisa's one."""
    zack = seed_tokens["zack-morris"]
    assert await _numbers(http, zack, "zack-morris") == [NUMBER, NUMBER + 2]
    assert await _numbers(http, zack, "lisa-turtle") == [NUMBER + 1]


@pytest.mark.usefixtures("loaded")
async def test_contact_filter_by_name_still_works(
    http: httpx.AsyncClient, seed_tokens: dict[str, str]
) -> None:
    """The start of a name, in any case, still filters as before."""
    zack = seed_tokens["zack-morris"]
    assert await _numbers(http, zack, "lisa") == [NUMBER + 1]
    assert await _numbers(http, zack, "Zack Morris") == [NUMBER, NUMBER + 2]


@pytest.mark.usefixtures("loaded")
async def test_contact_id_of_another_district_finds_nothing(
    http: httpx.AsyncClient, seed_tokens: dict[str, str]
) -> None:
    """Zack asking for Jeff Spicoli's id sees none of Ridgemont's cases; staff see Jeff's."""
    assert await _numbers(http, seed_tokens["zack-morris"], "jeff-spicoli") == []
    assert await _numbers(http, seed_tokens["staff"], "jeff-spicoli") == [NUMBER + 3]
    assert await _numbers(http, seed_tokens["jeff-spicoli"], "jeff-spicoli") == [NUMBER + 3]
