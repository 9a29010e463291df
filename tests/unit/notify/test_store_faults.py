"""A Mongo fault while a batch is worked is transient: the batch is retried, never dead-lettered."""

from dataclasses import dataclass
from typing import Any

import pytest
from pymongo.errors import OperationFailure

from shared.kafka import Transient


@dataclass
class FakeRecord:
    """A consumed Kafka record."""

    value: bytes | None
    topic: str = "unit.case.events"
    partition: int = 0
    offset: int = 0
    key: bytes | None = None


async def test_a_directory_read_failing_mid_batch_is_retried_not_dead_lettered(
    world: Any, make: Any
) -> None:
    """A Mongo error while reading a recipient fails the batch as transient: nothing is
    dead-lettered, nothing mailed, and the view is not written."""
    world.book.add(make.contact("owner"))

    async def broken(ids: list[str]) -> dict[str, Any]:
        raise OperationFailure("not primary")

    world.book.contacts = broken
    record = FakeRecord(make.submitted("owner").model_dump_json().encode())
    with pytest.raises(Transient):
        await world.notifier.on_case_batch([record])
    assert world.poisoned == []
    assert world.transport.sent == []
    assert world.cases.views == {}
