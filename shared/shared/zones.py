"""Districts' time zones: the default, a cache of the directory's zones, and local display times."""

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.events import Account
from shared.workflow import DEFAULT_TIME_ZONE

__all__ = [
    "DEFAULT_TIME_ZONE",
    "AccountSource",
    "ZoneCache",
    "is_time_zone",
    "local_time",
    "zone_info",
]

log = logging.getLogger(__name__)

ZONE_CACHE_SECONDS = 60.0
# How the portal shows a moment: 09/15/2021 - 01:37 PM CDT.
LOCAL_FORMAT = "%m/%d/%Y - %I:%M %p %Z"


class AccountSource(Protocol):
    """Where a service reads districts from; `shared.directory.DirectoryStore` is one."""

    async def account(self, account_id: str) -> Account | None:
        """The district, or None when the directory does not know it."""
        ...


def is_time_zone(name: str) -> bool:
    """Whether `name` is a zone the IANA database knows (e.g. America/Chicago)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def zone_info(name: str | None) -> ZoneInfo:
    """The named zone; the default zone when the name is missing or unknown."""
    return ZoneInfo(name if name and is_time_zone(name) else DEFAULT_TIME_ZONE)


@overload
def local_time(moment: datetime, time_zone: str | None) -> str: ...
@overload
def local_time(moment: None, time_zone: str | None) -> None: ...
def local_time(moment: datetime | None, time_zone: str | None) -> str | None:
    """A moment as the portal shows it in a zone, `09/15/2021 - 01:37 PM CDT`; None stays None.

    A naive moment is UTC (as Mongo returns it); a missing or unknown zone is the default.
    """
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone_info(time_zone)).strftime(LOCAL_FORMAT)


class ZoneCache:
    """Districts' time zone names read through `source` and kept for `ttl` seconds.

    One lookup per district at a time; an expired entry is still served while its refresh runs,
    so callers never queue behind the directory. An unknown district, or a zone name the zone
    database does not know, reads as the default zone.
    """

    def __init__(
        self,
        source: AccountSource,
        ttl: float = ZONE_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._ttl = ttl
        self._clock = clock
        self._zones: dict[str, tuple[float, str]] = {}
        self._lookups: dict[str, asyncio.Task[str]] = {}

    async def zone_of(self, account_id: str) -> str:
        """The district's IANA time zone name."""
        cached = self._zones.get(account_id)
        if cached is None or cached[0] <= self._clock():
            lookup = self._lookups.get(account_id)
            if lookup is None:
                lookup = asyncio.create_task(self._look_up(account_id))
                lookup.add_done_callback(_log_failure)
                self._lookups[account_id] = lookup
            if cached is None:
                return await asyncio.shield(lookup)
        return cached[1]

    def forget(self, account_id: str | None = None) -> None:
        """Drop one district's entry (or all), so the next read asks the directory again."""
        if account_id is None:
            self._zones.clear()
        else:
            self._zones.pop(account_id, None)

    async def _look_up(self, account_id: str) -> str:
        try:
            account = await self._source.account(account_id)
            name = account.time_zone if account else DEFAULT_TIME_ZONE
            zone = name if is_time_zone(name) else DEFAULT_TIME_ZONE
            self._zones[account_id] = (self._clock() + self._ttl, zone)
            return zone
        finally:
            self._lookups.pop(account_id, None)


def _log_failure(task: "asyncio.Task[str]") -> None:
    """A failed refresh is only logged: the entry it refreshes is still served."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("time-zone lookup failed: %r", exc)
