"""Errors of the status board under one root; api.py maps them to problem details by `status`."""

from typing import ClassVar


class StatusBoardError(Exception):
    """Root of the status board's own errors; `status` is the HTTP status it answers with."""

    status: ClassVar[int] = 400


class NoticeNotFound(StatusBoardError):
    """No notice has this id."""

    status: ClassVar[int] = 404

    def __init__(self, notice_id: str) -> None:
        super().__init__(f"no notice with id {notice_id!r}; list them at /api/notices")
        self.notice_id = notice_id


class NoticeExists(StatusBoardError):
    """A notice with this id already exists, so it cannot be created again."""

    status: ClassVar[int] = 409

    def __init__(self, notice_id: str) -> None:
        super().__init__(
            f"notice {notice_id!r} already exists; change it with PATCH /admin/notices/{notice_id}"
        )
        self.notice_id = notice_id


class ChangeRejected(StatusBoardError):
    """The change does not fit the notice (wrong status for its kind, times out of order)."""

    status: ClassVar[int] = 422


class NoticeUnshowable(StatusBoardError):
    """A notice received from Kafka that the board cannot show; it is dead-lettered, not kept."""
