"""Errors of the feed under one root; api.py maps them to problem details by `status`."""

from typing import ClassVar

from shared.problems import excerpt


class FeedError(Exception):
    """Root of the feed's errors; `status` is the HTTP status it answers with."""

    status: ClassVar[int] = 400


class CaseNotFound(FeedError):
    """No case with that id or number in the caller's districts."""

    status: ClassVar[int] = 404

    def __init__(self, case_ref: str) -> None:
        super().__init__(
            f"case_ref: no case {excerpt(case_ref)} in your districts: use a case number "
            "(ASCII digits) or a case id (UUID) from GET /cases"
        )


class BadQuery(FeedError):
    """A query parameter breaks a rule; the message names the field and the rule."""

    status: ClassVar[int] = 422


class UnknownZone(BadQuery):
    """`tz` is not a zone of the IANA database."""

    def __init__(self, tz: str) -> None:
        super().__init__(f"tz {excerpt(tz)} is not an IANA time zone: send e.g. tz=America/Chicago")


class NotYourDistrict(BadQuery):
    """`account_id` names a district the caller does not belong to."""

    def __init__(self, account_id: str) -> None:
        super().__init__(f"account_id {excerpt(account_id)} is not one of your districts: omit it")


class BadWait(FeedError):
    """`wait` is outside the seconds a reader may wait for a command's outcome."""

    status: ClassVar[int] = 400

    def __init__(self, wait: float, longest: float) -> None:
        super().__init__(f"wait: {wait:g} is outside 0 to {longest:g} seconds: send e.g. wait=5")
