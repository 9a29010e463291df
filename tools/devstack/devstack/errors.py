"""Error type raised when a part of the stack cannot be prepared, started or reached."""

from __future__ import annotations

import sys


class StackError(RuntimeError):
    """A part of the local stack failed; the message is meant for the developer."""


def say(message: str) -> None:
    """Print a progress line for the developer (stderr, so stdout stays parseable)."""
    print(f"devstack: {message}", file=sys.stderr, flush=True)
