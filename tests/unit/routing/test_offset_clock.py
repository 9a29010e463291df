"""The offset-file clock moves a running process's time by what the file says."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from routing.clock import OffsetFileClock


def test_missing_file_means_wall_clock(tmp_path: Path) -> None:
    """Without the file the clock is the wall clock."""
    clock = OffsetFileClock(tmp_path / "offset")
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_offset_is_read_on_every_call(tmp_path: Path) -> None:
    """Writing the file moves the clock at once; emptying it moves it back."""
    path = tmp_path / "offset"
    clock = OffsetFileClock(path)
    path.write_text(str(timedelta(days=20).total_seconds()))
    assert clock.now() - datetime.now(UTC) > timedelta(days=19, hours=23)
    path.write_text("")
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)
