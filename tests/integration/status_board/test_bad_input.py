"""Real process with bad records in its store: it starts, serves, and refuses bad input unstored."""

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.enums import NoticeKind, NoticeStatus
from shared.events import Notice, NoticePublished, NoticeUpdate
from status_board.store import NoticeStore
from tests.integration.status_board.conftest import DEAD_KAFKA, BoardProcess

ATOM = "{http://www.w3.org/2005/Atom}"
T0 = datetime(2024, 7, 30, 18, 27, tzinfo=UTC)
YEAR_ONE = "0001-01-01T00:00:00Z"
FIRST_DAY = datetime.min.replace(tzinfo=UTC)  # 0001-01-01T00:00:00Z
CTRL = "ctrl \u0001\u000b"


def _notice(notice_id: str, **fields: object) -> Notice:
    data: dict[str, object] = {
        "id": notice_id,
        "kind": NoticeKind.INCIDENT,
        "title": "Login outage",
        "body": "Investigating.",
        "status": NoticeStatus.INVESTIGATING,
        "starts_at": T0,
    }
    return Notice.model_validate(data | fields)


def _updates(count: int, body: str) -> list[NoticeUpdate]:
    at = [T0 + timedelta(minutes=i) for i in range(count, 0, -1)]
    return [NoticeUpdate(at=t, status=NoticeStatus.INVESTIGATING, body=body) for t in at]


def _seed(path: Path) -> None:
    """What the old code could leave in a store: a year-one notice (stored and queued, as the
    500 left it), control characters, 100 updates, and a notice close to the size limit."""
    store = NoticeStore(path)
    store.write(NoticePublished(notice=_notice("year-one", title="Year one", starts_at=FIRST_DAY)))
    ctrl = _notice("ctrl", title=CTRL, body=f"body {CTRL}", updates=_updates(1, f"up {CTRL}"))
    for notice in (
        ctrl,
        _notice("many", title="Many updates", updates=_updates(100, "Still looking.")),
        _notice("large", title="Large updates", updates=_updates(52, "x" * 10_000)),
        _notice("good", title="Mail delays"),
    ):
        store.keep(NoticePublished(notice=notice, occurred_at=T0))
    store.close()


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoardProcess]:
    """One board (Kafka down) started on a store seeded with bad records."""
    data = tmp_path_factory.mktemp("held")
    process = BoardProcess(data / "board", DEAD_KAFKA, "unused")
    process.data_dir.mkdir()
    _seed(process.db_path)
    yield process.start()
    process.stop()


def _queued(board: BoardProcess) -> tuple[list[str], int]:
    with board.admin() as admin:
        ids = sorted(notice["id"] for notice in admin.get("/admin/notices").json())
        return ids, int(admin.get("/admin/outbox").json()["pending"])


def test_starts_and_serves_with_a_year_one_notice_held(board: BoardProcess) -> None:
    """The year-one notice (the old OverflowError at start) is left out; the rest is served."""
    with board.public() as public:
        page = public.get("/")
        assert page.status_code == 200
        assert "Mail delays" in page.text
        assert "Year one" not in page.text
        assert public.get("/notices/year-one").status_code == 404
        ET.fromstring(public.get("/feed.atom").content)
    with board.admin() as admin:
        body = {"id": "after", "title": "Printing down", "body": "Investigating."}
        assert admin.post("/admin/incidents", json=body).status_code == 201
    with board.public() as public:
        assert "Printing down" in public.get("/").text


def test_year_one_start_is_422_and_nothing_is_stored_or_queued(board: BoardProcess) -> None:
    """The issue's payload, and epoch 0, are a 422 naming starts_at; nothing is stored or queued."""
    before = _queued(board)
    body = {"title": "Login outage", "body": "Investigating.", "starts_at": YEAR_ONE}
    with board.admin() as admin:
        for starts_at in (YEAR_ONE, "1970-01-01T00:00:00Z", 0):
            response = admin.post("/admin/incidents", json=body | {"starts_at": starts_at})
            assert (response.status_code, "starts_at" in response.text) == (422, True)
    assert _queued(board) == before
    with board.admin() as admin:
        assert admin.post("/admin/incidents", json=body | {"starts_at": None}).status_code == 201


def test_every_admin_date_field_is_checked(board: BoardProcess) -> None:
    """Maintenance times, update and resolve `at`, PATCHed times: out of range is a 422."""
    soon = datetime.now(UTC) + timedelta(days=14)
    window = {"starts_at": soon.isoformat(), "ends_at": (soon + timedelta(hours=2)).isoformat()}
    maintenance = {"title": "Database upgrade", "body": "Planned."} | window
    calls = [
        ("POST", "/admin/maintenance", maintenance | {"starts_at": YEAR_ONE}, "starts_at"),
        ("POST", "/admin/maintenance", maintenance | {"ends_at": YEAR_ONE}, "ends_at"),
        ("POST", "/admin/notices/good/updates", {"body": "B.", "at": YEAR_ONE}, "at"),
        ("POST", "/admin/notices/good/resolve", {"at": YEAR_ONE}, "at"),
        ("PATCH", "/admin/notices/good", {"starts_at": YEAR_ONE}, "starts_at"),
        ("PATCH", "/admin/notices/good", {"ends_at": "9999-12-31T23:59:59-05:00"}, "ends_at"),
    ]
    before = _queued(board)
    with board.admin() as admin:
        for method, path, body, field in calls:
            response = admin.request(method, path, json=body)
            assert (response.status_code, field in response.text) == (422, True), path
        assert admin.get("/admin/notices/good").json()["revision"] == 1
    assert _queued(board) == before


def test_control_characters_are_refused_at_write(board: BoardProcess) -> None:
    """The issue's title "ctrl \\u0001\\u000b", or such an update body: 422 naming the field."""
    before = _queued(board)
    with board.admin() as admin:
        titled = admin.post("/admin/incidents", json={"title": CTRL, "body": "Investigating."})
        assert (titled.status_code, "title" in titled.text) == (422, True)
        update = admin.post("/admin/notices/good/updates", json={"body": CTRL})
        assert (update.status_code, "body" in update.text) == (422, True)
    assert _queued(board) == before


def test_held_control_characters_never_make_the_feed_invalid(board: BoardProcess) -> None:
    """A notice held with control characters still gives a valid Atom feed, without them."""
    with board.public() as public:
        feed = public.get("/feed.atom")
        assert feed.status_code == 200
        titles = [
            e.findtext(f"{ATOM}title") for e in ET.fromstring(feed.content).iter(f"{ATOM}entry")
        ]
        assert "Incident: ctrl  (Investigating)" in titles
        assert public.get("/notices/ctrl").status_code == 200


def test_sizes_are_capped_at_the_api(board: BoardProcess) -> None:
    """Title 200, body 10,000, 500 districts, 100 updates, 512 KiB per event: beyond is a 422."""
    base = {"title": "Login outage", "body": "Investigating."}
    before = _queued(board)
    with board.admin() as admin:
        for field, value in (
            ("title", "t" * 201),
            ("body", "b" * 10_001),
            ("affected_account_ids", [f"district-{i}" for i in range(501)]),
        ):
            response = admin.post("/admin/incidents", json=base | {field: value})
            assert (response.status_code, field in response.text) == (422, True), field
        full = admin.post("/admin/notices/many/updates", json={"body": "One more."})
        assert (full.status_code, "100 updates" in full.text) == (422, True)
        big = admin.post("/admin/notices/large/updates", json={"body": "y" * 10_000})
        assert (big.status_code, "524,288 bytes" in big.text) == (422, True)
    assert _queued(board) == before
