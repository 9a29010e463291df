"""The feed's errors: one root, the status each answers with, and a message that says the fix."""

import pytest

from feed.errors import BadQuery, BadWait, CaseNotFound, FeedError, NotYourDistrict, UnknownZone


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (
            CaseNotFound("1000003"),
            404,
            "case_ref: no case '1000003' in your districts: use a case number (ASCII digits) "
            "or a case id (UUID) from GET /cases",
        ),
        (
            UnknownZone("Central"),
            422,
            "tz 'Central' is not an IANA time zone: send e.g. tz=America/Chicago",
        ),
        (
            NotYourDistrict("ridgemont"),
            422,
            "account_id 'ridgemont' is not one of your districts: omit it",
        ),
        (BadWait(11, 10), 400, "wait: 11 is outside 0 to 10 seconds: send e.g. wait=5"),
    ],
)
def test_each_error_has_its_status_and_fix(error: FeedError, status: int, message: str) -> None:
    """Every feed error is a FeedError with its HTTP status and a message naming the fix."""
    assert (isinstance(error, FeedError), error.status, str(error)) == (True, status, message)


def test_a_long_input_is_quoted_only_in_part() -> None:
    """A 5000-character case reference is not echoed whole."""
    message = str(CaseNotFound("9" * 5000))
    assert len(message) < 200
    assert isinstance(UnknownZone("x"), BadQuery)
