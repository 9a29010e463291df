"""Case-number blocks with a fake counter collection: reserve, growth under demand, uniqueness."""

import asyncio
from typing import Any

from intake.store import CounterStore


class FakeCounters:
    """The `counters` collection's one document, with find_one_and_update's $inc."""

    def __init__(self) -> None:
        self.last, self.updates = 0, list[int]()

    async def find_one_and_update(self, query: Any, update: Any, **_: Any) -> dict[str, int]:
        await asyncio.sleep(0)  # a round trip: other requests run meanwhile
        self.last += update["$inc"]["last"]
        self.updates.append(update["$inc"]["last"])
        return {"_id": 0, "last": self.last}


def store(counters: FakeCounters) -> CounterStore:
    """A replica's counter store of blocks of 10 on the shared fake collection."""
    return CounterStore({"counters": counters}, block=10, start=0)  # type: ignore[arg-type]


async def test_prime_fetches_two_blocks_in_one_update() -> None:
    """Before serving, a replica holds its first block and a spare one, from one update."""
    counters = FakeCounters()
    replica = store(counters)
    await replica.prime()
    assert (counters.updates, len(replica.pool)) == ([20], 20)
    assert [await replica.take() for _ in range(3)] == [1, 2, 3]


async def test_starved_take_grows_the_reserve() -> None:
    """Requests finding no number double the reserve once; the next take tops it up."""
    counters = FakeCounters()
    replica = store(counters)
    await asyncio.gather(*(replica.take() for _ in range(5)))
    assert replica.spare_blocks == 2
    await replica.take()
    await asyncio.sleep(0.01)
    assert len(replica.pool) > replica.low_water == 20
    assert all(size % 10 == 0 for size in counters.updates)


async def test_numbers_are_unique_across_replicas_under_concurrency() -> None:
    """Two replicas sharing one counter, taking concurrently: no number is handed out twice."""
    counters = FakeCounters()
    one, two = store(counters), store(counters)
    taken = await asyncio.gather(*(r.take() for _ in range(300) for r in (one, two)))
    assert len(set(taken)) == len(taken) == 600
