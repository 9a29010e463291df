"""Outbox relay: publish locally written events to Kafka, marking each sent only after the ack."""

import asyncio
import contextlib
import json
import logging

from aiokafka.errors import (
    BrokerResponseError,
    ClusterAuthorizationFailedError,
    InvalidTopicError,
    OutOfOrderSequenceNumber,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
    UnsupportedVersionError,
)
from faststream.kafka import KafkaBroker

from shared.kafka import dead_letter_headers, make_broker
from status_board import logic
from status_board.ingest import ensure_notice_topics, retry_forever
from status_board.service import Board
from status_board.store import OutboxRow

log = logging.getLogger("status_board.relay")

# The broker (or the client, before sending) refused the record itself: no retry can succeed.
# Non-retriable errors about the whole producer, topic or cluster are not the record's fault:
# they are waited out like an unreachable Kafka, so a misconfiguration never empties the outbox.
_NOT_THE_RECORD = (
    ClusterAuthorizationFailedError,
    InvalidTopicError,
    OutOfOrderSequenceNumber,
    TopicAuthorizationFailedError,
    UnsupportedVersionError,
)


def refused(exc: BaseException) -> bool:
    """Kafka refused this record for good (e.g. MessageSizeTooLarge); retrying cannot help."""
    if isinstance(exc, RecordTooLargeError):
        return True
    record_fault = isinstance(exc, BrokerResponseError) and not exc.retriable
    return record_fault and not isinstance(exc, _NOT_THE_RECORD)


async def run_relay(board: Board) -> None:
    """Relay the outbox to incident.events, for ever; rows wait while Kafka is away."""
    await retry_forever("relay", lambda: _relay(board), board.settings.retry_max_s)


async def _relay(board: Board) -> None:
    await _until_pending(board)
    topic = await ensure_notice_topics(board.settings)
    broker = make_broker(board.settings, client_id=f"{board.settings.group_id}.relay")
    await broker.start()
    try:
        while True:
            board.outbox_ready.clear()
            await send_pending(board, broker, topic)
            await _until_pending(board)
    finally:
        await broker.stop()


async def _until_pending(board: Board) -> None:
    while not board.store.pending(1):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(board.outbox_ready.wait(), board.settings.heartbeat_s)
        board.outbox_ready.clear()


async def send_pending(board: Board, broker: KafkaBroker, topic: str) -> int:
    """Publish every pending row in order (key = notice id, acks=all); how many were sent.

    A row Kafka refuses for good is dead-lettered and set aside, so it never stalls the
    rows behind it; any other fault propagates and the row is tried again later.
    """
    sent = 0
    while rows := board.store.pending(100):
        for row in rows:
            sent += await _send(board, broker, topic, row)
        board.heard()
    if sent:
        log.info("relayed %d outbox rows to %s", sent, topic)
    return sent


async def _send(board: Board, broker: KafkaBroker, topic: str, row: OutboxRow) -> int:
    try:
        await broker.publish(
            row.payload,
            topic=topic,
            key=row.notice_id.encode(),
            headers={"content-type": "application/json", "x-event-id": str(row.event_id)},
        )
    except Exception as exc:
        if not refused(exc):
            raise
        await _set_aside(board, broker, topic, row, exc)
        return 0
    board.relayed(row)
    return 1


async def _set_aside(
    board: Board, broker: KafkaBroker, topic: str, row: OutboxRow, exc: BaseException
) -> None:
    """Dead-letter a refused row to `<topic>.dlq` and move it out of the outbox."""
    group = f"{board.settings.group_id}.relay"
    headers = dead_letter_headers(topic, "-", "-", group, exc) | {"x-event-id": str(row.event_id)}
    try:
        key = row.notice_id.encode()
        await broker.publish(_dead_letter(row), topic=f"{topic}.dlq", key=key, headers=headers)
    except Exception as again:
        if not refused(again):
            raise
        log.error("the dead-letter topic refused outbox row %d too: %r", row.seq, again)
    board.set_aside(row, headers["x-error"])
    log.error(
        "Kafka refused outbox row %d (event %s of %s, %d bytes); dead-lettered, set aside: %s",
        row.seq,
        row.event_id,
        row.notice_id,
        len(row.payload),
        headers["x-error"],
    )


def _dead_letter(row: OutboxRow) -> bytes:
    """The event itself when it fits; else what identifies it (it stays in the local store)."""
    if len(row.payload) <= logic.MAX_EVENT_BYTES:
        return row.payload
    summary = {
        "event_id": str(row.event_id),
        "notice_id": row.notice_id,
        "bytes": len(row.payload),
        "kept_in": "the board's local store, table outbox_refused",
    }
    return json.dumps(summary).encode()
