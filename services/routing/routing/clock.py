"""The injectable clock: the system clock in production, a settable one in tests."""

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the time; routing never reads the wall clock any other way."""

    def now(self) -> datetime:
        """Aware UTC now."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """Aware UTC now."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until told to move; for tests and drills."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        """The time it was set to."""
        return self.at

    def set(self, at: datetime) -> None:
        """Jump to `at`."""
        self.at = at

    def advance(self, delta: timedelta) -> None:
        """Move forward by `delta`."""
        self.at += delta
