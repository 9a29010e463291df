"""The queue's case type, subject, customer-replied filters, column sorts and counts on the
real stack, over more items than one page (routing's limit is 200)."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from routing.settings import Settings
from shared.directory import directory_key, hash_token, new_token
from shared.enums import ActorKind, CaseType, Department, Priority
from shared.events import ApiToken, CaseSubmitted, PostAdded, StaffMember, TokenIssued
from tests.integration.routing.conftest import CONTACT, Bus, submitted

Headers = dict[str, str]
HOSTING = "/queues/hosting"
BULK = 250  # more than the 200 items one page may hold
HOLLY = StaffMember(
    id="h-holly-filters",
    name="Holly Host",
    email="holly.filters@example.com",
    departments=[Department.HOSTING],
)
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def holly(bus: Bus, routing_settings: Settings) -> Headers:
    """A Hosting engineer known to routing, with a bearer token."""
    await bus.enlist(HOLLY)
    token = new_token()
    record = ApiToken(
        token_id=f"tok-{HOLLY.id}",
        sha256=hash_token(token),
        subject_kind=ActorKind.STAFF,
        subject_id=HOLLY.id,
    )
    issued = TokenIssued(token=record)
    await bus.send(routing_settings.topics.directory, issued, directory_key(issued))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def seeded(bus: Bus, api: httpx.AsyncClient, holly: Headers) -> dict[str, Any]:
    """250 Medium Server Issue cases and, created last, one Low Data Restore case (the
    needle) whose contact replied: in work order the needle comes after all 250."""
    tag = uuid4().hex[:10]
    bulk = [
        submitted(
            CaseType.SERVER_ISSUE,
            case_number=8_000_000 + i,
            subject=f"Nightly export {tag} failed run {i}",
            occurred_at=T0 + timedelta(minutes=i),
        )
        for i in range(BULK)
    ]
    needle = submitted(
        CaseType.DATA_RESTORE,
        case_number=8_000_000 + BULK,
        priority=Priority.LOW,
        subject=f"Restore {tag} GRADEBOOK snapshot",
        occurred_at=T0 + timedelta(minutes=BULK),
    )
    for event in [*bulk, needle]:
        await bus.submit(event)
    reply = PostAdded(
        case_id=needle.case_id,
        post_id=uuid4(),
        author=CONTACT,
        body_html="<p>Any news?</p>",
        body_text="Any news?",
    )
    await bus.send(bus.topics.case_events, reply, needle.case_id)
    await bus.wait(lambda: bool(bus.of_case(needle.case_id, "case.post_added")), what="reply")
    await _until_counted(api, holly, {"subject": tag}, BULK + 1)
    await _until_counted(api, holly, {"subject": tag, "customer_replied": "true"}, 1)
    return {"tag": tag, "needle": needle, "bulk": bulk}


async def _until_counted(
    api: httpx.AsyncClient, headers: Headers, params: dict[str, str], total: int
) -> None:
    for _ in range(600):
        answer = await api.get(f"{HOSTING}/counts", headers=headers, params=params)
        if answer.status_code == 200 and answer.json()["total"] == total:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"the queue never counted {total} for {params}: {answer.text[:300]}")


async def _numbers(api: httpx.AsyncClient, headers: Headers, **params: str) -> list[int]:
    answer = await api.get(HOSTING, headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    return [item["case_number"] for item in answer.json()]


async def test_filters_find_an_item_beyond_the_first_page(
    api: httpx.AsyncClient, holly: Headers, seeded: dict[str, Any]
) -> None:
    """The needle is not among the first 200 in work order, yet the subject, case type and
    customer-replied filters each find it on their first page."""
    needle: CaseSubmitted = seeded["needle"]
    tag = seeded["tag"]
    first_page = await _numbers(api, holly, subject=tag, limit="200")
    assert len(first_page) == 200
    assert needle.case_number not in first_page
    # Every word, in any case, anywhere in the subject.
    assert await _numbers(api, holly, subject=f"gradebook {tag.upper()}") == [needle.case_number]
    assert needle.case_number in await _numbers(api, holly, case_type="Data Restore", limit="200")
    replied = await _numbers(api, holly, subject=tag, customer_replied="true")
    assert replied == [needle.case_number]
    not_replied = await _numbers(api, holly, subject=tag, customer_replied="false", limit="200")
    assert len(not_replied) == 200
    assert needle.case_number not in not_replied
    # A word is taken literally, not as a pattern.
    assert await _numbers(api, holly, subject=f"{tag} .*") == []


async def test_counts_and_pages_cover_every_item(
    api: httpx.AsyncClient, holly: Headers, seeded: dict[str, Any]
) -> None:
    """Counts give the true total per status; two pages hold all 251 items, none twice."""
    tag = seeded["tag"]
    counts = (await api.get(f"{HOSTING}/counts", headers=holly, params={"subject": tag})).json()
    assert counts == {"total": BULK + 1, "statuses": [{"status": "New", "count": BULK + 1}]}
    by_type = await api.get(
        f"{HOSTING}/counts", headers=holly, params={"subject": tag, "case_type": "Server Issue"}
    )
    assert by_type.json()["total"] == BULK
    first = await _numbers(api, holly, subject=tag, limit="200")
    second = await _numbers(api, holly, subject=tag, limit="200", offset="200")
    assert len(second) == BULK + 1 - 200
    assert set(first) | set(second) == {8_000_000 + i for i in range(BULK + 1)}


async def test_sorts_by_a_column_in_mongo(
    api: httpx.AsyncClient, holly: Headers, seeded: dict[str, Any]
) -> None:
    """By number descending the needle (highest number) leads; by subject the 'Nightly'
    cases come before 'Restore'; work order reversed puts the Low needle first."""
    tag, needle = seeded["tag"], seeded["needle"]
    newest = await _numbers(api, holly, subject=tag, sort="number", order="desc", limit="3")
    assert newest == [needle.case_number, 8_000_000 + BULK - 1, 8_000_000 + BULK - 2]
    by_subject = await api.get(
        HOSTING, headers=holly, params={"subject": tag, "sort": "subject", "order": "desc"}
    )
    assert by_subject.json()[0]["subject"].startswith("Restore")
    reversed_work = await _numbers(api, holly, subject=tag, order="desc", limit="1")
    assert reversed_work == [needle.case_number]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"case_type": "Lost Keys"}, "case_type"),
        ({"customer_replied": "maybe"}, "customer_replied"),
        ({"sort": "colour"}, "sort"),
        ({"order": "sideways"}, "order"),
        ({"subject": "x" * 201}, "subject"),
    ],
)
async def test_bad_filter_values_are_422_problems(
    api: httpx.AsyncClient, holly: Headers, params: dict[str, str], field: str
) -> None:
    """An unknown case type, sort or order, a non-boolean flag or an overlong subject: 422
    problem details naming the parameter, on the list and (its filters) the counts."""
    for path in (HOSTING, f"{HOSTING}/counts"):
        if path.endswith("counts") and field in ("sort", "order"):
            continue
        answer = await api.get(path, headers=holly, params=params)
        assert answer.status_code == 422, (path, params, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert field in answer.text


async def test_too_many_subject_words_and_contradictions_are_422(
    api: httpx.AsyncClient, holly: Headers
) -> None:
    """Nine subject words, or assignee with unassigned, are refused with the reason."""
    many = await api.get(HOSTING, headers=holly, params={"subject": " ".join("abcdefghi")})
    assert (many.status_code, "at most 8 words" in many.json()["detail"]) == (422, True)
    both = await api.get(
        f"{HOSTING}/counts", headers=holly, params={"assignee": "x", "unassigned": "true"}
    )
    assert (both.status_code, "exclude each other" in both.json()["detail"]) == (422, True)
