"""The status state machine: who may move a case where, and what each move needs."""

from datetime import UTC, datetime, timedelta

import pytest

from shared.enums import ActorKind, Status
from shared.workflow import (
    TRANSITIONS,
    TransitionRefused,
    allowed_targets,
    can_reopen,
    check_transition,
)

NOTES = {"note": "written explanation", "development_issue": "DEV-1", "release_name": "2026.11"}
ALL_MOVES = [(a, b, who) for a in Status for b in Status for who in ActorKind if a is not b]


def _allowed(current: Status, target: Status, actor: ActorKind) -> bool:
    return actor in TRANSITIONS[current].get(target, frozenset())


def test_every_status_has_a_row() -> None:
    """All ten statuses appear in the transition table."""
    assert set(TRANSITIONS) == set(Status)
    assert len(Status) == 10


@pytest.mark.parametrize(("current", "target", "actor"), ALL_MOVES)
def test_move_is_accepted_exactly_when_the_table_allows_it(
    current: Status, target: Status, actor: ActorKind
) -> None:
    """A move with every field filled in succeeds iff the table lists the actor for it."""
    if _allowed(current, target, actor):
        check_transition(current, target, actor, **NOTES)
    else:
        with pytest.raises(TransitionRefused, match="cannot move"):
            check_transition(current, target, actor, **NOTES)


def test_only_the_timer_or_people_close_pending_verification() -> None:
    """The system timer may close a case only from Pending Customer Verification."""
    closers = [s for s in Status if _allowed(s, Status.CLOSED, ActorKind.SYSTEM)]
    assert closers == [Status.PENDING_CUSTOMER_VERIFICATION]


def test_contacts_cannot_escalate_or_resolve() -> None:
    """A contact can close, reopen or answer, never set staff statuses."""
    contact_targets = {t for s in Status for t in allowed_targets(s, ActorKind.CONTACT)}
    assert contact_targets == {Status.CLOSED, Status.RE_OPENED, Status.ASSIGNED}


@pytest.mark.parametrize(
    ("target", "missing", "needs"),
    [
        (Status.PENDING_CUSTOMER_VERIFICATION, "note", "written explanation"),
        (Status.ASSIGNED_TO_DEVELOPMENT, "development_issue", "development_issue"),
        (Status.AVAILABLE_IN_RELEASE, "release_name", "release_name"),
    ],
)
def test_moves_that_need_details_say_which(target: Status, missing: str, needs: str) -> None:
    """Resolution needs its explanation, escalation its issue number, a fix its release."""
    current = {
        Status.PENDING_CUSTOMER_VERIFICATION: Status.ASSIGNED,
        Status.ASSIGNED_TO_DEVELOPMENT: Status.ASSIGNED,
        Status.AVAILABLE_IN_RELEASE: Status.ASSIGNED_TO_DEVELOPMENT,
    }[target]
    fields = {**NOTES, missing: None}
    with pytest.raises(TransitionRefused, match=needs):
        check_transition(current, target, ActorKind.STAFF, **fields)


def test_reopen_works_on_day_60_and_not_day_61() -> None:
    """The 60-day window counts calendar days in the district's time zone."""
    closed = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)  # 16:30 in Chicago, March 2
    assert can_reopen(closed, closed + timedelta(days=60))
    assert not can_reopen(closed, closed + timedelta(days=61))


def test_reopen_window_follows_the_district_day_not_utc() -> None:
    """Closing late evening local time counts from the local date, not the UTC date."""
    closed = datetime(2026, 3, 3, 4, 0, tzinfo=UTC)  # 22:00 March 2 in Chicago
    day_61_local = datetime(2026, 5, 2, 15, 0, tzinfo=UTC)  # May 2 = day 61 from March 2
    assert not can_reopen(closed, day_61_local, "America/Chicago")
    assert can_reopen(closed, day_61_local, "UTC")
