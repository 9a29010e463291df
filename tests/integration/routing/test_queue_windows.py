"""The queue read from an index window on the real Mongo-wire server: every page is the one a
whole read gives, through closes, new Critical cases, priority changes, filters and cases
stored before the work key existed; counts follow the queue within a few seconds."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from random import Random
from typing import Any
from uuid import uuid4

import pytest

from routing import store as store_module
from routing.logic import BusinessCalendar, Context, RoutingTable, on_submitted
from routing.models import CaseState
from routing.settings import Settings
from routing.sla import SlaPolicy
from routing.store import CaseStore, Direction, QueueFilter, QueueOrder
from shared.enums import Department, Priority, Status
from shared.events import CaseSubmitted
from shared.mongo import mongo_client
from shared.zones import DEFAULT_TIME_ZONE
from tests.integration.routing.conftest import CONTACT

pytestmark = pytest.mark.integration

CAMPUS = Department.CAMPUS_SUPPORT
ITEMS = 400
# The seeds' order of work: Critical first, then High, Medium, Low; then the due date asked
# for (none last), then age.
SEED_RANK = {"Critical": 0, "High": 1, "Medium": 2, "Low": 3}
T0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)


def _event(number: int, priority: str, at: datetime, due: date | None) -> CaseSubmitted:
    return CaseSubmitted.model_validate(
        {
            "case_id": uuid4(),
            "case_number": number,
            "account_id": "a-1",
            "contact_id": CONTACT.id,
            "submitted_by": CONTACT.model_dump(),
            "priority": priority,
            "subject": f"Window case {number}",
            "description": "details",
            "details": {"case_type": "Ask a Question", "module": "Grade Book"},
            "due_date": due,
            "occurred_at": at,
        }
    )


def _decide(events: list[CaseSubmitted]) -> list[CaseState]:
    table, calendar = RoutingTable.load(None), BusinessCalendar("US")
    ctx = Context(T0, calendar, DEFAULT_TIME_ZONE, sla=SlaPolicy.load(None))
    states = []
    for event in events:
        state = on_submitted(event, table.route(event.case_type, None), ctx).state
        assert state is not None
        assert state.department is CAMPUS
        states.append(state)
    return states


def _work_order(state: CaseState) -> tuple[Any, ...]:
    at = state.created_at.astimezone(UTC)
    millis = at.replace(microsecond=at.microsecond // 1000 * 1000)  # as BSON keeps it
    return (SEED_RANK[state.priority.value], state.due_date or date.max, millis, str(state.case_id))


class Queue:
    """The cases as the test knows them, and the pages a whole read must give."""

    def __init__(self, store: CaseStore, states: list[CaseState]) -> None:
        self.store = store
        self.states = {s.case_id: s for s in states}

    async def save(self, states: list[CaseState], new: bool = False) -> None:
        await self.store.save_many(states, {s.case_id for s in states} if new else set())
        self.states.update({s.case_id: s for s in states})

    def expected(
        self, order: QueueOrder, direction: Direction, where: QueueFilter, skip: int, limit: int
    ) -> list[int]:
        shown = [
            s
            for s in self.states.values()
            if s.status is not Status.CLOSED
            and (where.priority is None or s.priority is where.priority)
        ]
        key = _work_order if order == "work" else (lambda s: s.case_number)
        shown.sort(key=key, reverse=direction == "desc")
        return [s.case_number for s in shown[skip : skip + limit]]

    async def check(
        self,
        order: QueueOrder = "work",
        direction: Direction = "asc",
        where: QueueFilter | None = None,
        skip: int = 0,
        limit: int = 50,
    ) -> None:
        where = where or QueueFilter()
        docs = await self.store.queue(CAMPUS, where, limit, skip, order, direction)
        got = [int(d["case_number"]) for d in docs]
        assert got == self.expected(order, direction, where, skip, limit), (order, direction)


@pytest.fixture
async def queue(fresh_settings: Settings) -> AsyncIterator[Queue]:
    client = mongo_client(fresh_settings)
    store = CaseStore(client[fresh_settings.mongo_database])
    rng = Random(7)
    events = []
    for i in range(ITEMS):
        priority = rng.choice(["Low", "Medium", "Medium", "High"])
        due = T0.date() + timedelta(days=rng.randint(3, 30)) if rng.random() < 0.2 else None
        # Pairs share a millisecond: the id decides between them, as in a whole read.
        at = T0 + timedelta(milliseconds=(i // 2) * 1000, microseconds=(i % 2) * 300)
        events.append(_event(5000 + i, priority, at, due))
    states = _decide(events)
    await store.save_many(states, {s.case_id for s in states})
    await store.ensure_indexes()
    yield Queue(store, states)
    await client.close()


async def test_pages_in_work_and_number_order_match_a_whole_read(queue: Queue) -> None:
    """First pages, a later page, both directions and a filter: the same whether the read
    is whole (the first) or from the window it remembered (the second)."""
    shapes: list[dict[str, Any]] = [
        {},
        {"skip": 100, "limit": 50},
        {"direction": "desc"},
        {"order": "number", "direction": "desc", "limit": 200},
        {"order": "number"},
        {"where": QueueFilter(priority=Priority.HIGH), "limit": 20},
    ]
    for shape in shapes:
        await queue.check(**shape)
        await queue.check(**shape)
    assert queue.store.windows, "the reads remembered windows"


async def test_closing_inside_the_window_and_new_critical_cases_keep_pages_exact(
    queue: Queue,
) -> None:
    """Close most of the first page, then most of the window it was read from; add Critical
    cases and raise a Low case to Critical: each read after is the whole read's page."""
    await queue.check()
    await queue.check(order="number", direction="desc")
    first = [queue.states[s] for s in list(queue.states)]
    first.sort(key=_work_order)
    await queue.save([s.model_copy(update={"status": Status.CLOSED}) for s in first[:30]])
    await queue.check()
    # 20 of the window's 100 stay open: too few for the page, so it is read whole again.
    await queue.save([s.model_copy(update={"status": Status.CLOSED}) for s in first[30:80]])
    await queue.check()
    await queue.save([s.model_copy(update={"status": Status.CLOSED}) for s in first[80:120]])
    await queue.check()
    await queue.check(order="number", direction="desc")
    later = T0 + timedelta(days=1)
    urgent = _decide([_event(9000 + i, "Critical", later, None) for i in range(5)])
    await queue.save(urgent, new=True)
    await queue.check()
    await queue.check(order="number", direction="desc")
    low = next(s for s in first[120:] if s.priority is Priority.LOW)
    raised = low.model_copy(update={"priority": Priority.CRITICAL})
    await queue.save([raised])
    await queue.check()
    docs = await queue.store.queue(CAMPUS, QueueFilter(), 10, 0)
    assert raised.case_number in [d["case_number"] for d in docs]


async def test_cases_stored_before_the_work_key_are_given_it(queue: Queue) -> None:
    """A case stored without `queue_key` (an older routing) shows in its place once routing
    starts (ensure_indexes) again."""
    oldest = min(queue.states.values(), key=_work_order)
    await queue.store.collection.update_one(
        {"_id": str(oldest.case_id)}, {"$unset": {"queue_key": ""}}
    )
    # A database of that routing has no migration marker either.
    await queue.store.collection.database["migrations"].delete_many({})
    await queue.store.ensure_indexes()
    docs = await queue.store.queue(CAMPUS, QueueFilter(), 1, 0)
    assert docs[0]["case_number"] == oldest.case_number


async def test_the_work_keys_are_given_once_per_database(queue: Queue) -> None:
    """The first start marked the database: a later start does not scan for keys again, and
    the marker counts the cases the first one keyed (none here: all were stored with one)."""
    marker = await queue.store.collection.database["migrations"].find_one(
        {"_id": "cases.queue_key"}
    )
    assert marker is not None
    assert marker["cases"] == 0
    oldest = min(queue.states.values(), key=_work_order)
    await queue.store.collection.update_one(
        {"_id": str(oldest.case_id)}, {"$unset": {"queue_key": ""}}
    )
    await queue.store.ensure_indexes()
    doc = await queue.store.collection.find_one({"_id": str(oldest.case_id)})
    assert doc is not None
    assert "queue_key" not in doc


async def test_counts_follow_the_queue_within_seconds(
    queue: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted exactly at first (whole, marking slices of 50); after 40 cases are assigned,
    10 closed and 5 Critical ones added, the counts (now slice by slice) say so within a few
    seconds, served from the last count meanwhile and never anything else."""
    monkeypatch.setattr(store_module, "COUNT_SLICE", 50)
    assert await queue.store.queue_counts(CAMPUS, QueueFilter()) == {"New": ITEMS}
    assert len(queue.store.slices[CAMPUS]) == ITEMS // 50
    some = list(queue.states.values())[:50]
    await queue.save([s.model_copy(update={"status": Status.ASSIGNED}) for s in some[:40]])
    await queue.save([s.model_copy(update={"status": Status.CLOSED}) for s in some[40:]])
    urgent = _decide([_event(9100 + i, "Critical", T0, None) for i in range(5)])
    await queue.save(urgent, new=True)
    now = {"New": ITEMS - 50 + 5, "Assigned": 40}
    seen: list[dict[str, int]] = []
    for _ in range(100):
        seen.append(await queue.store.queue_counts(CAMPUS, QueueFilter()))
        if seen[-1] == now:
            break
        await asyncio.sleep(0.1)
    assert seen[-1] == now
    assert all(s in ({"New": ITEMS}, now) for s in seen)
    filtered = QueueFilter(priority=Priority.CRITICAL)
    assert await queue.store.queue_counts(CAMPUS, filtered) == {"New": 5}
