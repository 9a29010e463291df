"""Batch stage timings and the stall watch behind the engine's readiness."""

from routing.progress import Laps, Progress


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_is_fresh_until_the_limit_passes() -> None:
    """No progress for exactly the limit is still fine; beyond it the loop is stalled."""
    clock = Clock()
    progress = Progress(30.0, clock)
    clock.now = 30.0
    assert not progress.stalled()
    clock.now = 30.5
    assert progress.stalled()


def test_progress_made_restarts_the_limit() -> None:
    """A commit or an idle poll late in the window keeps the loop ready."""
    clock = Clock()
    progress = Progress(30.0, clock)
    clock.now = 29.0
    progress.made()
    clock.now = 58.0
    assert not progress.stalled()


def test_an_ended_loop_is_stalled_at_once() -> None:
    """When the loop's task ends nothing consumes any more, however recent its last batch."""
    progress = Progress(30.0, Clock())
    progress.ended()
    assert progress.stalled()


def test_laps_name_every_stage_in_order() -> None:
    """The log line lists all stages, with 0 for stages a batch skipped."""
    laps = Laps()
    laps.lap("poll")
    laps.lap("write")
    names = [part.split(" ")[0] for part in laps.line().split(", ")]
    assert names == ["poll", "read", "decide", "write", "wait", "send", "offsets", "commit"]
    assert laps.line().split(", ")[1] == "read 0.0"
