"""Static export: the public bodies also written as files that any static host or CDN serves.

Each file holds exactly the bytes the board serves at its URL (taken from the snapshot through
`Snapshot.at`), so the notices stay readable when every board process is down. Every file is
written atomically (a temporary file in the same directory, fsync, `os.replace`): a reader sees
the old bytes or the new ones, never part of either. Replicas may share one directory: a pass
holds an exclusive lock on `.lock` there, so two passes never interleave file by file, and a
temporary file found while the lock is held was left by a writer that died.
"""

import fcntl
import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from status_board.snapshot import Snapshot

log = logging.getLogger("status_board")

# (file, the public path it holds, the query) for the fixed bodies, written after the notices
# so that every notice a page links to is there first.
FIXED: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("api/banner.json", "/api/banner", {}),
    ("api/notices.json", "/api/notices", {"state": "all"}),
    ("api/notices-open.json", "/api/notices", {"state": "open"}),
    ("api/notices-closed.json", "/api/notices", {"state": "closed"}),
    ("feed.atom", "/feed.atom", {}),
    ("notifications-closed.html", "/notifications", {"tab": "closed"}),
    ("notifications.html", "/notifications", {"tab": "open"}),
)
# One page and one JSON per public notice: (folder, suffix, the public path's prefix).
PER_NOTICE = (("notices", ".html", "/notices/"), ("api/notices", ".json", "/api/notices/"))
# Ids that are safe as file names (the admin API's id rule); others are served, not exported.
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
LOCK = ".lock"
_TEMP_SUFFIX = ".tmp"
RETRY_S = 5.0


def files_of(snapshot: Snapshot) -> dict[str, bytes]:
    """Every exported file (its path relative to the export directory) with its bytes."""
    files: dict[str, bytes] = {}
    for notice_id in snapshot.notice_ids():
        if not SAFE_ID.fullmatch(notice_id):
            log.warning("notice %r is not exported: its id is not a safe file name", notice_id)
            continue
        for folder, suffix, prefix in PER_NOTICE:
            rendered = snapshot.at(prefix + notice_id, {})
            if rendered is not None:
                files[f"{folder}/{notice_id}{suffix}"] = rendered.body
    for name, path, query in FIXED:
        rendered = snapshot.at(path, query)
        assert rendered is not None, path  # the fixed bodies are always in a snapshot
        files[name] = rendered.body
    return files


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: a reader sees the old bytes or all the new ones.

    The bytes go to a fresh temporary file beside it (so `os.replace` stays on one file
    system), are fsynced, made world-readable for the static host and renamed over `path`.
    On any failure the temporary file is removed and `path` is left as it was.
    """
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def sync_directory(directory: Path) -> None:
    """fsync a directory, so the renames in it survive a crash of the machine."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the export directory's lock (shared by every replica writing there)."""
    with (directory / LOCK).open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def export(directory: Path, files: dict[str, bytes]) -> int:
    """Make the directory hold exactly these files (besides others it does not manage).

    Notice files no longer exported (closed out of the board, turned into district notices)
    are removed first; files whose bytes did not change are left alone. How many files were
    written or removed.
    """
    folders = {directory, *(directory / folder for folder, _, _ in PER_NOTICE)}
    for folder in sorted(folders):
        folder.mkdir(parents=True, exist_ok=True)
    changed: set[Path] = set()
    with locked(directory):
        for place in folders:
            for left in place.glob(f".*{_TEMP_SUFFIX}"):  # only a dead writer leaves one
                left.unlink(missing_ok=True)
        for subfolder, suffix, _ in PER_NOTICE:
            for found in (directory / subfolder).glob(f"*{suffix}"):
                if found.relative_to(directory).as_posix() not in files:
                    found.unlink(missing_ok=True)
                    changed.add(found.parent)
        for name, data in files.items():
            target = directory / name
            if _holds(target, data):
                continue
            write_atomic(target, data)
            changed.add(target.parent)
        for folder in changed:
            sync_directory(folder)
    return len(changed)


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except FileNotFoundError:
        return False


class Exporter:
    """Writes the latest published snapshot to the export directory, off the event loop.

    `publish` only hands the snapshot over; one thread writes, the newest snapshot first
    (snapshots published while it writes collapse into the newest). A failed pass is logged
    and tried again after RETRY_S.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._changed = threading.Condition()
        self._latest: Snapshot | None = None
        self._published = self._written = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="status-board-export", daemon=True)
        self._thread.start()

    def publish(self, snapshot: Snapshot) -> None:
        """Export this snapshot soon (it replaces one not written yet)."""
        with self._changed:
            self._latest = snapshot
            self._published += 1
            self._changed.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the last published snapshot is written; False if it was not in time."""
        with self._changed:
            target = self._published
            return self._changed.wait_for(lambda: self._written >= target, timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what was published, then stop the thread."""
        self.flush(timeout)
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._thread.join(timeout)

    def _run(self) -> None:
        failed = False
        while True:
            with self._changed:
                self._changed.wait_for(
                    lambda: self._closed or self._published > self._written,
                    RETRY_S if failed else None,
                )
                if self._closed:
                    return
                snapshot, generation = self._latest, self._published
            if snapshot is None:
                continue
            failed = not self._write(snapshot)
            if not failed:
                with self._changed:
                    self._written = max(self._written, generation)
                    self._changed.notify_all()

    def _write(self, snapshot: Snapshot) -> bool:
        try:
            export(self.directory, files_of(snapshot))
        except Exception:
            log.exception("static export to %s failed; trying again", self.directory)
            return False
        return True
