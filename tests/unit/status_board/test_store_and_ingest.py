"""The local store and ingest: highest revision kept, durable across restarts, outbox after ack."""

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.events import Notice, NoticePublished, NoticeUpdated
from status_board.app import create_board
from status_board.handlers import Outcome, on_notice_record
from status_board.logic import Tab
from status_board.relay import send_pending
from status_board.service import Board
from status_board.settings import Settings
from status_board.store import NoticeStore

T0 = datetime(2024, 7, 30, 18, 27, tzinfo=UTC)
Make = Callable[..., Notice]


def _record(notice: Notice, **envelope: Any) -> bytes:
    return NoticeUpdated(notice=notice, **envelope).model_dump_json().encode()


def test_ingest_keeps_highest_revision(board: Board, make_notice: Make) -> None:
    """A newer revision replaces the held one; an older one or the same event again is ignored."""
    held = _record(make_notice(revision=2))
    assert on_notice_record(board, b"n1", held) is Outcome.KEPT
    older = _record(make_notice(revision=1, title="old"))
    assert on_notice_record(board, b"n1", older) is Outcome.KNOWN
    assert on_notice_record(board, b"n1", held) is Outcome.KNOWN
    assert board.current("n1").title == "Digicert Incident"


def test_tombstone_drops_the_notice(board: Board, make_notice: Make) -> None:
    """A null value on the compacted topic removes the notice."""
    on_notice_record(board, b"n1", _record(make_notice()))
    assert on_notice_record(board, b"n1", None) is Outcome.DROPPED
    assert board.store.get("n1") is None


def test_unknown_type_is_skipped_and_garbage_raises(board: Board) -> None:
    """A type from a newer contract is skipped; a malformed record is left to the DLQ."""
    assert on_notice_record(board, b"x", b'{"type": "notice.archived"}') is Outcome.SKIPPED
    with pytest.raises(ValidationError):
        on_notice_record(board, b"x", b"{not json")


def test_store_survives_restart(settings: Settings, make_notice: Make) -> None:
    """What was held, and when Kafka was last heard, is there after reopening."""
    first = create_board(settings)
    first.store.keep(NoticeUpdated(notice=make_notice(), occurred_at=T0))
    first.heard()
    first.store.close()
    second = create_board(settings)
    assert second.current("n1").title == "Digicert Incident"
    assert second.last_heard is not None
    assert b"Digicert Incident" in second.snapshot().pages[Tab.OPEN].body
    second.store.close()


def test_store_uses_wal(settings: Settings) -> None:
    """The SQLite file runs in WAL mode."""
    store = NoticeStore(settings.db_path)
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


class FakeBroker:
    """Acknowledges the first `acks` publishes, then fails like an unreachable Kafka."""

    def __init__(self, acks: int) -> None:
        self.acks = acks
        self.published: list[tuple[bytes, str, bytes]] = []

    async def publish(self, body: bytes, *, topic: str, key: bytes, headers: Any) -> None:
        if len(self.published) >= self.acks:
            raise ConnectionError("kafka went away")
        self.published.append((body, topic, key))


async def test_outbox_row_is_sent_only_after_the_ack(board: Board, make_notice: Make) -> None:
    """Rows Kafka did not acknowledge stay pending and go out, unchanged, on the next try."""
    for i in range(3):
        board.write(NoticePublished(notice=make_notice(id=f"n{i}")))
    ids = [row.event_id for row in board.store.pending()]
    flaky = FakeBroker(acks=2)
    with pytest.raises(ConnectionError):
        await send_pending(board, flaky, "incident.events")  # type: ignore[arg-type]
    assert [row.event_id for row in board.store.pending()] == ids[2:]
    healthy = FakeBroker(acks=10)
    assert await send_pending(board, healthy, "incident.events") == 1  # type: ignore[arg-type]
    assert board.store.outbox_counts() == (0, 3)
    [(body, topic, key)] = healthy.published
    assert (topic, key) == ("incident.events", b"n2")
    assert NoticePublished.model_validate_json(body).event_id == ids[2]


def test_read_path_imports_no_kafka_or_mongo(tmp_path: Path) -> None:
    """Importing and using the public app loads no aiokafka, faststream, pymongo or bson."""
    script = f"""
import sys
from fastapi.testclient import TestClient
from status_board.app import create_public_app
from status_board.settings import Settings
app = create_public_app(Settings(data_dir={str(tmp_path)!r}))
client = TestClient(app)
for path in ("/", "/notifications?tab=closed", "/feed.atom", "/api/banner", "/api/notices"):
    assert client.get(path).status_code == 200, path
assert client.get("/notices/x").status_code == 404
clients = {{"aiokafka", "faststream", "pymongo", "bson"}}
print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in clients)))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""


def test_same_revision_conflict_converges_whatever_the_order(
    settings: Settings, make_notice: Make
) -> None:
    """Two replicas that both made revision 2 end up holding the same one (the later event)."""
    early = NoticeUpdated(notice=make_notice(revision=2, title="A"), occurred_at=T0)
    late = NoticeUpdated(
        notice=make_notice(revision=2, title="B"), occurred_at=T0 + timedelta(seconds=1)
    )
    held = []
    for order, name in (((early, late), "one"), ((late, early), "two")):
        store = NoticeStore(settings.data_dir / f"{name}.sqlite3")
        for event in order:
            store.keep(event)
        held.append(store.get("n1"))
        store.close()
    assert [notice.title for notice in held if notice] == ["B", "B"]
