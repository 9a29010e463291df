"""The shared banner rule: an open incident wins over open maintenance."""

from datetime import UTC, datetime

from shared.enums import NoticeKind, NoticeStatus
from shared.events import Notice
from shared.notices import leading_notice


def notice(id: str, kind: NoticeKind, status: NoticeStatus, day: int) -> Notice:
    """A notice starting on the given day of September 2021."""
    return Notice(
        id=id,
        kind=kind,
        title=id,
        body="",
        status=status,
        starts_at=datetime(2021, 9, day, 14, 0, tzinfo=UTC),
    )


MAINTENANCE = NoticeKind.MAINTENANCE
INCIDENT = NoticeKind.INCIDENT


def test_nothing_open_leads_with_nothing() -> None:
    """No notices, or only closed ones, give no banner notice."""
    assert leading_notice([]) is None
    closed = [
        notice("fixed", INCIDENT, NoticeStatus.RESOLVED, 1),
        notice("done", MAINTENANCE, NoticeStatus.COMPLETED, 2),
    ]
    assert leading_notice(closed) is None


def test_an_open_incident_wins_over_open_maintenance() -> None:
    """An incident under investigation leads even when maintenance started later."""
    digicert = notice("digicert", INCIDENT, NoticeStatus.INVESTIGATING, 10)
    upgrade = notice("upgrade", MAINTENANCE, NoticeStatus.IN_PROGRESS, 15)
    assert leading_notice([upgrade, digicert]) == digicert


def test_a_resolved_incident_does_not_win() -> None:
    """Once resolved, an incident gives way to open maintenance."""
    fixed = notice("fixed", INCIDENT, NoticeStatus.RESOLVED, 20)
    upgrade = notice("upgrade", MAINTENANCE, NoticeStatus.SCHEDULED, 15)
    assert leading_notice([fixed, upgrade]) == upgrade


def test_the_latest_started_of_a_kind_leads() -> None:
    """Of two open incidents the newer one leads; likewise of two maintenance windows."""
    older = notice("older", INCIDENT, NoticeStatus.MONITORING, 3)
    newer = notice("newer", INCIDENT, NoticeStatus.IDENTIFIED, 9)
    assert leading_notice([older, newer]) == newer
    first = notice("first", MAINTENANCE, NoticeStatus.SCHEDULED, 3)
    second = notice("second", MAINTENANCE, NoticeStatus.SCHEDULED, 9)
    assert leading_notice(iter([second, first])) == second
