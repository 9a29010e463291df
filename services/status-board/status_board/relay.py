"""Outbox relay: publish locally written events to Kafka, marking each sent only after the ack."""

import asyncio
import contextlib
import logging

from faststream.kafka import KafkaBroker

from shared.kafka import make_broker
from status_board.board import Board
from status_board.ingest import ensure_notice_topics, retry_forever

log = logging.getLogger("status_board.relay")


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
    """Publish every pending row in order (key = notice id, acks=all); how many were sent."""
    sent = 0
    while rows := board.store.pending(100):
        for row in rows:
            await broker.publish(
                row.payload,
                topic=topic,
                key=row.notice_id.encode(),
                headers={"content-type": "application/json", "x-event-id": str(row.event_id)},
            )
            board.store.mark_sent(row.seq, board.clock())
            board.metrics.relayed.inc()
            sent += 1
        board.heard()
    if sent:
        log.info("relayed %d outbox rows to %s", sent, topic)
    return sent
