"""The shared time-zone helpers: the default zone, the directory zone cache and local times."""

import asyncio
from datetime import UTC, datetime

import pytest

from shared.events import Account
from shared.zones import DEFAULT_TIME_ZONE, ZoneCache, is_time_zone, local_time, zone_info

SEPT_15_2021_1837_UTC = datetime(2021, 9, 15, 18, 37, tzinfo=UTC)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Directory:
    """An in-memory district source that counts lookups and can hold them open or fail."""

    def __init__(self, zones: dict[str, str]) -> None:
        self.zones = zones
        self.calls: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.failure: Exception | None = None

    async def account(self, account_id: str) -> Account | None:
        self.calls.append(account_id)
        await self.gate.wait()
        if self.failure is not None:
            raise self.failure
        zone = self.zones.get(account_id)
        return Account(id=account_id, name=account_id, time_zone=zone) if zone else None


def test_the_default_zone_is_central_time() -> None:
    """Districts without a zone of their own read Central time, as the seed's dates do (CDT)."""
    assert DEFAULT_TIME_ZONE == "America/Chicago"


def test_local_time_is_the_portals_format() -> None:
    """A UTC moment shows as the seed shows it: 09/15/2021 - 01:37 PM CDT."""
    assert local_time(SEPT_15_2021_1837_UTC, "America/Chicago") == "09/15/2021 - 01:37 PM CDT"


def test_local_time_in_another_zone() -> None:
    """The same moment in a district on Eastern time."""
    assert local_time(SEPT_15_2021_1837_UTC, "America/New_York") == "09/15/2021 - 02:37 PM EDT"


def test_local_time_reads_a_naive_moment_as_utc() -> None:
    """Mongo returns naive UTC datetimes; they are not taken as local time."""
    naive = SEPT_15_2021_1837_UTC.replace(tzinfo=None)
    assert local_time(naive, "America/Chicago") == "09/15/2021 - 01:37 PM CDT"


def test_local_time_of_nothing_is_nothing() -> None:
    """A missing moment (a case never modified) stays missing."""
    assert local_time(None, "America/Chicago") is None


@pytest.mark.parametrize("name", [None, "", "Mars/Olympus_Mons", "../etc"])
def test_local_time_in_a_missing_or_unknown_zone_is_central(name: str | None) -> None:
    """A district whose zone is missing or not an IANA zone reads Central time."""
    assert local_time(SEPT_15_2021_1837_UTC, name) == "09/15/2021 - 01:37 PM CDT"


def test_winter_times_say_cst() -> None:
    """Outside daylight saving time the abbreviation is CST."""
    assert local_time(datetime(2021, 1, 4, 15, 5, tzinfo=UTC), None) == "01/04/2021 - 09:05 AM CST"


def test_zone_names() -> None:
    """IANA names are known; others are not, and fall back to the default."""
    assert is_time_zone("America/Denver")
    assert not is_time_zone("Central")
    assert zone_info("Central").key == "America/Chicago"
    assert zone_info("America/Denver").key == "America/Denver"


async def test_a_districts_zone_comes_from_the_directory() -> None:
    """The cache answers the zone the directory holds for the district."""
    cache = ZoneCache(Directory({"bayside": "America/Denver"}), clock=Clock())
    assert await cache.zone_of("bayside") == "America/Denver"


async def test_an_unknown_district_or_zone_reads_central() -> None:
    """A district the directory lacks, or one with a bogus zone, gets the default."""
    cache = ZoneCache(Directory({"west": "Central"}), clock=Clock())
    assert await cache.zone_of("nowhere") == "America/Chicago"
    assert await cache.zone_of("west") == "America/Chicago"


async def test_a_zone_is_remembered_for_the_ttl() -> None:
    """Within the TTL the directory is not asked again; after it, it is."""
    clock = Clock()
    directory = Directory({"bayside": "America/Denver"})
    cache = ZoneCache(directory, ttl=60.0, clock=clock)
    await cache.zone_of("bayside")
    clock.now += 59
    await cache.zone_of("bayside")
    assert directory.calls == ["bayside"]
    clock.now += 2
    directory.zones["bayside"] = "America/Phoenix"
    assert await cache.zone_of("bayside") == "America/Denver"  # served while it refreshes
    await asyncio.sleep(0)
    assert await cache.zone_of("bayside") == "America/Phoenix"
    assert directory.calls == ["bayside", "bayside"]


async def test_concurrent_reads_of_one_district_share_one_lookup() -> None:
    """Twenty readers of an uncached district wait on a single directory read."""
    directory = Directory({"bayside": "America/Denver"})
    directory.gate.clear()
    cache = ZoneCache(directory, clock=Clock())
    readers = [asyncio.create_task(cache.zone_of("bayside")) for _ in range(20)]
    await asyncio.sleep(0)
    directory.gate.set()
    assert await asyncio.gather(*readers) == ["America/Denver"] * 20
    assert directory.calls == ["bayside"]


async def test_a_failed_first_lookup_reaches_the_caller() -> None:
    """With nothing cached, a directory failure is the caller's to handle."""
    directory = Directory({"bayside": "America/Denver"})
    directory.failure = ConnectionError("directory down")
    cache = ZoneCache(directory, clock=Clock())
    with pytest.raises(ConnectionError):
        await cache.zone_of("bayside")


async def test_a_failed_refresh_keeps_serving_the_old_zone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refresh that fails is logged, and the zone already known is still answered."""
    clock = Clock()
    directory = Directory({"bayside": "America/Denver"})
    cache = ZoneCache(directory, ttl=60.0, clock=clock)
    await cache.zone_of("bayside")
    clock.now += 61
    directory.failure = ConnectionError("directory down")
    assert await cache.zone_of("bayside") == "America/Denver"
    await asyncio.sleep(0)
    assert await cache.zone_of("bayside") == "America/Denver"
    await asyncio.sleep(0)  # the failure is logged from the lookup's done callback
    assert "time-zone lookup failed" in caplog.text


async def test_forget_makes_the_next_read_ask_again() -> None:
    """After forget, a changed zone shows on the next read."""
    directory = Directory({"bayside": "America/Denver"})
    cache = ZoneCache(directory, clock=Clock())
    await cache.zone_of("bayside")
    directory.zones["bayside"] = "America/Phoenix"
    cache.forget("bayside")
    assert await cache.zone_of("bayside") == "America/Phoenix"
    directory.zones["bayside"] = "America/Detroit"
    cache.forget()
    assert await cache.zone_of("bayside") == "America/Detroit"
