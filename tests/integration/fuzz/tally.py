"""Counting what the fuzz tests sent, for the terminal summary and the test report."""

import time
from collections import Counter

import pytest


class Tally:
    """Cases schemathesis generated against one API, and the status codes answered."""

    def __init__(self) -> None:
        self.generated = 0
        self.statuses: Counter[int] = Counter()
        self.started = time.monotonic()
        self.seconds = 0.0

    def line(self, name: str) -> str:
        """One summary line: cases, requests by status class, time."""
        classes: Counter[str] = Counter()
        for code, count in self.statuses.items():
            classes[f"{code // 100}xx"] += count
        spread = ", ".join(f"{k} {v}" for k, v in sorted(classes.items())) or "none"
        sent = sum(self.statuses.values())
        return f"{name}: {self.generated} cases, {sent} requests ({spread}), {self.seconds:.1f} s"


TALLIES = pytest.StashKey[dict[str, Tally]]()


def keep(config: pytest.Config, name: str, tally: Tally) -> None:
    """Remember a finished run's tally for the summary."""
    tally.seconds = time.monotonic() - tally.started
    config.stash.setdefault(TALLIES, {})[name] = tally


def summary_lines(config: pytest.Config) -> list[str]:
    """The summary: one line per API, then the total."""
    tallies = config.stash.get(TALLIES, {})
    if not tallies:
        return []
    lines = [tally.line(name) for name, tally in tallies.items()]
    total = sum(t.generated for t in tallies.values())
    seconds = sum(t.seconds for t in tallies.values())
    return [*lines, f"total: {total} cases in {seconds:.1f} s"]
