"""The swap fence on the real server: live writes and a rebuild's renames never overlap."""

import asyncio
from collections import Counter
from typing import Any

import pytest
from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from feed.rebuild import swap_all
from feed.store import SwapFence

pytestmark = pytest.mark.timeout(300)
WRITERS = 4  # live consumers racing the swap
ROUNDS = 4


async def test_writer_waits_while_the_fence_is_raised(mongo_db: AsyncDatabase[Any]) -> None:
    """A live batch does not start writing until the rebuild lowers the fence."""
    fence = SwapFence(mongo_db, name="fences_wait")
    entered = asyncio.Event()

    async def write() -> None:
        async with fence.writing():
            entered.set()

    await fence.raise_for(60)
    writer = asyncio.create_task(write())
    await asyncio.sleep(0.5)
    assert not entered.is_set()
    await fence.lower()
    await asyncio.wait_for(writer, timeout=60)
    assert entered.is_set()


async def test_raise_waits_for_the_writers_inside(mongo_db: AsyncDatabase[Any]) -> None:
    """The rebuild's raise returns only once the batch writing under a lease is done."""
    fence = SwapFence(mongo_db, name="fences_drain")
    done = asyncio.Event()
    async with fence.writing():
        raising = asyncio.create_task(fence.raise_for(60))
        await asyncio.sleep(0.5)
        assert not raising.done()
        done.set()
    await asyncio.wait_for(raising, timeout=60)
    await fence.lower()
    assert done.is_set()


async def test_swaps_under_live_upserts_keep_one_document_per_id(
    mongo_db: AsyncDatabase[Any],
) -> None:
    """Upserts racing the rename of a rebuilt collection over theirs leave no second copy.

    Unfenced, a round leaves a second copy about every other time: a few rounds catch it."""
    duplicated: list[str] = []
    for round_ in range(ROUNDS):
        duplicated += await _swap_racing_writers(mongo_db, f"race{round_}")
    assert duplicated == []


async def _swap_racing_writers(db: AsyncDatabase[Any], name: str) -> list[str]:
    """Rename a rebuilt collection over a live one under upserts; the ids stored twice."""
    rebuilt, live = db[f"{name}_rebuilt"], db[f"{name}_live"]
    # Enough new ids that the writers are still inserting when the rename runs (unfenced,
    # 1,000 + 5,000 left 12 second copies over four rounds; 20,000 took 3 minutes in all).
    old, new = [f"c{i}" for i in range(1_000)], [f"n{i}" for i in range(5_000)]
    await live.insert_many([{"_id": key, "items": [1]} for key in old])
    await rebuilt.insert_many([{"_id": key, "items": [1]} for key in old + new])
    fence, stop = SwapFence(db), asyncio.Event()

    async def live_writer(first: int) -> None:
        for k in range(first, len(new), WRITERS):
            if stop.is_set():
                return
            push, keys = {"$push": {"items": 2}}, (old[k % len(old)], new[k])
            ops = [
                UpdateOne({"_id": key, "items": {"$nin": [2]}}, push, upsert=True) for key in keys
            ]
            async with fence.writing():
                await live.bulk_write(ops, ordered=False)

    writers = [asyncio.create_task(live_writer(first)) for first in range(WRITERS)]
    await asyncio.sleep(0.2)
    await swap_all(db, [(rebuilt.name, live.name)])
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.gather(*writers)
    ids = Counter([doc["_id"] async for doc in live.find({}, {"_id": 1})])
    await db.drop_collection(live.name)
    assert len(ids) == len(old) + len(new)
    return [f"{name}/{key}" for key, seen in ids.items() if seen > 1]
