"""SQLite store (WAL): the notices the board shows, the outbox to Kafka, and ingest bookkeeping."""

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from shared.events import AnyNoticeEvent, Notice

log = logging.getLogger("status_board.store")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notices (
    id TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    changed_at TEXT NOT NULL,
    tiebreak TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    notice_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (seq) WHERE sent_at IS NULL;
CREATE TABLE IF NOT EXISTS outbox_refused (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    notice_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    refused_at TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Stored:
    """A notice as held, with when its revision happened (the event's time)."""

    notice: Notice
    changed_at: datetime


@dataclass(frozen=True)
class OutboxRow:
    """An event written with a local change, waiting for Kafka's acknowledgement."""

    seq: int
    event_id: UUID
    notice_id: str
    payload: bytes


class NoticeStore:
    """One class for the board's three tables; every write is one durable transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def all(self) -> list[Stored]:
        """Every notice held that can be read; an unreadable row is left out with a warning."""
        rows = self._db.execute("SELECT id, doc, changed_at FROM notices").fetchall()
        decoded = (_decode(notice_id, doc, at) for notice_id, doc, at in rows)
        return [item for item in decoded if item is not None]

    def get(self, notice_id: str) -> Notice | None:
        """One notice, or None (also for an unreadable row, with a warning)."""
        row = self._db.execute(
            "SELECT doc, changed_at FROM notices WHERE id = ?", (notice_id,)
        ).fetchone()
        item = None if row is None else _decode(notice_id, *row)
        return None if item is None else item.notice

    def keep(self, event: AnyNoticeEvent) -> bool:
        """Store a notice read from Kafka if it supersedes the held one; True when it did."""
        with self._transaction() as db:
            return _upsert_newer(db, event)

    def forget(self, notice_id: str) -> bool:
        """Drop a notice (a tombstone on the compacted topic); True when one was held."""
        with self._transaction() as db:
            return db.execute("DELETE FROM notices WHERE id = ?", (notice_id,)).rowcount > 0

    def write(self, event: AnyNoticeEvent) -> bool:
        """Store a local change and its outbox row together; False if that revision is held."""
        with self._transaction() as db:
            if not _upsert_newer(db, event):
                return False
            db.execute(
                "INSERT INTO outbox (event_id, notice_id, revision, payload, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    str(event.event_id),
                    event.notice.id,
                    event.notice.revision,
                    event.model_dump_json(),
                    event.occurred_at.isoformat(),
                ),
            )
            return True

    def pending(self, limit: int = 100) -> list[OutboxRow]:
        """Outbox rows not yet acknowledged by Kafka, oldest first."""
        rows = self._db.execute(
            "SELECT seq, event_id, notice_id, payload FROM outbox"
            " WHERE sent_at IS NULL ORDER BY seq LIMIT ?",
            (limit,),
        ).fetchall()
        return [OutboxRow(seq, UUID(eid), nid, payload.encode()) for seq, eid, nid, payload in rows]

    def mark_sent(self, seq: int, at: datetime) -> None:
        """Kafka acknowledged the row."""
        with self._transaction() as db:
            db.execute("UPDATE outbox SET sent_at = ? WHERE seq = ?", (at.isoformat(), seq))

    def set_aside(self, seq: int, at: datetime, reason: str) -> None:
        """Kafka refused the row for good: move it out of the outbox, keeping it and why."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO outbox_refused (seq, event_id, notice_id, revision, payload,"
                " created_at, refused_at, reason) SELECT seq, event_id, notice_id, revision,"
                " payload, created_at, ?, ? FROM outbox WHERE seq = ?",
                (at.isoformat(), reason[:2000], seq),
            )
            db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def outbox_counts(self) -> tuple[int, int]:
        """(pending, sent) rows of the outbox."""
        row = self._db.execute(
            "SELECT COUNT(*) - COUNT(sent_at), COUNT(sent_at) FROM outbox"
        ).fetchone()
        return int(row[0]), int(row[1])

    def refused_count(self) -> int:
        """Rows Kafka refused for good (kept in outbox_refused)."""
        return int(self._db.execute("SELECT COUNT(*) FROM outbox_refused").fetchone()[0])

    def read_time(self, key: str) -> datetime | None:
        """A bookkeeping time (last heard from Kafka, first caught up), or None."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else _time(row[0])

    def write_time(self, key: str, at: datetime) -> None:
        """Record a bookkeeping time."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, at.isoformat()),
            )

    def readable(self) -> bool:
        """The database answers a read."""
        return self._db.execute("SELECT COUNT(*) FROM notices").fetchone() is not None


def _upsert_newer(db: sqlite3.Connection, event: AnyNoticeEvent) -> bool:
    """Higher revision wins; two different events of one revision (replicas that changed the
    same notice while apart) are settled by time, then event id, so every replica converges.
    The same event again changes nothing."""
    notice, at = event.notice, event.occurred_at.astimezone(UTC)
    cursor = db.execute(
        "INSERT INTO notices (id, revision, changed_at, tiebreak, doc) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET revision = excluded.revision,"
        " changed_at = excluded.changed_at, tiebreak = excluded.tiebreak, doc = excluded.doc"
        " WHERE excluded.revision > notices.revision"
        " OR (excluded.revision = notices.revision AND excluded.tiebreak > notices.tiebreak)",
        (
            notice.id,
            notice.revision,
            at.isoformat(),
            f"{at.isoformat()}|{event.event_id}",
            notice.model_dump_json(),
        ),
    )
    return cursor.rowcount > 0


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _decode(notice_id: str, doc: str, changed_at: str) -> Stored | None:
    try:
        return Stored(Notice.model_validate_json(doc), _time(changed_at))
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        log.warning("notice %r in the store cannot be read, left out: %s", notice_id, exc)
        return None
