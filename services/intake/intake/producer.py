"""The request-path Kafka producer: acks=all, awaited, and a refusal that is final."""

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from intake.errors import InDoubt, Unavailable, problem
from shared import tracing
from shared.messages import Message

log = logging.getLogger("intake.producer")
HEADERS = [("content-type", b"application/json")]


class EventPublisher:
    """Publishes what an HTTP request produced before the request is answered.

    Idempotence is off on purpose: aiokafka's idempotent producer retries an unacknowledged
    batch forever and may deliver it after the client was told 503. Without it, a batch not
    acknowledged within `timeout_ms` is expired and dropped by the client. A batch refused
    before it was sent is certainly not recorded (Unavailable); one the broker answered with
    an error such as RequestTimedOut may have been appended all the same (InDoubt: measured
    under heavy load, such events did appear). acks=all still waits for every in-sync
    replica; a retry that duplicates a batch whose ack was lost is absorbed by consumers'
    event_id dedupe.
    """

    def __init__(self, bootstrap: str, client_id: str, timeout_ms: int, linger_ms: int) -> None:
        self.bootstrap, self.client_id = bootstrap, client_id
        self.timeout_ms, self.linger_ms = timeout_ms, linger_ms
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Connect; raises when the cluster is unreachable (the caller retries)."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=f"{self.client_id}-requests",
            acks="all",
            enable_idempotence=False,
            request_timeout_ms=self.timeout_ms,
            retry_backoff_ms=100,
            linger_ms=self.linger_ms,
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self._producer = producer

    @property
    def ready(self) -> bool:
        """True once connected."""
        return self._producer is not None

    async def stop(self) -> None:
        """Flush and disconnect."""
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish(self, topic: str, key: str, messages: Sequence[Message]) -> None:
        """Put `messages` on `topic` under `key` and wait until all are acknowledged."""
        if self._producer is None:
            raise _unavailable("not connected to Kafka")
        sends = [self._send(topic, key, m) for m in messages]
        results = await asyncio.gather(*sends, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            log.warning("publish to %s failed: %r", topic, errors[0])
            # The client hears what happened, never the Kafka client's error class or text.
            if any(isinstance(e, _Unconfirmed) for e in errors):
                raise _in_doubt("no acknowledgement arrived in time") from errors[0]
            raise _unavailable("Kafka is unreachable") from errors[0]

    async def _send(self, topic: str, key: str, message: Message) -> None:
        assert self._producer is not None
        value = message.model_dump_json().encode()
        headers = HEADERS + tracing.kafka_headers()  # the request's id follows what it caused
        try:
            delivery = await self._producer.send(topic, value, key=key.encode(), headers=headers)
        except KafkaError as exc:  # refused before it left the client: certainly not recorded
            raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc
        try:
            # Awaited to completion: the client resolves it only when acked or finally dropped.
            await delivery
        except KafkaError as exc:  # e.g. a broker-side RequestTimedOut: the append may stand
            raise _Unconfirmed(f"{type(exc).__name__}: {exc}") from exc


class _Unconfirmed(ConnectionError):
    """A send that reached the client's sender but was never acknowledged."""


def _in_doubt(reason: str) -> InDoubt:
    return InDoubt(
        problem(
            "kafka",
            "acknowledged",
            f"the event store did not confirm the request ({reason}); it may still have been "
            "recorded: retry later with the same Idempotency-Key",
        )
    )


def _unavailable(reason: str) -> Unavailable:
    return Unavailable(
        problem(
            "kafka",
            "acknowledged",
            f"the event store did not acknowledge the request ({reason}); nothing was recorded: "
            "retry later with the same Idempotency-Key",
        )
    )
