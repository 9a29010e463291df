"""Static export: atomic file writes, the served bytes as files, replicas sharing a directory."""

import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from shared.events import Notice, NoticeUpdated
from status_board import export
from status_board.app import create_board, create_public_app
from status_board.export import write_atomic
from status_board.service import Board
from status_board.settings import Settings
from tests.unit.status_board.conftest import FakeClock

T0 = datetime(2024, 7, 30, 18, 27, tzinfo=UTC)
Make = Callable[..., Notice]
# Each exported file and the public URL whose bytes it must hold.
URLS = {
    "notifications.html": "/notifications",
    "notifications-closed.html": "/notifications?tab=closed",
    "feed.atom": "/feed.atom",
    "api/banner.json": "/api/banner",
    "api/notices.json": "/api/notices",
    "api/notices-open.json": "/api/notices?state=open",
    "api/notices-closed.json": "/api/notices?state=closed",
}


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """The export directory (not created: the board makes it)."""
    return tmp_path / "public"


@pytest.fixture
def exporting(settings: Settings, clock: FakeClock, out: Path) -> Iterator[Board]:
    """A board that exports to `out`."""
    board = create_board(settings.model_copy(update={"export_dir": out}), clock=clock)
    yield board
    board.close()


def _hold(board: Board, *notices: Notice) -> None:
    for notice in notices:
        board.store.keep(NoticeUpdated(notice=notice, occurred_at=T0))
    board.heard()
    board.caught_up()
    board.refresh()
    assert board.exporter is not None
    assert board.exporter.flush(10)


async def _served(board: Board, url: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_public_app(board=board))
    async with httpx.AsyncClient(transport=transport, base_url="http://status.test") as client:
        return await client.get(url)


# --- write_atomic -----------------------------------------------------------------------


def test_write_atomic_replaces_the_file_readable_by_a_static_host(tmp_path: Path) -> None:
    """The new bytes replace the old, mode 0644, and no temporary file is left beside."""
    path = tmp_path / "page.html"
    path.write_bytes(b"old")
    write_atomic(path, b"new bytes")
    assert path.read_bytes() == b"new bytes"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]


def test_write_atomic_that_fails_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails before the rename (here fsync) keeps the old bytes, no temp file."""
    path = tmp_path / "feed.atom"
    path.write_bytes(b"old feed")

    def broken(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError, match="No space"):
        write_atomic(path, b"new feed")
    assert path.read_bytes() == b"old feed"
    assert [p.name for p in tmp_path.iterdir()] == ["feed.atom"]


# A replica's writes, in a process of its own: `python -c WRITER path fill rounds`.
WRITER = """
import sys
from pathlib import Path
from status_board.export import write_atomic
for _ in range(int(sys.argv[3])):
    write_atomic(Path(sys.argv[1]), sys.argv[2].encode() * 200_000)
"""


def test_replicas_writing_one_file_never_leave_a_torn_one(tmp_path: Path) -> None:
    """Two processes rewrite the same file while it is read: every read is one whole version."""
    path = tmp_path / "notifications.html"
    write_atomic(path, b"a" * 200_000)
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), fill, "150"])
        for fill in ("a", "b")
    ]
    seen = set()
    while any(writer.poll() is None for writer in writers):
        data = path.read_bytes()
        assert len(data) == 200_000, "a partial file was read"
        assert len(set(data)) == 1, "a torn file was read"
        seen.add(data[:1])
    assert [writer.wait() for writer in writers] == [0, 0]
    assert seen <= {b"a", b"b"}
    assert [p.name for p in tmp_path.iterdir()] == ["notifications.html"]


def test_a_pass_removes_what_a_dead_writer_left(tmp_path: Path) -> None:
    """A temporary file found under the lock was left by a crashed writer and is removed."""
    (tmp_path / "notices").mkdir()
    (tmp_path / ".feed.atom.x1y2.tmp").write_bytes(b"half")
    (tmp_path / "notices" / ".a.html.x1.tmp").write_bytes(b"half")
    (tmp_path / "robots.txt").write_bytes(b"kept")
    export.export(tmp_path, {"feed.atom": b"<feed/>"})
    names = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert names == [".lock", "feed.atom", "robots.txt"]


# --- the board's export -----------------------------------------------------------------


def test_export_is_off_unless_configured(settings: Settings) -> None:
    """No STATUS_BOARD_EXPORT_DIR (or an empty one): no exporter, nothing written."""
    assert settings.export_dir is None
    assert Settings(data_dir=settings.data_dir, export_dir="").export_dir is None
    board = create_board(settings)
    assert board.exporter is None
    board.close()


def test_export_at_start(exporting: Board, out: Path) -> None:
    """At start the board writes its page, feed, JSON and banner (here: status unknown)."""
    assert exporting.exporter is not None
    assert exporting.exporter.flush(10)
    assert sorted(URLS) == sorted(
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != ".lock"
    )
    assert b"Status unknown" in (out / "notifications.html").read_bytes()


async def test_exported_bytes_are_the_served_bytes(
    exporting: Board, out: Path, make_notice: Make
) -> None:
    """Every exported file equals the body the board serves at its URL, notices included."""
    _hold(exporting, make_notice(id="outage", title="Login outage"))
    for name, url in URLS.items():
        served = await _served(exporting, url)
        assert served.status_code == 200
        assert (out / name).read_bytes() == served.content, name
    for name, url in {
        "notices/outage.html": "/notices/outage",
        "api/notices/outage.json": "/api/notices/outage",
    }.items():
        assert (out / name).read_bytes() == (await _served(exporting, url)).content
    assert b"Login outage" in (out / "notifications.html").read_bytes()
    assert b"Login outage" in (out / "feed.atom").read_bytes()


def test_export_follows_changes_and_keeps_district_notices_out(
    exporting: Board, out: Path, make_notice: Make
) -> None:
    """A notice turned into a district notice leaves the export; district notices never enter."""
    _hold(
        exporting,
        make_notice(id="outage", title="Login outage"),
        make_notice(id="bayside-sis", title="Bayside SIS", affected_account_ids=["bayside"]),
    )
    assert (out / "notices" / "outage.html").exists()
    assert not (out / "notices" / "bayside-sis.html").exists()
    assert b"bayside" not in b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    _hold(exporting, make_notice(id="outage", revision=2, affected_account_ids=["bayside"]))
    assert not (out / "notices" / "outage.html").exists()
    assert not (out / "api" / "notices" / "outage.json").exists()
    assert b"Login outage" not in (out / "notifications.html").read_bytes()


def test_a_failed_pass_is_tried_again(
    tmp_path: Path, exporting: Board, out: Path, make_notice: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export that fails (the disk refuses) is logged and written once the disk takes it."""
    assert exporting.exporter is not None
    assert exporting.exporter.flush(10)
    calls = []
    real = export.export

    def flaky(directory: Path, files: dict[str, bytes]) -> int:
        calls.append(directory)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return real(directory, files)

    monkeypatch.setattr(export, "RETRY_S", 0.05)
    monkeypatch.setattr(export, "export", flaky)
    _hold(exporting, make_notice(id="outage", title="Login outage"))
    assert len(calls) >= 2
    assert b"Login outage" in (out / "notifications.html").read_bytes()


def test_unsafe_ids_are_served_but_not_exported(out: Path, exporting: Board) -> None:
    """A notice id that is no safe file name (from Kafka) is left out of the export only."""
    notice = Notice.model_validate(
        {
            "id": "../evil",
            "kind": "incident",
            "title": "Odd id",
            "body": "x",
            "status": "Investigating",
            "starts_at": T0,
        }
    )
    _hold(exporting, notice)
    assert exporting.snapshot().notice("../evil") is not None
    assert not (out.parent / "evil.html").exists()
    assert sorted(p.name for p in (out / "notices").iterdir()) == []


def test_replicas_share_one_directory(
    settings: Settings, clock: FakeClock, out: Path, make_notice: Make
) -> None:
    """Two boards exporting to one directory leave one complete export, the last one's."""
    boards = [
        create_board(
            settings.model_copy(update={"export_dir": out, "data_dir": settings.data_dir / n}),
            clock=clock,
        )
        for n in ("a", "b")
    ]
    try:
        for board in boards:
            _hold(board, make_notice(id="outage", title="Login outage"))
        files = export.files_of(boards[-1].snapshot())
        for name, data in files.items():
            assert (out / name).read_bytes() == data
    finally:
        for board in boards:
            board.close()
