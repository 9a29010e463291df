"""The rebuild's repair on the real stack: a case the live consumer moved past a late event."""

from typing import Any

import pytest

from feed.app import projection_of, read_model
from feed.logic import out_of_order
from feed.rebuild import refold_inverted
from feed.settings import Settings
from shared.mongo import mongo_client
from tests.integration.feed.conftest import DISTRICT_A, Bus, generate_case

pytestmark = pytest.mark.timeout(300)


async def _snapshot(db: Any) -> dict[str, Any]:
    """Cases, feeds, subjects and districts by id, feed entries and members in order."""
    docs: dict[str, Any] = {}
    for name in ("cases", "feeds", "subjects", "districts"):
        async for doc in db[name].find({}):
            if "items" in doc:
                doc["items"] = sorted(doc["items"], key=lambda i: i["_id"])
            if "cases" in doc:
                doc["cases"] = sorted(doc["cases"])
            docs[f"{name}/{doc['_id']}"] = doc
    return docs


@pytest.mark.usefixtures("mongo_db")  # drops the test database at the end
async def test_case_applied_out_of_order_is_folded_again_in_topic_order(
    feed_settings: Settings, bus: Bus
) -> None:
    """Routing applied after the assignment that followed it is redone in topic order."""
    case = generate_case(2, DISTRICT_A, 4_000_002)
    submitted, routed, assigned, *statuses = case.events
    await bus.case_events(case.events)
    mongo = mongo_client(feed_settings)
    reference = feed_settings.model_copy(
        update={"mongo_database": feed_settings.mongo_database + "_ref"}
    )
    try:
        inverted = projection_of(read_model(feed_settings, mongo))
        for event in [submitted, assigned, routed, *statuses]:
            await inverted.project(event)  # type: ignore[arg-type]
        in_order = projection_of(read_model(reference, mongo))
        for event in case.events:
            await in_order.project(event)  # type: ignore[arg-type]
        db = mongo[feed_settings.mongo_database]
        stored = await db["cases"].find_one({"_id": case.case_id})
        assert stored is not None
        late = [routed, assigned, *statuses]
        ids = [str(e.event_id) for e in late]
        assert out_of_order(stored["applied"], 1, ids)
        expected = await _snapshot(mongo[reference.mongo_database])
        assert await _snapshot(db) != expected
        assert stored["owner"]["kind"] == "department"  # routing overwrote the assignment
        assert await refold_inverted(feed_settings, mongo, {case.case_id: 1}, late) == 1  # type: ignore[arg-type]
        assert await _snapshot(db) == expected
        assert await refold_inverted(feed_settings, mongo, {case.case_id: 1}, late) == 0  # type: ignore[arg-type]
    finally:
        await mongo.drop_database(reference.mongo_database)
        await mongo.close()
