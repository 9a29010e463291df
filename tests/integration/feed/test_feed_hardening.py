"""The feed on the real stack answers edge input with a clear 4xx or the right cases, never a
500, and shows a staff transfer with its reason to the contact."""

from datetime import timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import httpx
import pytest

from feed.api import MAX_PAGE
from shared.enums import ActorKind, Department
from shared.events import CaseAssigned, CaseRouted
from shared.messages import Actor, Message, StaffRef
from tests.integration.feed.conftest import (
    DISTRICT_A,
    T0,
    Bus,
    auth,
    directory_events,
    eventually,
    question_events,
)

pytestmark = pytest.mark.timeout(300)
TOP, BELOW_SURROGATES, AFTER_SURROGATES = "\U0010ffff", "\ud7ff", "\ue000"
PAT = Actor(kind=ActorKind.STAFF, id="s-pat", name="Pat Support")
# Subjects and contact names at the edges of Unicode: the last code point, the one before
# the surrogates and the first after them; and a subject holding a NUL.
EDGES = [
    (f"{TOP} top of unicode", f"{TOP}Top Contact"),
    (f"{BELOW_SURROGATES} below the surrogates", f"{BELOW_SURROGATES}Below Contact"),
    (f"{AFTER_SURROGATES} after the surrogates", f"{AFTER_SURROGATES}After Contact"),
    ("nul \x00 inside", "Nul Contact"),
]
NUMBER = 7_300_000
TRANSFER_REASON = "The district's server is down: this is a hosting matter"


def case_id_of(i: int) -> UUID:
    """The id of edge case `i`."""
    return uuid5(NAMESPACE_URL, f"feed-hardening/{i}")


def edge_case(i: int, subject: str, contact_name: str) -> list[Message]:
    """A submitted and routed Campus Support case of district A."""
    case_id = case_id_of(i)
    # No directory entry for the contact: the feed names them as the submission does.
    contact = Actor(kind=ActorKind.CONTACT, id=f"c-edge-{i}", name=contact_name)
    return question_events(
        case_id,
        number=NUMBER + i,
        account_id=DISTRICT_A,
        contact=contact,
        subject=subject,
        at=T0 + timedelta(minutes=i),
        description="edge input",
    )


def transfer_events(case_id: UUID) -> list[Message]:
    """Pat takes the case, then transfers it to Hosting with a reason (as routing says it)."""
    at = T0 + timedelta(hours=1)
    assigned = CaseAssigned(
        event_id=uuid5(case_id, "assigned"),
        occurred_at=at,
        case_id=case_id,
        department=Department.CAMPUS_SUPPORT,
        assignee=StaffRef(id=PAT.id, name=PAT.name),
        actor=PAT,
    )
    transferred = CaseRouted(
        event_id=uuid5(case_id, "transferred"),
        occurred_at=at + timedelta(minutes=1),
        case_id=case_id,
        department=Department.HOSTING,
        billable=False,
        queue="hosting",
        actor=PAT,
        reason=TRANSFER_REASON,
        previous_department=Department.CAMPUS_SUPPORT,
        previous_assignee=StaffRef(id=PAT.id, name=PAT.name),
    )
    return [assigned, transferred]


@pytest.fixture(scope="module")
async def loaded(bus: Bus, http: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    """The directory, the edge cases and a transfer, projected."""
    await bus.directory(directory_events(tokens))

    async def authorized() -> bool:
        return (await http.get("/cases", headers=auth(tokens["zack"]))).status_code == 200

    await eventually(authorized)
    events = [e for i, (s, c) in enumerate(EDGES) for e in edge_case(i, s, c)]
    await bus.case_events([*events, *transfer_events(case_id_of(0))])

    async def projected() -> bool:
        response = await http.get(f"/cases/{case_id_of(0)}", headers=auth(tokens["zack"]))
        owner = response.json().get("owner") or {} if response.status_code == 200 else {}
        listed = await http.get("/cases", headers=auth(tokens["zack"]))
        return owner.get("name") == Department.HOSTING.value and listed.json()["total"] == len(
            EDGES
        )

    await eventually(projected)


async def _get(http: httpx.AsyncClient, tokens: dict[str, str], url: str) -> httpx.Response:
    return await http.get(url, headers=auth(tokens["zack"]))


def _numbers(response: httpx.Response) -> set[int]:
    assert response.status_code == 200, response.text
    return {item["number"] for item in response.json()["items"]}


@pytest.mark.usefixtures("loaded")
@pytest.mark.parametrize(
    ("field", "encoded", "expected"),
    [
        ("subject", "%F4%8F%BF%BF", {NUMBER}),  # U+10FFFF: no character above it
        ("subject", "%ED%9F%BF", {NUMBER + 1}),  # U+D7FF: the next code point is a surrogate
        ("contact", "%F4%8F%BF%BF", {NUMBER}),
        ("contact", "%ED%9F%BF", {NUMBER + 1}),
    ],
)
async def test_prefix_filters_at_the_edges_of_unicode_find_their_cases(
    http: httpx.AsyncClient, tokens: dict[str, str], field: str, encoded: str, expected: set[int]
) -> None:
    """A starts-with filter on the last code point, or on the one before the surrogates,
    answers 200 with exactly the cases starting with it."""
    response = await _get(http, tokens, f"/cases?{field}={encoded}")
    assert _numbers(response) == expected


@pytest.mark.usefixtures("loaded")
async def test_filters_holding_a_nul_answer_200(
    http: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """A subject filter holding a NUL compares literally with every operator."""
    nul = "%00"
    everyone = {NUMBER + i for i in range(len(EDGES))}
    not_containing = await _get(http, tokens, f"/cases?subject={nul}&subject_op=not_contains")
    assert _numbers(not_containing) == everyone - {NUMBER + 3}
    for op in ("contains", "ends_with", "starts_with", "equals"):
        found = await _get(http, tokens, f"/cases?subject=nul%20{nul}&subject_op={op}")
        assert _numbers(found) == ({NUMBER + 3} if op in ("contains", "starts_with") else set())


@pytest.mark.usefixtures("loaded")
@pytest.mark.parametrize(
    "ref",
    [
        "99999999999999999999",  # above 64 bits
        "9" * 8000,
        "%C2%B2",  # "²": str.isdigit() says yes, int() says no
        "%E2%91%A0",  # "①"
        "0",
        "{" + "0" * 60 + "}",
    ],
)
async def test_case_refs_that_name_no_case_are_404_with_a_short_message(
    http: httpx.AsyncClient, tokens: dict[str, str], ref: str
) -> None:
    """A ref that cannot be a case number or id is not found, on the detail and the feed,
    and the message quotes only the start of it."""
    for url in (f"/cases/{ref}", f"/cases/{ref}/feed"):
        response = await _get(http, tokens, url)
        assert response.status_code == 404, (url[:60], response.text[:300])
        assert "case_ref" in response.text
        assert len(response.text) < 1_000


@pytest.mark.usefixtures("loaded")
async def test_case_numbers_and_ids_still_resolve(
    http: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """The same case by its number, its number with leading zeros, and its id."""
    for ref in (str(NUMBER + 1), f"000{NUMBER + 1}", str(case_id_of(1))):
        response = await _get(http, tokens, f"/cases/{ref}")
        assert (response.status_code, response.json()["number"]) == (200, NUMBER + 1)


@pytest.mark.usefixtures("loaded")
@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/cases?page=1000000000000000000&sort=subject", "page"),
        ("/cases?page=100000000000000000&page_size=200&status=New", "page"),
        ("/cases?page=100000000000000000&page_size=200", "page"),
        ("/cases/1/feed?page=100000000000000000", "page"),
        ("/cases?page=99999999999999999999999", "page"),
        ("/cases?last_modified=9999-12-31", "last_modified"),
        ("/cases?last_modified=0001-01-01&tz=Asia/Tokyo", "last_modified"),
        ("/cases?number=%D9%A1", "number"),  # an Arabic-Indic digit one
        ("/cases?tz=" + "A" * 5000, "tz"),
        ("/cases?account_id=" + "a" * 5000, "account_id"),
    ],
)
async def test_out_of_range_parameters_are_422_naming_the_field(
    http: httpx.AsyncClient, tokens: dict[str, str], url: str, field: str
) -> None:
    """Pages past what Mongo can skip, days without a UTC range, non-ASCII digits and
    overlong names are 422 naming the parameter, never a 500."""
    response = await _get(http, tokens, url)
    assert response.status_code == 422, response.text[:300]
    assert field in response.text


@pytest.mark.usefixtures("loaded")
async def test_the_last_page_allowed_answers_empty(
    http: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """The highest page with the largest page size is within Mongo's skip: an empty page."""
    for query in ("sort=subject", "status=New", "subject=e&subject_op=contains", ""):
        url = f"/cases?page={MAX_PAGE}&page_size=200&{query}"
        response = await _get(http, tokens, url)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert (body["page"], body["items"]) == (MAX_PAGE, [])


@pytest.mark.usefixtures("loaded")
async def test_a_transfer_shows_on_the_feed_with_its_reason_for_the_contact(
    http: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """The contact reads who moved the case to which department and why; the case is owned
    by the new department's queue."""
    case = (await _get(http, tokens, f"/cases/{case_id_of(0)}")).json()
    assert case["owner"] == {
        "kind": "department",
        "name": Department.HOSTING.value,
        "department": Department.HOSTING.value,
        "staff_id": None,
    }
    feed = (await _get(http, tokens, f"/cases/{case_id_of(0)}/feed?sort=newest")).json()
    newest = feed["items"][0]
    assert newest["headline"] == "Pat Support (Support) updated this record."
    assert newest["lines"] == [
        "Case Owner Pat Support to Hosting / Technical Support",
        f"Transferred from Campus Support to Hosting / Technical Support: {TRANSFER_REASON}",
    ]
    found = (await _get(http, tokens, f"/cases/{case_id_of(0)}/feed?q=hosting%20matter")).json()
    assert found["total"] == 1
