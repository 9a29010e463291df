"""The injectable clock: the system clock in production, a settable one in tests."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
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


class OffsetFileClock:
    """The wall clock plus the seconds written in a file (absent or empty file: no offset).

    Lets an end-to-end test or a drill move a running process's clock days ahead without
    waiting; only the local stack sets it (ROUTING_CLOCK_OFFSET_FILE).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def now(self) -> datetime:
        """Wall clock now, shifted by the file's offset."""
        return datetime.now(UTC) + timedelta(seconds=self._offset())

    def _offset(self) -> float:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return 0.0
        return float(text) if text else 0.0
