"""Real process and real Kafka: a bad record read or a record refused never stalls the board."""

import asyncio
from datetime import UTC, datetime

import httpx

import devstack
from shared.enums import NoticeKind, NoticeStatus
from shared.events import NOTICE_EVENTS, Notice, NoticePublished
from shared.kafka import ensure_topics
from shared.topics import Topics, TopicSpec
from status_board.store import NoticeStore
from tests.integration.status_board.conftest import (
    BoardFactory,
    BoardProcess,
    as_record,
    produce,
    read_all,
    wait_for,
)

T0 = datetime(2024, 7, 30, 18, 27, tzinfo=UTC)
FIRST_DAY = datetime.min.replace(tzinfo=UTC)  # 0001-01-01T00:00:00Z


def _notice(notice_id: str, title: str, **fields: object) -> Notice:
    data: dict[str, object] = {
        "id": notice_id,
        "kind": NoticeKind.INCIDENT,
        "title": title,
        "body": "Investigating.",
        "status": NoticeStatus.INVESTIGATING,
        "starts_at": T0,
    }
    return Notice.model_validate(data | fields)


def _page_has(board: BoardProcess, text: str) -> bool:
    try:
        return text in httpx.get(f"{board.url}/", timeout=5).text
    except httpx.TransportError:
        return False


async def test_year_one_notice_from_kafka_is_dead_lettered_and_a_restart_serves(
    stack: devstack.StackSettings, start_board: BoardFactory, namespace: str
) -> None:
    """A year-one notice read from Kafka goes to the DLQ; the one after it shows; restarts work."""
    topic = Topics(namespace).incident_events
    await ensure_topics(stack.kafka_bootstrap, [TopicSpec(topic, partitions=1, compacted=True)])
    bad = NoticePublished(notice=_notice("bad", "Year one", starts_at=FIRST_DAY))
    good = NoticePublished(notice=_notice("good", "Login outage"))
    await produce(stack.kafka_bootstrap, topic, as_record(bad), as_record(good))
    board = start_board(kafka=stack.kafka_bootstrap)
    await asyncio.to_thread(wait_for, lambda: _page_has(board, "Login outage"), 30, "good notice")
    dead = await read_all(stack.kafka_bootstrap, f"{topic}.dlq")
    assert [record.key for record in dead] == [b"bad"]
    assert b"NoticeUnshowable" in dict(dead[0].headers)["x-error"]
    board.restart()
    assert await asyncio.to_thread(_page_has, board, "Login outage")
    assert not await asyncio.to_thread(_page_has, board, "Year one")
    with board.admin() as admin:
        body = {"id": "next", "title": "Mail delays", "body": "Investigating."}
        assert (
            await asyncio.to_thread(admin.post, "/admin/incidents", json=body)
        ).status_code == 201


def _outbox(board: BoardProcess) -> dict[str, int]:
    with board.admin() as admin:
        return dict(admin.get("/admin/outbox").json())


async def test_relay_dead_letters_a_row_kafka_refuses_and_goes_on(
    stack: devstack.StackSettings, start_board: BoardFactory, namespace: str
) -> None:
    """A 1.1 MB outbox row (over Kafka's 1 MiB) goes to incident.events.dlq; the next is sent."""
    board = start_board(kafka=stack.kafka_bootstrap, run=False)
    store = NoticeStore(board.db_path)
    store.write(NoticePublished(notice=_notice("huge", "Huge", body="x" * 1_100_000)))
    store.write(NoticePublished(notice=_notice("after", "Mail delays")))
    store.close()
    board.start()
    await asyncio.to_thread(wait_for, lambda: _outbox(board)["pending"] == 0, 60, "outbox drained")
    counts = await asyncio.to_thread(_outbox, board)
    assert (counts["sent"], counts["refused"]) == (1, 1)
    topic = Topics(namespace).incident_events
    sent = await read_all(stack.kafka_bootstrap, topic)
    assert [NOTICE_EVENTS.validate_json(r.value).notice.id for r in sent] == ["after"]
    [dead] = await read_all(stack.kafka_bootstrap, f"{topic}.dlq")
    assert dead.key == b"huge"
    assert b"MessageSizeTooLarge" in dict(dead.headers)["x-error"]
