"""What the admin API accepts: plausible dates, plain text, bounded sizes, nothing stored if not."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.enums import NoticeStatus
from shared.events import NoticePublished, NoticeUpdate
from status_board import logic
from status_board.service import Board
from tests.unit.status_board.conftest import START as T0
from tests.unit.status_board.conftest import FakeClock
from tests.unit.status_board.conftest import NoticeFactory as Make

INCIDENT = {"id": "login", "title": "Login outage", "body": "Investigating."}
SOON = datetime.now(UTC) + timedelta(days=14)
MAINTENANCE = {
    "id": "upgrade",
    "title": "Database upgrade",
    "body": "Planned.",
    "starts_at": SOON.isoformat(),
    "ends_at": (SOON + timedelta(hours=2)).isoformat(),
}
BAD_TIMES = [
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-05:00",
    "1970-01-01T00:00:00Z",
    "1999-12-31T23:59:59Z",
    (datetime.now(UTC) + timedelta(days=3660)).isoformat(),
    0,
]


def _nothing_stored(board: Board) -> bool:
    return board.store.all() == [] and board.store.outbox_counts() == (0, 0)


@pytest.mark.parametrize("when", BAD_TIMES)
async def test_implausible_start_is_422_and_stores_nothing(
    board: Board, admin: httpx.AsyncClient, when: object
) -> None:
    """An incident starting in year 1, 9999, at epoch 0 or beyond ten years is refused, unstored."""
    response = await admin.post("/admin/incidents", json=INCIDENT | {"starts_at": when})
    assert response.status_code == 422
    assert "starts_at" in response.text
    assert _nothing_stored(board)


@pytest.mark.parametrize("field", ["starts_at", "ends_at"])
async def test_maintenance_times_are_checked(
    board: Board, admin: httpx.AsyncClient, field: str
) -> None:
    """Both times of a maintenance window must be plausible."""
    response = await admin.post("/admin/maintenance", json=MAINTENANCE | {field: BAD_TIMES[0]})
    assert response.status_code == 422
    assert field in response.text
    assert _nothing_stored(board)


async def test_update_patch_and_resolve_times_are_checked(
    board: Board, admin: httpx.AsyncClient
) -> None:
    """Update, resolve and PATCH times are checked too; the notice stays as it was."""
    assert (await admin.post("/admin/incidents", json=INCIDENT)).status_code == 201
    bad = BAD_TIMES[0]
    calls = [
        ("/admin/notices/login/updates", {"body": "x", "at": bad}, "at"),
        ("/admin/notices/login/resolve", {"at": bad}, "at"),
    ]
    for path, body, field in calls:
        response = await admin.post(path, json=body)
        assert (response.status_code, field in response.text) == (422, True)
    for field in ("starts_at", "ends_at"):
        response = await admin.patch("/admin/notices/login", json={field: bad})
        assert (response.status_code, field in response.text) == (422, True)
    assert board.current("login").revision == 1
    assert board.store.outbox_counts() == (1, 0)


async def test_writes_go_on_after_a_refused_date(
    admin: httpx.AsyncClient, public: httpx.AsyncClient
) -> None:
    """After a refused date the next write and the public page work."""
    await admin.post("/admin/incidents", json=INCIDENT | {"starts_at": BAD_TIMES[0]})
    assert (await admin.post("/admin/incidents", json=INCIDENT)).status_code == 201
    assert "Login outage" in (await public.get("/")).text


@pytest.mark.parametrize("title", ["ctrl \u0001\u000b", "two\nlines", "nul\u0000", "c1\u0085"])
async def test_control_characters_in_a_title_are_refused(
    board: Board, admin: httpx.AsyncClient, title: str
) -> None:
    """A title with control characters (line breaks included) is a 422 naming the title."""
    response = await admin.post("/admin/incidents", json=INCIDENT | {"title": title})
    assert response.status_code == 422
    assert "title" in response.text
    assert _nothing_stored(board)


async def test_update_body_with_control_characters_is_refused(admin: httpx.AsyncClient) -> None:
    """An update body may hold line breaks and tabs, but no other control character."""
    await admin.post("/admin/incidents", json=INCIDENT)
    fine = await admin.post("/admin/notices/login/updates", json={"body": "a\n\tb\r\nc"})
    assert fine.status_code == 200
    bad = await admin.post("/admin/notices/login/updates", json={"body": "ctrl \u0001\u000b"})
    assert bad.status_code == 422
    assert "body" in bad.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "t" * 201),
        ("body", "b" * 10_001),
        ("affected_account_ids", [f"d{i}" for i in range(501)]),
        ("affected_account_ids", ["not a district id"]),
    ],
)
async def test_field_limits(
    board: Board, admin: httpx.AsyncClient, field: str, value: object
) -> None:
    """Title 200 characters, body 10,000, at most 500 district ids: beyond is a 422 naming it."""
    response = await admin.post("/admin/incidents", json=INCIDENT | {field: value})
    assert response.status_code == 422
    assert field in response.text
    assert _nothing_stored(board)


async def test_limits_themselves_are_accepted(admin: httpx.AsyncClient) -> None:
    """Exactly at each limit is fine."""
    body = INCIDENT | {
        "title": "t" * 200,
        "body": "b" * 10_000,
        "affected_account_ids": [f"d{i}" for i in range(500)],
    }
    assert (await admin.post("/admin/incidents", json=body)).status_code == 201


async def test_at_most_a_hundred_updates(
    board: Board, admin: httpx.AsyncClient, clock: FakeClock
) -> None:
    """The 101st update is refused with the limit named; the notice keeps its 100."""
    await admin.post("/admin/incidents", json=INCIDENT)
    for i in range(logic.MAX_UPDATES):
        clock.advance(seconds=1)
        response = await admin.post("/admin/notices/login/updates", json={"body": f"u{i}"})
        assert response.status_code == 200
    refused = await admin.post("/admin/notices/login/updates", json={"body": "one more"})
    assert refused.status_code == 422
    assert "updates" in refused.text
    assert "100" in refused.text
    assert len(board.current("login").updates) == 100


async def test_a_notice_never_outgrows_its_event_limit(
    board: Board, admin: httpx.AsyncClient, make_notice: Make
) -> None:
    """The update that would take the event past 512 KiB is refused with the limit named."""
    big = "x" * 10_000
    updates = [
        NoticeUpdate(at=T0 + timedelta(minutes=i), status=NoticeStatus.INVESTIGATING, body=big)
        for i in range(52, 0, -1)
    ]
    board.store.keep(NoticePublished(notice=make_notice(id="login", updates=updates)))
    refused = await admin.post("/admin/notices/login/updates", json={"body": "y" * 10_000})
    assert refused.status_code == 422
    assert "524,288 bytes" in refused.text
    assert len(board.current("login").updates) == 52
    assert board.store.outbox_counts() == (0, 0)
