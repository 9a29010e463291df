"""Errors of the status board, one root; api.py and admin.py map them to HTTP answers."""


class StatusBoardError(Exception):
    """Root of the status board's own errors."""


class NoticeNotFound(StatusBoardError):
    """No notice has this id."""

    def __init__(self, notice_id: str) -> None:
        super().__init__(f"no notice with id {notice_id!r}; list them at /api/notices")
        self.notice_id = notice_id


class NoticeExists(StatusBoardError):
    """A notice with this id already exists, so it cannot be created again."""

    def __init__(self, notice_id: str) -> None:
        super().__init__(
            f"notice {notice_id!r} already exists; change it with PATCH /admin/notices/{notice_id}"
        )
        self.notice_id = notice_id


class ChangeRejected(StatusBoardError):
    """The change does not fit the notice (wrong status for its kind, times out of order)."""


class NoticeUnshowable(StatusBoardError):
    """A notice received from Kafka that the board cannot show; it is dead-lettered, not kept."""
