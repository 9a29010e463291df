"""Ingest handler: one record of incident.events becomes a kept revision, or is set aside."""

from enum import StrEnum

from shared.events import NOTICE_EVENTS
from shared.messages import UnknownMessage, decode
from status_board.service import Board


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

    Raises pydantic's ValidationError for a malformed record and NoticeUnshowable for a
    notice the board could never show (the caller dead-letters both).
    """
    if value is None:
        if key is None:
            return Outcome.SKIPPED
        return Outcome.DROPPED if board.forget(key.decode()) else Outcome.KNOWN
    try:
        event = decode(NOTICE_EVENTS, value)
    except UnknownMessage:
        return Outcome.SKIPPED
    return Outcome.KEPT if board.receive(event) else Outcome.KNOWN
