"""The feed read model on the real stack: projection, list filters, detail, feed, auth, rebuild."""

import asyncio
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from feed.logic import (
    BUCKET_SIZE,
    CaseFilter,
    SortKey,
    Subject,
    SubjectOp,
    contained_needle,
    plan_among,
    plan_query,
    postings,
)
from feed.settings import Settings
from feed.store import (
    FORMER_GRAMS_INDEX,
    POSTING_CHUNK,
    CaseStore,
    DistrictStore,
    SubjectStore,
)
from shared.enums import ActorKind, NoticeKind, NoticeStatus, Status
from shared.events import (
    Notice,
    NoticePublished,
    NoticeResolved,
    NoticeUpdated,
    PostAdded,
)
from shared.messages import Actor, Message
from tests.integration.feed.conftest import (
    DISTRICT_A,
    Bus,
    Expected,
    auth,
    directory_events,
    eventually,
    expected_postings,
    fixture_cases,
    stored_postings,
    subjects_of,
)

# Projecting ~900 events can take minutes when the shared machine is busy.
pytestmark = pytest.mark.timeout(900)
CASES = fixture_cases()
MINE = [c for c in CASES if c.account_id == DISTRICT_A]
CHICAGO = ZoneInfo("America/Chicago")


def all_events() -> list[Message]:
    """Every case event of the fixture, case by case."""
    return [event for case in CASES for event in case.events]


@pytest.fixture(scope="module")
async def loaded(
    bus: Bus, http: httpx.AsyncClient, tokens: dict[str, str], mongo_db: AsyncDatabase[Any]
) -> None:
    """Directory and all fixture events published, and projected."""
    await bus.directory(directory_events(tokens))

    async def authorized() -> bool:
        return (await http.get("/cases", headers=auth(tokens["staff"]))).status_code == 200

    await eventually(authorized)
    await bus.case_events(all_events())
    expected = len(all_events())

    async def projected() -> bool:
        return await feed_item_count(mongo_db) >= expected

    await eventually(projected, deadline_s=600)


async def feed_item_count(db: AsyncDatabase[Any]) -> int:
    """How many feed items all cases hold."""
    return sum([len(doc["items"]) async for doc in db["feeds"].find({})])


async def listing(http: httpx.AsyncClient, token: str, **params: Any) -> dict[str, Any]:
    """GET /cases with the params, asserting 200."""
    response = await http.get("/cases", params=params, headers=auth(token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def numbers_of(http: httpx.AsyncClient, token: str, **params: Any) -> set[int]:
    """Every case number the filter returns, across pages of 200."""
    found: set[int] = set()
    page = 1
    while True:
        body = await listing(http, token, page=page, page_size=200, **params)
        found |= {item["number"] for item in body["items"]}
        if page >= body["pages"]:
            return found
        page += 1


def local_day(case: Expected) -> date:
    """The case's last-modified day in Central time."""
    return case.last_modified.astimezone(CHICAGO).date()


FILTERS: list[tuple[str, dict[str, Any], Any]] = [
    ("number starts with", {"number": "11210"}, lambda c: str(c.number).startswith("11210")),
    (
        "subject equals",
        {"subject": "snow day", "subject_op": "equals"},
        lambda c: c.subject.lower() == "snow day",
    ),
    (
        "subject not equals",
        {"subject": "Snow Day", "subject_op": "not_equals"},
        lambda c: c.subject.lower() != "snow day",
    ),
    (
        "subject starts with",
        {"subject": "grade book", "subject_op": "starts_with"},
        lambda c: c.subject.lower().startswith("grade book"),
    ),
    (
        "subject ends with",
        {"subject": "ISSUES", "subject_op": "ends_with"},
        lambda c: c.subject.lower().endswith("issues"),
    ),
    (
        "subject contains",
        {"subject": "book", "subject_op": "contains"},
        lambda c: "book" in c.subject.lower(),
    ),
    (
        "subject contains regex chars",
        {"subject": "[draft] 50%", "subject_op": "contains"},
        lambda c: "[draft] 50%" in c.subject.lower(),
    ),
    (
        "subject contains dot star",
        {"subject": "gpa.*", "subject_op": "contains"},
        lambda c: "gpa.*" in c.subject.lower(),
    ),
    (
        "subject does not contain",
        {"subject": "day", "subject_op": "not_contains"},
        lambda c: "day" not in c.subject.lower(),
    ),
    (
        "subject contains across words",
        {"subject": "K EXP", "subject_op": "contains"},
        lambda c: "k exp" in c.subject.lower(),
    ),
    (
        "subject contains two characters",
        {"subject": "Bo", "subject_op": "contains"},
        lambda c: "bo" in c.subject.lower(),
    ),
    (
        "subject contains one metacharacter",
        {"subject": "%", "subject_op": "contains"},
        lambda c: "%" in c.subject.lower(),
    ),
    (
        "subject contains short dot star",
        {"subject": ".*", "subject_op": "contains"},
        lambda c: ".*" in c.subject.lower(),
    ),
    (
        "subject contains unicode uppercase",
        {"subject": "ärger café", "subject_op": "contains"},
        lambda c: "ärger café" in c.subject.lower(),
    ),
    (
        "subject contains dotted capital i",
        {"subject": "İST", "subject_op": "contains"},
        lambda c: "İST".lower() in c.subject.lower(),
    ),
    (
        "subject contains sharp s",
        {"subject": "STRAßE", "subject_op": "contains"},
        lambda c: "straße" in c.subject.lower(),
    ),
    (
        "subject does not contain unicode",
        {"subject": "CAFÉ", "subject_op": "not_contains"},
        lambda c: "café" not in c.subject.lower(),
    ),
    (
        "subject does not contain regex chars",
        {"subject": "(urgent)", "subject_op": "not_contains"},
        lambda c: "(urgent)" not in c.subject.lower(),
    ),
    (
        "subject does not contain two characters",
        {"subject": "DA", "subject_op": "not_contains"},
        lambda c: "da" not in c.subject.lower(),
    ),
    ("status", {"status": "Assigned"}, lambda c: c.status == "Assigned"),
    ("priority", {"priority": "High"}, lambda c: c.priority == "High"),
    ("module", {"module": "Grade Book"}, lambda c: c.module == "Grade Book"),
    ("case type", {"case_type": "Data Restore"}, lambda c: c.case_type == "Data Restore"),
    ("contact starts with", {"contact": "lisa"}, lambda c: c.contact.lower().startswith("lisa")),
    ("closed", {"closed": "true"}, lambda c: c.closed),
    ("open", {"closed": "false"}, lambda c: not c.closed),
    (
        "last modified on",
        {"last_modified": MINE[40].last_modified.astimezone(CHICAGO).date().isoformat()},
        lambda c: local_day(c) == local_day(MINE[40]),
    ),
    (
        "status and priority",
        {"status": "Closed", "priority": "Low"},
        lambda c: c.status == "Closed" and c.priority == "Low",
    ),
    (
        "contains and open and module",
        {"subject": "e", "subject_op": "contains", "closed": "false", "module": "Attendance"},
        lambda c: "e" in c.subject.lower() and not c.closed and c.module == "Attendance",
    ),
    (
        "two-character contains and priority",
        {"subject": "Ok", "subject_op": "contains", "priority": "High"},
        lambda c: "ok" in c.subject.lower() and c.priority == "High",
    ),
    (
        "contains and contact starts with",
        {"subject": "grade", "subject_op": "contains", "contact": "lisa"},
        lambda c: "grade" in c.subject.lower() and c.contact.lower().startswith("lisa"),
    ),
    (
        "two-character contains across words",
        {"subject": "K ", "subject_op": "contains"},
        lambda c: "k " in c.subject.lower(),
    ),
    (
        "number and contact",
        {"number": "1121", "contact": "zack"},
        lambda c: str(c.number).startswith("1121") and c.contact.startswith("Zack"),
    ),
    (
        "type and not contains and status",
        {
            "case_type": "Ask a Question",
            "subject": "snow",
            "subject_op": "not_contains",
            "status": "New",
        },
        lambda c: (
            c.case_type == "Ask a Question"
            and "snow" not in c.subject.lower()
            and c.status == "New"
        ),
    ),
]


@pytest.mark.usefixtures("loaded")
async def test_events_appear_in_list_and_detail(
    http: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """Published events show up in the district's list and in the case detail with its feed."""
    body = await listing(http, tokens["zack"])
    assert body["total"] == len(MINE)
    case = next(c for c in MINE if c.status == "Pending Customer Verification")
    detail = (await http.get(f"/cases/{case.number}", headers=auth(tokens["zack"]))).json()
    assert detail["case_id"] == case.case_id
    assert detail["status"] == "Pending Customer Verification"
    assert detail["resolution"] == "Fixed the calendar"
    assert detail["account_name"] == "Bayside School (TESTING)"
    assert detail["owner"]["name"] == "Richard Belding"
    headlines = [i["headline"] for i in detail["feed"]["items"]]
    assert headlines[-1] == f"{case.contact} (Customer) created this case."


@pytest.mark.usefixtures("loaded")
@pytest.mark.parametrize(("name", "params", "predicate"), FILTERS, ids=[f[0] for f in FILTERS])
async def test_filter_returns_exactly_the_expected_cases(
    http: httpx.AsyncClient,
    tokens: dict[str, str],
    name: str,
    params: dict[str, Any],
    predicate: Any,
) -> None:
    """Each filter (and combination) returns exactly the district's cases that satisfy it."""
    expected = {c.number for c in MINE if predicate(c)}
    assert expected, f"fixture has no case for {name}"
    assert await numbers_of(http, tokens["zack"], **params) == expected


@pytest.mark.usefixtures("loaded")
@pytest.mark.parametrize(("name", "params", "predicate"), FILTERS, ids=[f[0] for f in FILTERS])
async def test_every_filter_is_served_by_an_index(
    feed_settings: Settings,
    mongo_db: AsyncDatabase[Any],
    name: str,
    params: dict[str, Any],
    predicate: Any,
) -> None:
    """The server's winning plan for each filter's case read, scoped to a district or not, is
    no COLLSCAN; a contains reads its matches by id."""
    flt = _filter_of(params)
    store, subjects = CaseStore(mongo_db), SubjectStore(mongo_db)
    for scope in ([DISTRICT_A], None):
        needle = contained_needle(flt)
        if needle is None:
            query = plan_query(flt, scope, SortKey.LAST_MODIFIED, True)
        else:
            ids = await subjects.containing(scope, needle)
            query = plan_among(flt, ids, SortKey.LAST_MODIFIED, True)
        text = _winning(await store.explain(query))
        assert "IXSCAN" in text, (name, scope, text)
        assert "COLLSCAN" not in text, (name, scope, text)


def _winning(plan: dict[str, Any]) -> str:
    return json.dumps(plan["queryPlanner"]["winningPlan"], default=str)


@pytest.mark.usefixtures("loaded")
@pytest.mark.parametrize("needle", ["book", "[draft] 50%", "ärger", "İST", "bo", "% "])
async def test_subject_lookups_read_postings_through_an_index(
    mongo_db: AsyncDatabase[Any], needle: str
) -> None:
    """A subject lookup of two characters or more reads the gram's posting buckets on the
    (gram, district) index, in some districts or in all (staff), never scanning."""
    for scope in ([DISTRICT_A], [DISTRICT_A, "acc-other"], None):
        text = _winning(await SubjectStore(mongo_db).explain(scope, needle.lower()))
        assert "IXSCAN" in text, (needle, scope, text)
        assert '"keyPattern": {"gram": 1, "account_id": 1}' in text, (needle, scope, text)
        assert "COLLSCAN" not in text, (needle, scope, text)


@pytest.mark.usefixtures("loaded")
async def test_postings_hold_every_case_subject_and_cases_no_grams(
    mongo_db: AsyncDatabase[Any],
) -> None:
    """`subjects` holds each case's subject under each of its grams; cases hold no grams."""
    stored = await stored_postings(mongo_db["subjects"], BUCKET_SIZE)
    assert stored == expected_postings(subjects_of(CASES))
    assert await mongo_db["cases"].find_one({"subject_grams": {"$exists": True}}) is None
    assert FORMER_GRAMS_INDEX not in await mongo_db["cases"].index_information()


@pytest.mark.usefixtures("loaded")
@pytest.mark.parametrize(
    ("needle", "op", "sort", "order"),
    [
        ("day", "not_contains", "last_modified", "desc"),
        ("grade book", "not_contains", "last_modified", "desc"),
        ("e", "not_contains", "last_modified", "desc"),
        ("day", "not_contains", "subject", "asc"),
        ("book", "contains", "last_modified", "desc"),
        ("book", "contains", "contact", "desc"),
        ("book", "contains", "priority", "asc"),
        ("bo", "contains", "last_modified", "desc"),
        ("e", "contains", "last_modified", "desc"),
        ("da", "not_contains", "last_modified", "desc"),
    ],
)
async def test_subject_filters_page_in_order_with_exact_totals(
    http: httpx.AsyncClient, tokens: dict[str, str], needle: str, op: str, sort: str, order: str
) -> None:
    """Contains / does not contain: every page in the sort order, the total exact."""

    def keep(case: Expected) -> bool:
        return (needle in case.subject.lower()) is (op == "contains")

    key = SORTS[sort]
    cases = sorted(
        (c for c in MINE if keep(c)), key=lambda c: (key(c), c.number), reverse=order == "desc"
    )
    params = {"subject": needle, "subject_op": op, "sort": sort, "order": order}
    got: list[int] = []
    for page in range(1, 5):
        body = await listing(http, tokens["zack"], page=page, page_size=13, **params)
        assert body["total"] == len(cases)
        got += [i["number"] for i in body["items"]]
    assert got == [c.number for c in cases][: 4 * 13]


@pytest.mark.usefixtures("loaded")
@pytest.mark.parametrize(
    "params",
    [
        {"subject": "book", "subject_op": "contains", "status": "New"},
        {"subject": "book", "subject_op": "contains"},
        {"subject": "Bo", "subject_op": "contains", "sort": "subject"},
    ],
)
async def test_a_page_past_the_matches_keeps_the_exact_total(
    http: httpx.AsyncClient, tokens: dict[str, str], params: dict[str, Any]
) -> None:
    """A page past the last match is empty and still reports the filtered total."""
    status = params.get("status")
    needle = str(params["subject"]).lower()
    expected = [c for c in MINE if needle in c.subject.lower() and status in (None, c.status)]
    body = await listing(http, tokens["zack"], page=30, page_size=20, **params)
    assert (body["total"], body["items"]) == (len(expected), [])


@pytest.mark.usefixtures("loaded")
@pytest.mark.parametrize("op", ["contains", "not_contains"])
async def test_staff_subject_filters_span_every_district(
    http: httpx.AsyncClient, tokens: dict[str, str], op: str
) -> None:
    """Staff see every district's cases with or without the needle, newest first."""
    cases = [c for c in CASES if ("book" in c.subject.lower()) is (op == "contains")]
    newest = sorted(cases, key=lambda c: (c.last_modified, c.number), reverse=True)
    body = await listing(http, tokens["staff"], subject="book", subject_op=op, page_size=30)
    assert body["total"] == len(cases)
    assert [i["number"] for i in body["items"]] == [c.number for c in newest[:30]]


async def test_cases_stored_before_subjects_get_them_at_start(
    mongo_db: AsyncDatabase[Any],
) -> None:
    """Cases stored with the former in-case grams get their postings, and lose the former
    index, when the indexes are ensured; once built, a start reads one marker."""
    tag = uuid4().hex[:8]
    cases = CaseStore(mongo_db, name=f"cases_old_{tag}")
    districts = DistrictStore(mongo_db, name=f"districts_old_{tag}")
    subjects = SubjectStore(mongo_db, name=f"subjects_old_{tag}")
    old = [
        {"_id": "c-old", "account_id": "a-1", "subject_lc": "grade book", "subject_grams": []},
        {"_id": "c-bot", "account_id": "a-1", "subject_lc": "bot", "subject_grams": []},
        {"_id": "c-far", "account_id": "a-2", "subject_lc": "booking", "subject_grams": []},
    ]
    await cases.collection.insert_many(old)
    await cases.collection.create_index([("subject_grams", 1), ("account_id", 1)])
    await districts.add_all({"a-1": {"c-old", "c-bot"}, "a-2": {"c-far"}})
    await cases.ensure_indexes()
    await subjects.ensure_indexes()
    assert await subjects.backfill(cases, districts) == 3
    assert FORMER_GRAMS_INDEX not in await cases.collection.index_information()
    assert await subjects.containing(["a-1"], "book") == ["c-old"]
    assert sorted(await subjects.containing(["a-1"], "bo")) == ["c-bot", "c-old"]
    assert sorted(await subjects.containing(None, "boo")) == ["c-far", "c-old"]
    assert await subjects.backfill(cases, districts) == 0
    for store in (cases, districts, subjects):
        await store.collection.drop()


async def test_postings_of_many_subjects_are_entered_in_chunks_once(
    mongo_db: AsyncDatabase[Any],
) -> None:
    """Subjects whose postings outnumber one round trip's writes are all entered; entered
    again (a redelivery) or next to new ones, each posting keeps every subject once."""
    subjects = SubjectStore(mongo_db, name=f"subjects_many_{uuid4().hex[:8]}")
    await subjects.ensure_indexes()
    districts = [f"a-{k}" for k in range(8)]
    first = [Subject(f"c-{i}", f"a-{i % 8}", f"case {i:04d} about grade books") for i in range(40)]
    later = [Subject(f"c-{i}", f"a-{i % 8}", f"case {i:04d} about snow") for i in range(40, 60)]
    assert len(postings(first)) > POSTING_CHUNK
    await subjects.add_all(first)
    await subjects.add_all([*first, *later])
    found = await subjects.containing(districts, "grade b")
    assert sorted(found) == sorted(s.case_id for s in first)
    assert await subjects.containing(["a-1"], "0041") == ["c-41"]
    assert await subjects.containing(["a-2"], "0041") == []
    assert sorted(await subjects.containing(None, "now")) == sorted(s.case_id for s in later)
    stored = await stored_postings(subjects.collection, BUCKET_SIZE)
    assert stored == expected_postings([*first, *later])
    await subjects.collection.drop()


async def test_a_growing_district_is_written_in_buckets_and_read_whole(
    mongo_db: AsyncDatabase[Any],
) -> None:
    """With buckets of 3, a district's eighth case goes to a third bucket of each gram: the
    older buckets are not written again, and a lookup reads every bucket."""
    size = 0

    async def district_size(_: str) -> int:
        return size

    subjects = SubjectStore(
        mongo_db, name=f"subjects_buckets_{uuid4().hex[:8]}", sizes=district_size, bucket_size=3
    )
    await subjects.ensure_indexes()
    cases = [Subject(f"c-{n}", "a-1", f"grade book {n}") for n in range(8)]
    for case in cases[:7]:  # one batch per case, the district growing
        await subjects.add_all([case])
    size = 7
    subjects.counted.clear()  # a restart: the size is read again
    older = await subjects.collection.find({"gram": "gra"}).sort("_id", 1).to_list()
    await subjects.add_all([cases[7]])
    buckets = await subjects.collection.find({"gram": "gra"}).sort("_id", 1).to_list()
    assert [sorted(b["cases"]) for b in buckets] == [
        ["c-0", "c-1", "c-2"],
        ["c-3", "c-4", "c-5"],
        ["c-6", "c-7"],
    ]
    assert buckets[:2] == older[:2]
    assert sorted(await subjects.containing(["a-1"], "book")) == [c.case_id for c in cases]
    assert await subjects.containing(["a-1"], "book 7") == ["c-7"]
    assert await stored_postings(subjects.collection, 3) == expected_postings(cases)
    await subjects.collection.drop()


def _filter_of(params: dict[str, Any]) -> CaseFilter:
    fields: dict[str, Any] = dict(params)
    if "subject_op" in fields:
        fields["subject_op"] = SubjectOp(fields["subject_op"])
    if "status" in fields:
        fields["status"] = Status(fields["status"])
    if "closed" in fields:
        fields["closed"] = fields["closed"] == "true"
    if "last_modified" in fields:
        fields["last_modified_on"] = date.fromisoformat(fields.pop("last_modified"))
    return CaseFilter(**fields)


SORTS: dict[str, Callable[[Expected], Any]] = {
    "case_number": lambda c: c.number,
    "subject": lambda c: c.subject.lower(),
    "status": lambda c: c.status,
    "priority": lambda c: ["Critical", "High", "Medium", "Low"].index(c.priority),
    "module": lambda c: c.module or "",
    "last_modified": lambda c: c.last_modified,
    "contact": lambda c: c.contact.lower(),
    "case_type": lambda c: c.case_type,
    "created": lambda c: c.created_at,
}


@pytest.mark.usefixtures("loaded")
@pytest.mark.parametrize("sort", list(SORTS))
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_sorting_by_every_column(
    http: httpx.AsyncClient, tokens: dict[str, str], sort: str, order: str
) -> None:
    """The list sorts by each column in either direction, ties broken by case number."""
    cases = [c for c in MINE if c.module is not None] if sort == "module" else MINE
    key = SORTS[sort]
    expected = sorted(cases, key=lambda c: (key(c), c.number), reverse=order == "desc")
    params: dict[str, Any] = {"sort": sort, "order": order, "page_size": 200}
    first = await listing(http, tokens["zack"], **params)
    pages = [first] + [
        await listing(http, tokens["zack"], page=page, **params)
        for page in range(2, first["pages"] + 1)
    ]
    items = [i for body in pages for i in body["items"]]
    got = [i["number"] for i in items if sort != "module" or i["module"] is not None]
    assert len(got) == len(cases)
    assert got == [c.number for c in expected]


@pytest.mark.usefixtures("loaded")
async def test_default_order_paging_and_page_size(
    http: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """Last modified newest first, 20 a page by default, pages and total as the seed shows."""
    newest = sorted(MINE, key=lambda c: (c.last_modified, c.number), reverse=True)
    first = await listing(http, tokens["zack"])
    assert (first["page"], first["page_size"], first["total"]) == (1, 20, len(MINE))
    assert first["pages"] == 12
    assert [i["number"] for i in first["items"]] == [c.number for c in newest[:20]]
    stamps = [datetime.fromisoformat(i["last_modified"]) for i in first["items"]]
    assert stamps == [c.last_modified for c in newest[:20]]
    third = await listing(http, tokens["zack"], page=3, page_size=50)
    assert third["pages"] == 5
    assert [i["number"] for i in third["items"]] == [c.number for c in newest[100:150]]
    too_big = await http.get("/cases", params={"page_size": 500}, headers=auth(tokens["zack"]))
    assert too_big.status_code == 422
    assert "page_size" in too_big.text


@pytest.mark.usefixtures("loaded")
async def test_feed_order_and_search(http: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    """The feed is newest first by default, oldest first on request, and searchable."""
    case = MINE[4]  # escalated to development, with a post
    url = f"/cases/{case.case_id}/feed"
    newest = (await http.get(url, headers=auth(tokens["zack"]))).json()
    oldest = (await http.get(url, params={"sort": "oldest"}, headers=auth(tokens["zack"]))).json()
    times = sorted(e.occurred_at for e in case.events)
    assert len(set(times)) == len(times), "the fixture's events need distinct times"
    by_time = sorted(case.events, key=lambda e: e.occurred_at, reverse=True)
    assert len(newest["items"]) == newest["total"] == len(case.events)
    assert [i["item_id"] for i in newest["items"]] == [str(e.event_id) for e in by_time]
    assert [datetime.fromisoformat(i["at"]) for i in newest["items"]] == times[::-1]
    assert [i["item_id"] for i in oldest["items"]] == [str(e.event_id) for e in by_time[::-1]]
    lines = [line for item in newest["items"] for line in item["lines"]]
    assert f"Case Owner {case.contact} to Campus Support" in lines
    assert "Status Assigned to Assigned to Development" in lines
    assert "Escalated to Development: development issue DEV-4242" in lines
    found = (await http.get(url, params={"q": "ZEBRA-4"}, headers=auth(tokens["zack"]))).json()
    assert [i["kind"] for i in found["items"]] == ["post"]
    escaped = (await http.get(url, params={"q": ".*"}, headers=auth(tokens["zack"]))).json()
    assert escaped["total"] == 0


@pytest.mark.usefixtures("loaded")
async def test_other_district_case_is_not_found(
    http: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """A contact of another district gets 404 for the case; its read-only contact sees its own."""
    case = MINE[0]
    for path in (f"/cases/{case.case_id}", f"/cases/{case.number}", f"/cases/{case.case_id}/feed"):
        response = await http.get(path, headers=auth(tokens["vera"]))
        assert response.status_code == 404
        assert "your districts" in response.text
    own = await listing(http, tokens["vera"])
    assert own["total"] == len(CASES) - len(MINE)
    staff = await listing(http, tokens["staff"])
    assert staff["total"] == len(CASES)
    assert (await http.get("/cases")).status_code == 401


@pytest.mark.usefixtures("loaded")
async def test_redelivered_events_leave_no_duplicates(
    bus: Bus, mongo_db: AsyncDatabase[Any]
) -> None:
    """Delivering the same events a second time changes neither the cases nor their feeds."""
    sample = [CASES[i] for i in (2, 3, 4, 8)]
    ids = [c.case_id for c in sample]
    cases_before = {d["_id"]: d async for d in mongo_db["cases"].find({"_id": {"$in": ids}})}
    feeds_before = {d["_id"]: d async for d in mongo_db["feeds"].find({"_id": {"$in": ids}})}
    # A fresh post per case, behind the duplicates on the same partition, shows they were read.
    markers = {c.case_id: _marker_post(c) for c in sample}
    await bus.case_events([e for c in sample for e in c.events] + list(markers.values()))

    async def drained() -> bool:
        query = {
            "_id": {"$in": ids},
            "applied": {"$in": [str(m.event_id) for m in markers.values()]},
        }
        return await mongo_db["cases"].count_documents(query) == len(ids)

    await eventually(drained, deadline_s=180)
    async for doc in mongo_db["cases"].find({"_id": {"$in": ids}}):
        doc["applied"].remove(str(markers[doc["_id"]].event_id))
        assert _minus_marker(doc) == _minus_marker(cases_before[doc["_id"]])
    async for doc in mongo_db["feeds"].find({"_id": {"$in": ids}}):
        marker_id = str(markers[doc["_id"]].event_id)
        assert [i for i in doc["items"] if i["_id"] != marker_id] == feeds_before[doc["_id"]][
            "items"
        ]


def _marker_post(case: Expected) -> PostAdded:
    """A new post dated at creation, so it does not move the case's last-modified time."""
    author = Actor(kind=ActorKind.CONTACT, id="c-zack", name="Zack Morris (TESTING)")
    return PostAdded(
        occurred_at=case.created_at,
        case_id=UUID(case.case_id),
        post_id=uuid4(),
        author=author,
        body_html="<p>marker</p>",
        body_text="marker",
    )


def _minus_marker(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "last_modified_by"}


@pytest.mark.usefixtures("loaded")
async def test_banner_follows_incident_and_maintenance_notices(
    bus: Bus, http: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """Gray with no notice, green for maintenance, orange while an incident is open."""

    async def banner() -> dict[str, Any]:
        response = await http.get("/banner", headers=auth(tokens["zack"]))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    assert (await banner())["color"] == "gray"
    start = datetime(2026, 7, 30, 18, 27, tzinfo=UTC)
    maintenance = Notice(
        id="m-1",
        kind=NoticeKind.MAINTENANCE,
        title="Planned upgrade",
        body="Sunday",
        status=NoticeStatus.SCHEDULED,
        starts_at=start,
    )
    incident = Notice(
        id="i-1",
        kind=NoticeKind.INCIDENT,
        title="Digicert Incident",
        body="Certificates",
        status=NoticeStatus.INVESTIGATING,
        starts_at=start,
    )
    await bus.notices([NoticePublished(notice=maintenance), NoticePublished(notice=incident)])

    async def orange() -> bool:
        return bool((await banner())["color"] == "orange")

    await eventually(orange)
    shown = await banner()
    assert shown["title"] == "Digicert Incident"
    assert shown["link"].endswith("/notifications")
    resolved = incident.model_copy(update={"status": NoticeStatus.RESOLVED, "revision": 2})
    await bus.notices([NoticeResolved(notice=resolved), NoticeUpdated(notice=incident)])

    async def green() -> bool:
        return bool((await banner())["color"] == "green")

    await eventually(green)
    assert (await banner())["title"] == "Planned upgrade"


@pytest.mark.usefixtures("loaded")
async def test_rebuild_from_offset_zero_equals_live_projection(
    feed_settings: Settings, mongo_db: AsyncDatabase[Any]
) -> None:
    """`python -m feed rebuild` produces the same cases and feed items as the live consumer."""
    live_cases = await _snapshot(mongo_db["cases"])
    live_feed = await _snapshot(mongo_db["feeds"])
    live_districts = await _snapshot(mongo_db["districts"])
    assert sum(len(d["cases"]) for d in live_districts.values()) == len(CASES)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": feed_settings.kafka_bootstrap_servers,
        "MONGO_URL": feed_settings.mongo_url.get_secret_value(),
        "TOPIC_NAMESPACE": feed_settings.topic_namespace,
        "FEED_MONGO_DATABASE": feed_settings.mongo_database,
        "LOG_FORMAT": "text",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "feed", "rebuild", env=env, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=240)
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert await _snapshot(mongo_db["cases"]) == live_cases
    assert await _snapshot(mongo_db["feeds"]) == live_feed
    assert await _snapshot(mongo_db["districts"]) == live_districts
    names = await mongo_db.list_collection_names()
    assert not [n for n in names if "_rebuild_" in n]


async def _snapshot(collection: Any) -> dict[str, Any]:
    """Documents by id, minus volatile fields (the order of the event ledger and members)."""
    docs = {}
    async for doc in collection.find({}):
        for key in ("applied", "cases"):
            if key in doc:
                doc[key] = sorted(doc[key])
        docs[doc["_id"]] = doc
    return docs
