"""Maintenance starts and completes on its own at its times (an injected clock drives it)."""

import asyncio
from datetime import UTC, datetime, timedelta

from shared.enums import NoticeKind, NoticeStatus
from shared.events import NOTICE_EVENTS, Notice, NoticeUpdated
from status_board.app import run_maintenance_clock
from status_board.service import Board
from tests.unit.status_board.conftest import FakeClock

T0 = datetime(2024, 7, 30, 18, 27, tzinfo=UTC)
START, END = T0 + timedelta(days=14), T0 + timedelta(days=14, hours=2)


def _announce(board: Board) -> None:
    notice = Notice(
        id="upgrade",
        kind=NoticeKind.MAINTENANCE,
        title="Database upgrade",
        body="Short outage expected.",
        status=NoticeStatus.SCHEDULED,
        starts_at=START,
        ends_at=END,
    )
    board.create(notice)


def test_maintenance_moves_at_its_times(board: Board, clock: FakeClock) -> None:
    """Nothing before the start; In Progress at the start; Completed at the end; then nothing."""
    _announce(board)
    assert board.tick() == 0
    clock.now = START
    assert board.tick() == 1
    assert board.current("upgrade").status is NoticeStatus.IN_PROGRESS
    assert board.snapshot().view.banner.colour == "green"
    clock.now = END + timedelta(seconds=3)
    assert board.tick() == 1
    assert board.current("upgrade").status is NoticeStatus.COMPLETED
    assert board.tick() == 0
    assert board.snapshot().view.banner.state != "maintenance"


def test_each_move_goes_to_the_outbox(board: Board, clock: FakeClock) -> None:
    """Kafka and the other replicas learn of each move: one outbox row per move."""
    _announce(board)
    clock.now = END
    board.tick()
    events = [NOTICE_EVENTS.validate_json(row.payload) for row in board.store.pending()]
    assert [event.type for event in events] == ["notice.published", "notice.resolved"]
    assert events[-1].notice.updates[0].at == END


def test_move_already_made_by_another_replica_is_not_repeated(
    board: Board, clock: FakeClock
) -> None:
    """When the move arrived from Kafka first, the clock finds nothing to do."""
    _announce(board)
    moved = board.current("upgrade").model_copy(
        update={"status": NoticeStatus.IN_PROGRESS, "revision": 2}
    )
    board.store.keep(NoticeUpdated(notice=moved, occurred_at=START))
    clock.now = START + timedelta(minutes=1)
    assert board.tick() == 0


async def test_background_clock_task_makes_the_move(board: Board, clock: FakeClock) -> None:
    """The process's periodic task (not only Board.tick) moves maintenance when it is due."""
    board.settings.maintenance_tick_s = 0.01
    _announce(board)
    clock.now = START
    task = asyncio.create_task(run_maintenance_clock(board))
    try:
        for _ in range(100):
            if board.current("upgrade").status is NoticeStatus.IN_PROGRESS:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert board.current("upgrade").status is NoticeStatus.IN_PROGRESS
