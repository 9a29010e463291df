"""Pure decisions: banner colour rules, tab order, revisions, updates and the maintenance clock."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from shared.enums import NoticeKind, NoticeStatus
from shared.events import Notice, NoticePublished, NoticeResolved, NoticeUpdate, NoticeUpdated
from status_board import logic
from status_board.errors import ChangeRejected
from status_board.logic import BannerState, Tab

T0 = datetime(2024, 7, 30, 18, 27, tzinfo=UTC)
INCIDENT, MAINTENANCE = NoticeKind.INCIDENT, NoticeKind.MAINTENANCE
Make = Callable[..., Notice]


def _open_incident(make: Make) -> Notice:
    return make(id="i-open", kind=INCIDENT, status=NoticeStatus.IDENTIFIED)


def _open_maintenance(make: Make) -> Notice:
    return make(id="m-open", kind=MAINTENANCE, starts_at=T0 + timedelta(days=14))


def _closed(make: Make) -> list[Notice]:
    return [
        make(id="i-done", kind=INCIDENT, status=NoticeStatus.RESOLVED, ends_at=T0),
        make(id="m-done", kind=MAINTENANCE, status=NoticeStatus.COMPLETED, ends_at=T0),
    ]


@pytest.mark.parametrize(
    ("incident", "maintenance", "known", "stale", "state", "colour", "label"),
    [
        (False, False, True, False, BannerState.CLEAR, "gray", "No open notifications"),
        (True, False, True, False, BannerState.INCIDENT, "orange", "Incident in progress"),
        (False, True, True, False, BannerState.MAINTENANCE, "green", "Scheduled maintenance"),
        (True, True, True, False, BannerState.INCIDENT, "orange", "Incident in progress"),
        (False, False, True, True, BannerState.CLEAR, "gray", "No open notifications"),
        (True, False, True, True, BannerState.INCIDENT, "orange", "Incident in progress"),
        (False, True, True, True, BannerState.MAINTENANCE, "green", "Scheduled maintenance"),
        (True, True, True, True, BannerState.INCIDENT, "orange", "Incident in progress"),
        (False, False, False, True, BannerState.UNKNOWN, "yellow", "Status unknown"),
        (False, False, False, False, BannerState.UNKNOWN, "yellow", "Status unknown"),
    ],
)
def test_banner_rules(
    make_notice: Make,
    incident: bool,
    maintenance: bool,
    known: bool,
    stale: bool,
    state: BannerState,
    colour: str,
    label: str,
) -> None:
    """Incident wins over maintenance, clear is gray, never-received is unknown; stale is kept."""
    notices = _closed(make_notice) if known else []
    notices += [_open_incident(make_notice)] if incident else []
    notices += [_open_maintenance(make_notice)] if maintenance else []
    banner = logic.banner(notices, known=known, stale=stale)
    assert (banner.state, banner.colour, banner.label, banner.stale) == (
        state,
        colour,
        label,
        stale,
    )
    assert (banner.incidents, banner.maintenance) == (int(incident), int(maintenance))


def test_running_maintenance_says_so(make_notice: Make) -> None:
    """Green with "Maintenance in progress" once a window has started."""
    running = make_notice(kind=MAINTENANCE, status=NoticeStatus.IN_PROGRESS)
    banner = logic.banner([running], known=True, stale=False)
    assert (banner.colour, banner.label) == ("green", "Maintenance in progress")


def test_closed_notices_alone_do_not_colour_the_banner(make_notice: Make) -> None:
    """Resolved incidents and completed maintenance leave the banner gray."""
    assert logic.banner(_closed(make_notice), known=True, stale=False).colour == "gray"


def test_stale_after_threshold() -> None:
    """Live updates are delayed when Kafka was never heard from or longer ago than the limit."""
    limit = timedelta(seconds=60)
    assert logic.is_stale(None, T0, limit)
    assert not logic.is_stale(T0, T0 + timedelta(seconds=60), limit)
    assert logic.is_stale(T0, T0 + timedelta(seconds=61), limit)


def test_open_tab_lists_incidents_newest_first_then_maintenance_soonest(make_notice: Make) -> None:
    """Open: incidents newest first, then maintenance in the order it happens."""
    notices = [
        make_notice(id="i-old", starts_at=T0),
        make_notice(id="i-new", starts_at=T0 + timedelta(hours=1)),
        make_notice(id="m-late", kind=MAINTENANCE, starts_at=T0 + timedelta(days=20)),
        make_notice(id="m-soon", kind=MAINTENANCE, starts_at=T0 + timedelta(days=2)),
        *_closed(make_notice),
    ]
    shown = [notice.id for notice in logic.on_tab(notices, Tab.OPEN, limit=10)]
    assert shown == ["i-new", "i-old", "m-soon", "m-late"]


def test_closed_tab_lists_latest_end_first_up_to_limit(make_notice: Make) -> None:
    """Closed: most recently ended first, capped."""
    notices = [
        make_notice(id=f"c{i}", status=NoticeStatus.RESOLVED, ends_at=T0 + timedelta(hours=i))
        for i in range(5)
    ]
    shown = [notice.id for notice in logic.on_tab(notices, Tab.CLOSED, limit=3)]
    assert shown == ["c4", "c3", "c2"]


def test_update_is_newest_first_sets_status_and_revision(make_notice: Make) -> None:
    """An update goes on top, carries the status and bumps the revision."""
    notice = make_notice()
    first = logic.with_update(notice, NoticeUpdate(at=T0, status=NoticeStatus.IDENTIFIED, body="a"))
    later = T0 + timedelta(minutes=58)
    second = logic.with_update(
        first, NoticeUpdate(at=later, status=NoticeStatus.RESOLVED, body="b")
    )
    assert [u.body for u in second.updates] == ["b", "a"]
    assert (second.status, second.revision, second.ends_at) == (NoticeStatus.RESOLVED, 3, later)


def test_reopening_an_incident_clears_its_end(make_notice: Make) -> None:
    """An open status after resolution reopens the incident without an end time."""
    resolved = make_notice(status=NoticeStatus.RESOLVED, ends_at=T0)
    again = NoticeUpdate(at=T0 + timedelta(hours=1), status=NoticeStatus.INVESTIGATING, body="x")
    assert logic.with_update(resolved, again).ends_at is None


def test_status_must_fit_the_kind(make_notice: Make) -> None:
    """An incident cannot be Scheduled and maintenance cannot be Investigating."""
    with pytest.raises(ChangeRejected, match="cannot be"):
        logic.revised(make_notice(), status=NoticeStatus.SCHEDULED)
    with pytest.raises(ChangeRejected, match="cannot be"):
        logic.check_status(MAINTENANCE, NoticeStatus.INVESTIGATING)


def test_end_before_start_is_rejected(make_notice: Make) -> None:
    """Times must be in order."""
    with pytest.raises(ChangeRejected, match="ends_at"):
        logic.revised(make_notice(), ends_at=T0 - timedelta(minutes=1))


def test_event_type_follows_the_change(make_notice: Make) -> None:
    """Published when new, Resolved when it closes, Updated otherwise."""
    notice = make_notice()
    resolved = logic.revised(notice, status=NoticeStatus.RESOLVED, ends_at=T0)
    assert isinstance(logic.event_for(None, notice), NoticePublished)
    assert isinstance(logic.event_for(notice, resolved), NoticeResolved)
    assert isinstance(logic.event_for(notice, logic.revised(notice, title="x")), NoticeUpdated)


def test_maintenance_moves_on_its_schedule(make_notice: Make) -> None:
    """Scheduled → In Progress at the start, → Completed at the end, at the scheduled times."""
    start, end = T0 + timedelta(days=14), T0 + timedelta(days=14, hours=2)
    notice = make_notice(kind=MAINTENANCE, starts_at=start, ends_at=end)
    assert logic.maintenance_due(notice, start - timedelta(seconds=1)) is None
    started = logic.maintenance_due(notice, start)
    assert isinstance(started, NoticeUpdated)
    assert (started.notice.status, started.occurred_at) == (NoticeStatus.IN_PROGRESS, start)
    assert logic.maintenance_due(started.notice, end - timedelta(seconds=1)) is None
    done = logic.maintenance_due(started.notice, end)
    assert isinstance(done, NoticeResolved)
    assert (done.notice.status, done.notice.updates[0].at) == (NoticeStatus.COMPLETED, end)


def test_maintenance_move_is_deterministic(make_notice: Make) -> None:
    """Two replicas making the same move produce the same event (same id, same bytes)."""
    notice = make_notice(kind=MAINTENANCE, starts_at=T0, ends_at=T0 + timedelta(hours=1))
    one = logic.maintenance_due(notice, T0 + timedelta(minutes=5))
    two = logic.maintenance_due(notice, T0 + timedelta(minutes=7))
    assert one is not None
    assert two is not None
    assert one.model_dump_json() == two.model_dump_json()


def test_overdue_maintenance_completes_in_one_move(make_notice: Make) -> None:
    """Maintenance whose whole window passed while the board was down goes straight to Completed."""
    notice = make_notice(kind=MAINTENANCE, starts_at=T0, ends_at=T0 + timedelta(hours=1))
    moved = logic.maintenance_due(notice, T0 + timedelta(days=1))
    assert moved is not None
    assert moved.notice.status is NoticeStatus.COMPLETED


def test_incidents_never_move_on_their_own(make_notice: Make) -> None:
    """Only maintenance runs on a schedule."""
    assert logic.maintenance_due(make_notice(ends_at=T0), T0 + timedelta(days=1)) is None
