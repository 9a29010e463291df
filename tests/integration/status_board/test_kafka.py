"""Against the real local Kafka: outage writes reach Kafka exactly once; others' notices show."""

import asyncio
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest

import devstack
from shared.enums import NoticeKind, NoticeStatus
from shared.events import NOTICE_EVENTS, Notice, NoticePublished, NoticeResolved
from shared.kafka import ensure_topics
from shared.topics import Topics, TopicSpec
from tests.integration.status_board.conftest import (
    BoardFactory,
    BoardProcess,
    as_record,
    free_port,
    produce,
    read_all,
    wait_for,
)


def _pending(board: BoardProcess) -> int:
    with board.admin() as admin:
        return int(admin.get("/admin/outbox").json()["pending"])


def _fresh(board: BoardProcess) -> bool:
    with board.public() as public:
        return public.get("/api/banner").json()["stale"] is False


async def test_outage_incident_reaches_kafka_exactly_once(
    stack: devstack.StackSettings, start_board: BoardFactory, namespace: str
) -> None:
    """Posted while Kafka is unreachable, shown at once, published once per outbox row later."""
    board = start_board()
    with board.admin() as admin:
        body = {"id": "outage", "title": "Portal down", "body": "Investigating."}
        assert admin.post("/admin/incidents", json=body).status_code == 201
        update = {"body": "Cause found.", "status": "Identified"}
        assert admin.post("/admin/notices/outage/updates", json=update).status_code == 200
    with board.public() as public:
        assert "Portal down" in public.get("/").text
    assert _pending(board) == 2
    await asyncio.sleep(2)  # the relay keeps failing against the dead port meanwhile
    board.restart(kafka=stack.kafka_bootstrap)
    await asyncio.to_thread(wait_for, lambda: _pending(board) == 0, 60, "outbox drained")
    await asyncio.to_thread(wait_for, lambda: _fresh(board), 30, "live updates")
    board.restart()  # a second restart must not send anything again
    board.restart(kafka=stack.kafka_bootstrap)
    await asyncio.sleep(3)
    records = await read_all(stack.kafka_bootstrap, Topics(namespace).incident_events)
    events = [NOTICE_EVENTS.validate_json(r.value) for r in records if r.key == b"outage"]
    assert [(e.type, e.notice.revision) for e in events] == [
        ("notice.published", 1),
        ("notice.updated", 2),
    ]
    assert len(Counter(e.event_id for e in events)) == 2
    assert all(dict(r.headers)["content-type"] == b"application/json" for r in records)


class KafkaDoor:
    """A TCP forwarder to the real broker on a port where nothing listens until it is opened."""

    def __init__(self, bootstrap: str) -> None:
        self.target_host, port = bootstrap.rsplit(":", 1)
        self.target_port = int(port)
        self.port = free_port()
        self.server: asyncio.Server | None = None

    async def open(self) -> None:
        """Kafka "comes back": the port starts accepting and forwarding."""
        self.server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)

    async def close(self) -> None:
        """Stop listening."""
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        await asyncio.gather(_copy(reader, up_writer), _copy(up_reader, writer))


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def test_kafka_returning_is_noticed_without_a_restart(
    stack: devstack.StackSettings, start_board: BoardFactory, namespace: str
) -> None:
    """The same process keeps retrying; once Kafka answers, the outbox drains exactly once."""
    door = KafkaDoor(stack.kafka_bootstrap)
    board = start_board(kafka=f"127.0.0.1:{door.port}")
    try:
        with board.admin() as admin:
            body = {"id": "dns", "title": "DNS failure", "body": "Investigating."}
            assert admin.post("/admin/incidents", json=body).status_code == 201
        await asyncio.sleep(3)
        assert _pending(board) == 1
        await door.open()
        await asyncio.to_thread(wait_for, lambda: _pending(board) == 0, 60, "outbox drained")
        await asyncio.to_thread(wait_for, lambda: _fresh(board), 30, "live updates")
    finally:
        await door.close()
    records = await read_all(stack.kafka_bootstrap, Topics(namespace).incident_events)
    assert [r.key for r in records] == [b"dns"]


def _notice(revision: int, status: NoticeStatus, title: str = "Mail delays") -> Notice:
    return Notice(
        id="mail",
        kind=NoticeKind.INCIDENT,
        title=title,
        body="Emails are delayed.",
        status=status,
        starts_at=datetime(2024, 7, 30, 18, 27, tzinfo=UTC),
        ends_at=datetime(2024, 7, 30, 19, 25, tzinfo=UTC)
        if status is NoticeStatus.RESOLVED
        else None,
        revision=revision,
    )


def _page_has(board: BoardProcess, path: str, text: str) -> bool:
    try:
        return text in httpx.get(f"{board.url}{path}", timeout=5).text
    except httpx.TransportError:
        return False


async def test_notice_from_another_producer_appears(
    stack: devstack.StackSettings, start_board: BoardFactory, namespace: str
) -> None:
    """A notice published to Kafka elsewhere shows; the highest revision wins; replicas agree."""
    topic = Topics(namespace).incident_events
    await ensure_topics(stack.kafka_bootstrap, [TopicSpec(topic, partitions=1, compacted=True)])
    board = start_board(kafka=stack.kafka_bootstrap)
    first = NoticePublished(notice=_notice(1, NoticeStatus.INVESTIGATING))
    await produce(stack.kafka_bootstrap, topic, as_record(first))
    await asyncio.to_thread(
        wait_for, lambda: _page_has(board, "/", "Mail delays"), 30, "notice on the page"
    )
    resolved = NoticeResolved(notice=_notice(2, NoticeStatus.RESOLVED))
    stale = NoticePublished(notice=_notice(1, NoticeStatus.INVESTIGATING, title="Old title"))
    await produce(stack.kafka_bootstrap, topic, as_record(resolved), as_record(stale))
    await asyncio.to_thread(
        wait_for, lambda: _page_has(board, "/notifications?tab=closed", "Mail delays"), 30, "closed"
    )
    second = start_board(kafka=stack.kafka_bootstrap, data="replica-2")
    await asyncio.to_thread(
        wait_for, lambda: _page_has(second, "/api/notices/mail", '"revision":2'), 30, "replica"
    )
    for replica in (board, second):
        notice = (await asyncio.to_thread(httpx.get, f"{replica.url}/api/notices/mail")).json()
        assert (notice["status"], notice["title"]) == ("Resolved", "Mail delays")


async def test_empty_topic_means_all_clear_once_caught_up(
    stack: devstack.StackSettings, start_board: BoardFactory
) -> None:
    """Unknown until the board has read the (empty) topic; then gray, live."""
    board = start_board(kafka=stack.kafka_bootstrap)

    def clear() -> bool:
        with board.public() as public:
            banner = public.get("/api/banner").json()
        return bool(banner["state"] == "clear" and not banner["stale"])

    await asyncio.to_thread(wait_for, clear, 30, "all clear")
    with board.public() as public:
        assert public.get("/api/banner").json()["colour"] == "gray"


@pytest.fixture(autouse=True)
def _no_leftover_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The boards get their settings from BoardProcess.env, never from this process."""
    monkeypatch.delenv("TOPIC_NAMESPACE", raising=False)


async def test_poison_message_goes_to_dlq_and_does_not_block(
    stack: devstack.StackSettings, start_board: BoardFactory, namespace: str
) -> None:
    """A malformed record is dead-lettered with its reason; the notice after it still shows."""
    topic = Topics(namespace).incident_events
    await ensure_topics(stack.kafka_bootstrap, [TopicSpec(topic, partitions=1, compacted=True)])
    good = NoticePublished(notice=_notice(1, NoticeStatus.INVESTIGATING, title="After poison"))
    poison = (b"bad", b'{"type": "notice.published"}')
    await produce(stack.kafka_bootstrap, topic, poison, as_record(good))
    board = start_board(kafka=stack.kafka_bootstrap)
    await asyncio.to_thread(
        wait_for, lambda: _page_has(board, "/", "After poison"), 30, "notice after the poison"
    )
    dead = await read_all(stack.kafka_bootstrap, f"{topic}.dlq")
    assert [record.key for record in dead] == [b"bad"]
    headers = dict(dead[0].headers)
    assert headers["x-original-topic"] == topic.encode()
    assert b"ValidationError" in headers["x-error"]
