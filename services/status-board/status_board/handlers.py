"""Ingest handler: one record of incident.events becomes a kept revision, or is set aside."""

from enum import StrEnum

from shared.events import NOTICE_EVENTS
from shared.messages import UnknownMessage, decode
from status_board.board import Board


class Outcome(StrEnum):
    """What happened to one record."""

    KEPT = "kept"
    KNOWN = "known"
    DROPPED = "dropped"
    SKIPPED = "skipped"
    POISON = "poison"


CHANGES = frozenset({Outcome.KEPT, Outcome.DROPPED})


def on_notice_record(board: Board, key: bytes | None, value: bytes | None) -> Outcome:
    """Keep the notice if it supersedes the held one; a tombstone drops it; unknown types skip.

    Raises pydantic's ValidationError for a malformed record (the caller dead-letters it).
    """
    if value is None:
        if key is None:
            return Outcome.SKIPPED
        return Outcome.DROPPED if board.store.forget(key.decode()) else Outcome.KNOWN
    try:
        event = decode(NOTICE_EVENTS, value)
    except UnknownMessage:
        return Outcome.SKIPPED
    kept = board.store.keep(event)
    return Outcome.KEPT if kept else Outcome.KNOWN
