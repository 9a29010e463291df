"""Fixtures of the status board unit tests: a board on a temporary store with a clock we move."""

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from shared.enums import NoticeKind, NoticeStatus
from shared.events import Notice
from status_board.app import create_admin_app, create_board, create_public_app
from status_board.service import Board
from status_board.settings import Settings

ADMIN_TOKEN = "unit-admin-token-of-24-chars"
START = datetime(2024, 7, 30, 18, 27, tzinfo=UTC)  # 01:27 PM CDT


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    """Starts at Jul 30, 2024, 01:27 PM CDT."""
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh data dir and a known admin token."""
    return Settings(
        data_dir=tmp_path / "board",
        admin_token=ADMIN_TOKEN,
        public_url="http://status.test",
        stale_after_s=60,
        replica_id="unit",
    )


@pytest.fixture
def board(settings: Settings, clock: FakeClock) -> Iterator[Board]:
    """A board on an empty store, Kafka never heard from."""
    board = create_board(settings, clock=clock)
    yield board
    board.store.close()


@pytest.fixture
async def public(board: Board) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the public app."""
    transport = httpx.ASGITransport(app=create_public_app(board=board))
    async with httpx.AsyncClient(transport=transport, base_url="http://status.test") as client:
        yield client


@pytest.fixture
async def admin(board: Board) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the admin app, with the admin token."""
    transport = httpx.ASGITransport(app=create_admin_app(board=board))
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://admin.test", headers=headers
    ) as client:
        yield client


NoticeFactory = Callable[..., Notice]


@pytest.fixture
def make_notice() -> NoticeFactory:
    """Build a notice; keyword arguments override the defaults."""

    def make(**fields: object) -> Notice:
        kind = fields.get("kind", NoticeKind.INCIDENT)
        default_status = (
            NoticeStatus.INVESTIGATING if kind is NoticeKind.INCIDENT else NoticeStatus.SCHEDULED
        )
        data: dict[str, object] = {
            "id": "n1",
            "kind": kind,
            "title": "Digicert Incident",
            "body": "Certificates are being reissued.",
            "status": default_status,
            "starts_at": START,
        }
        return Notice.model_validate(data | fields)

    return make
