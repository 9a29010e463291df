"""Ingest handler: one record of incident.events becomes a kept revision, or is set aside."""

from datetime import UTC
from enum import StrEnum

from shared.events import NOTICE_EVENTS, AnyNoticeEvent
from shared.messages import UnknownMessage, decode
from status_board import logic
from status_board.board import Board
from status_board.errors import NoticeUnshowable


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
        return Outcome.DROPPED if board.store.forget(key.decode()) else Outcome.KNOWN
    try:
        event = decode(NOTICE_EVENTS, value)
    except UnknownMessage:
        return Outcome.SKIPPED
    _check_showable(board, event)
    kept = board.store.keep(event)
    return Outcome.KEPT if kept else Outcome.KNOWN


def _check_showable(board: Board, event: AnyNoticeEvent) -> None:
    problem = logic.unshowable(event.notice, board.renderer.zone)
    try:
        event.occurred_at.astimezone(UTC)
    except OverflowError:
        problem = f"occurred_at {event.occurred_at.isoformat()} cannot be shown in UTC"
    if problem is not None:
        raise NoticeUnshowable(f"notice {event.notice.id!r}: {problem}")
