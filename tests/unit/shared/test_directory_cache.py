"""The token cache of DirectoryStore: shared lookups, short memory of unknown tokens, a bound."""

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest

from shared import directory
from shared.directory import DirectoryStore, Principal, hash_token
from shared.enums import ActorKind

ZACK = Principal(kind=ActorKind.CONTACT, id="zack", name="Zack Morris", email="zack@example.org")


class CountingStore(DirectoryStore):
    """A store whose lookup is counted and can be held open; no database behind it."""

    def __init__(self, known: dict[str, Principal]) -> None:
        super().__init__(defaultdict(lambda: None))  # type: ignore[arg-type]
        self.known = {hash_token(token): who for token, who in known.items()}
        self.calls: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def _resolve(self, digest: str) -> Principal | None:
        self.calls.append(digest)
        await self.gate.wait()
        return self.known.get(digest)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    # Only the directory module's clock: the event loop keeps the real one.
    monkeypatch.setattr("shared.directory.time", SimpleNamespace(monotonic=fake))
    return fake


async def test_concurrent_requests_with_one_token_share_one_lookup(clock: Clock) -> None:
    store = CountingStore({"t-zack": ZACK})
    store.gate.clear()
    waiting = [asyncio.create_task(store.principal_for("t-zack")) for _ in range(20)]
    await asyncio.sleep(0)
    store.gate.set()
    assert await asyncio.gather(*waiting) == [ZACK] * 20
    assert len(store.calls) == 1


async def test_a_known_token_is_remembered_for_thirty_seconds(clock: Clock) -> None:
    store = CountingStore({"t-zack": ZACK})
    assert await store.principal_for("t-zack") == ZACK
    clock.now += directory.TOKEN_CACHE_SECONDS - 1
    assert await store.principal_for("t-zack") == ZACK
    assert len(store.calls) == 1
    clock.now += 2
    assert await store.principal_for("t-zack") == ZACK
    assert len(store.calls) == 2


async def test_an_unknown_token_is_looked_up_again_after_a_second(clock: Clock) -> None:
    store = CountingStore({})
    assert await store.principal_for("t-new") is None
    assert await store.principal_for("t-new") is None
    assert len(store.calls) == 1
    store.known[hash_token("t-new")] = ZACK  # issued on another replica meanwhile
    clock.now += directory.UNKNOWN_TOKEN_CACHE_SECONDS + 0.1
    assert await store.principal_for("t-new") == ZACK


async def test_a_failed_lookup_is_not_remembered(clock: Clock) -> None:
    store = CountingStore({"t-zack": ZACK})

    async def down(digest: str) -> Any:
        raise ConnectionError("mongo down")

    store._resolve = down  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await store.principal_for("t-zack")
    del store._resolve
    assert await store.principal_for("t-zack") == ZACK


async def test_the_cache_keeps_at_most_its_limit(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(directory, "TOKEN_CACHE_LIMIT", 3)
    store = CountingStore({"t-zack": ZACK})
    for token in ("t-zack", "bad-1", "bad-2", "bad-3"):
        await store.principal_for(token)
    assert len(store._cache) == 3
    assert hash_token("t-zack") not in store._cache  # the oldest went first
