"""Delivery details: group-committed sent marks."""

import asyncio

from notify.delivery import Coalescer


async def test_marks_added_while_a_write_is_in_flight_share_the_next_write() -> None:
    """Concurrent marks are written in few round trips, and each caller waits for its own."""
    writes: list[list[str]] = []

    async def write(keys: list[str]) -> None:
        writes.append(keys)
        await asyncio.sleep(0.01)

    coalescer = Coalescer(write)
    await asyncio.gather(*(coalescer.add(f"k{n}") for n in range(10)))
    assert sorted(k for batch in writes for k in batch) == sorted(f"k{n}" for n in range(10))
    assert len(writes) <= 2  # not one round trip per mail


async def test_a_failed_write_fails_every_caller_of_that_write() -> None:
    """A mark that could not be written raises for the callers whose keys it carried."""

    async def write(keys: list[str]) -> None:
        raise ConnectionError("mongo down")

    coalescer = Coalescer(write)
    results = await asyncio.gather(coalescer.add("a"), coalescer.add("b"), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
