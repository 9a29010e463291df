"""Where the engine's time goes per batch, and whether its loop still makes progress."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

STAGES = ("poll", "read", "decide", "write", "wait", "send", "offsets", "commit")


@dataclass
class Laps:
    """Milliseconds spent per stage of one batch, in the order the stages ran."""

    ms: dict[str, float] = field(default_factory=dict)
    mark: float = field(default_factory=time.perf_counter)

    def lap(self, stage: str) -> None:
        """Charge the time since the previous lap to `stage`."""
        now = time.perf_counter()
        self.ms[stage] = self.ms.get(stage, 0.0) + 1000 * (now - self.mark)
        self.mark = now

    def line(self) -> str:
        """`poll 1.0, read 0.2, ...` for every stage, 0 where a stage did not run."""
        return ", ".join(f"{stage} {self.ms.get(stage, 0.0):.1f}" for stage in STAGES)


class Progress:
    """The loop progresses when a poll finds nothing to do or a batch commits.

    A loop retrying a failing batch, or hung in a call, does neither; after `stall_after`
    seconds it is stalled, and so is a loop whose task ended.
    """

    def __init__(self, stall_after: float, now: Callable[[], float] = time.monotonic) -> None:
        self.stall_after = stall_after
        self.now = now
        self.at = now()
        self.finished = False

    def made(self) -> None:
        """The loop is caught up or committed a batch."""
        self.at = self.now()

    def ended(self) -> None:
        """The loop's task returned or raised: nothing will consume any more."""
        self.finished = True

    def stalled(self) -> bool:
        """True when the loop is gone or has made no progress for `stall_after` seconds."""
        return self.finished or self.now() - self.at > self.stall_after
