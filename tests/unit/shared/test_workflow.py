"""The status state machine: who may move a case where, and what each move needs."""

from datetime import UTC, datetime, timedelta

import pytest

from shared.enums import ActorKind, Status
from shared.workflow import (
    AUTO_CLOSE_BUSINESS_DAYS,
    REOPEN_WINDOW_DAYS,
    TRANSITIONS,
    TransitionRefused,
    allowed_targets,
    can_reopen,
    check_transition,
)
from tests import seed_facts

NOTES = {"note": "written explanation", "development_issue": "DEV-1", "release_name": "2026.11"}
ALL_MOVES = [
    (a, b, who)
    for a in seed_facts.SEED_STATUSES
    for b in seed_facts.SEED_STATUSES
    for who in (seed_facts.CONTACT, seed_facts.STAFF, seed_facts.SYSTEM)
    if a != b
]


def test_the_ten_statuses_are_the_seeds() -> None:
    """The statuses are the seed's ten, in its wording, and each has a row in the table."""
    assert [s.value for s in Status] == list(seed_facts.SEED_STATUSES)
    assert set(TRANSITIONS) == set(Status)


def test_the_transition_table_is_the_seeds_plus_the_listed_extras() -> None:
    """Every (from, to, who) the code allows is a seed move or a listed extra, and no other."""
    got = {
        (a.value, b.value, who.value)
        for a, row in TRANSITIONS.items()
        for b, w in row.items()
        for who in w
    }
    assert got - seed_facts.ALLOWED_MOVES == set(), "moves the seeds do not allow"
    assert seed_facts.ALLOWED_MOVES - got == set(), "seed moves the code refuses"


def test_the_windows_are_the_seeds() -> None:
    """Reopen within 60 days; close after 10 business days without an answer."""
    assert REOPEN_WINDOW_DAYS == seed_facts.REOPEN_WINDOW_DAYS
    assert AUTO_CLOSE_BUSINESS_DAYS == seed_facts.AUTO_CLOSE_BUSINESS_DAYS


@pytest.mark.parametrize(("current", "target", "actor"), ALL_MOVES)
def test_move_is_accepted_exactly_when_the_seeds_allow_it(
    current: str, target: str, actor: str
) -> None:
    """A move with every field filled in succeeds iff the seeds (or a listed extra) allow it."""
    if (current, target, actor) in seed_facts.ALLOWED_MOVES:
        check_transition(Status(current), Status(target), ActorKind(actor), **NOTES)
    else:
        with pytest.raises(TransitionRefused, match="cannot move"):
            check_transition(Status(current), Status(target), ActorKind(actor), **NOTES)


def test_only_the_timer_or_people_close_pending_verification() -> None:
    """The system timer may close a case only from Pending Customer Verification."""
    closers = [s for s in Status if Status.CLOSED in allowed_targets(s, ActorKind.SYSTEM)]
    assert closers == [Status.PENDING_CUSTOMER_VERIFICATION]


def test_contacts_cannot_escalate_or_resolve() -> None:
    """A contact can close, reopen or answer, never set staff statuses."""
    contact_targets = {t for s in Status for t in allowed_targets(s, ActorKind.CONTACT)}
    assert contact_targets == {Status.CLOSED, Status.RE_OPENED, Status.ASSIGNED}


@pytest.mark.parametrize(("current", "target", "actor"), sorted(seed_facts.ALLOWED_MOVES))
def test_an_allowed_move_needs_a_note_exactly_where_the_seeds_say(
    current: str, target: str, actor: str
) -> None:
    """Without a note, a move is refused iff the seeds ask for a written note on its target."""
    fields = {**NOTES, "note": None}
    if target in seed_facts.NOTE_REQUIRED:
        with pytest.raises(TransitionRefused, match="requires a note"):
            check_transition(Status(current), Status(target), ActorKind(actor), **fields)
    else:
        check_transition(Status(current), Status(target), ActorKind(actor), **fields)


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
