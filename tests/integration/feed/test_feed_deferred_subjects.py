"""Subjects indexed after the batch, on the real stack: exact searches before and after."""

from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from feed.app import create_app, ensure_indexes, read_model
from feed.logic import BUCKET_SIZE, CaseFilter, SortKey, SubjectOp
from feed.service import Batch, ReadModel, case_page
from feed.settings import Settings
from shared.events import CaseSubmitted
from tests.integration.feed.conftest import (
    eventually,
    expected_postings,
    generate_case,
    stored_postings,
    subjects_of,
)

pytestmark = pytest.mark.timeout(300)
DISTRICT = "acc-deferred"
# generate_case(0): subject "Grade Book issues #0".
CASE = generate_case(0, DISTRICT, 4_000_001)
BOOK = CaseFilter(subject="BOOK iss", subject_op=SubjectOp.CONTAINS)
NOT_BOOK = CaseFilter(subject="book iss", subject_op=SubjectOp.NOT_CONTAINS)


async def matches(model: ReadModel, flt: CaseFilter) -> tuple[int, list[str]]:
    """The total and the case ids of the first page of a district-scoped list."""
    total, docs = await case_page(model, flt, [DISTRICT], SortKey.LAST_MODIFIED, True, 0, 20)
    return total, [doc["_id"] for doc in docs]


async def test_a_case_left_unindexed_by_a_crash_is_found_then_indexed(
    feed_settings: Settings, mongo_db: AsyncDatabase[Any]
) -> None:
    """A case a batch stored with its subject left to the indexer (the process then stopped)
    is found by a contains search at once, and the next feed process indexes it: the
    postings then hold it, the case is no longer pending, and the search answers the same."""
    settings = feed_settings
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value(), tz_aware=True
    )
    model = read_model(settings, client)
    await ensure_indexes(model)
    submitted = CASE.events[0]
    assert isinstance(submitted, CaseSubmitted)
    batch = Batch.over({}, deferred=True)
    batch.fold(submitted, {"account_name": "Deferred District", "contact_name": CASE.contact})
    assert await model.cases.save_all(batch.saves()) == set()
    await model.districts.add_all(batch.members)

    assert await mongo_db["subjects"].count_documents({"account_id": DISTRICT}) == 0
    assert await matches(model, BOOK) == (1, [CASE.case_id])
    assert await matches(model, NOT_BOOK) == (0, [])

    app = create_app(settings)
    async with app.router.lifespan_context(app):

        async def indexed() -> bool:
            return await mongo_db["cases"].count_documents({"unindexed": True}) == 0

        await eventually(indexed, deadline_s=120)
    stored = await stored_postings(mongo_db["subjects"], BUCKET_SIZE)
    assert stored == expected_postings(subjects_of([CASE]))
    assert await matches(model, BOOK) == (1, [CASE.case_id])
    assert await matches(model, NOT_BOOK) == (0, [])
    await client.close()
