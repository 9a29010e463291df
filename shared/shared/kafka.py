"""Kafka factories with safe defaults: durable producer, commit-after-processing consumers, DLQ."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError
from faststream import AckPolicy, BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.message import StreamMessage
from prometheus_client import CollectorRegistry
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure
from pymongo.errors import NetworkTimeout as MongoNetworkTimeout

from shared import tracing
from shared.messages import UnknownMessage, utcnow
from shared.settings import InfraSettings
from shared.topics import TopicSpec

log = logging.getLogger("shared.kafka")

__all__ = [
    "TRANSIENT_ERRORS",
    "DeadLetterPolicy",
    "Poison",
    "RequestIdMiddleware",
    "TopicSpec",
    "consumer_options",
    "ensure_topics",
    "make_broker",
    "poison_to",
]

# Faults worth waiting out: the dependency will come back. Anything else is a poison message.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionFailure,
    MongoNetworkTimeout,
    KafkaConnectionError,
    TimeoutError,
    ConnectionError,
)


class Transient(Exception):
    """Raise from a handler to say: retry me later, do not dead-letter me."""


@dataclass
class DeadLetterPolicy:
    """Bounded retries with backoff for transient faults; poison messages go to `<topic>.dlq`.

    After the retries a transient fault is re-raised, so the consumer seeks back and the
    message is redelivered once the dependency returns (nothing is lost, order is kept).
    A message that fails for any other reason is published to the dead-letter topic with
    the reason in its headers and committed, so it never blocks its partition.
    """

    group: str
    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0
    transient: tuple[type[BaseException], ...] = (*TRANSIENT_ERRORS, Transient)
    broker: KafkaBroker | None = field(default=None, repr=False)
    dead_lettered: int = 0

    def middleware(self, msg: Any, /, *, context: Any) -> "_DeadLetterMiddleware":
        """FastStream middleware factory bound to this policy."""
        return _DeadLetterMiddleware(msg, context=context, policy=self)

    async def run(self, call: Callable[[], Awaitable[Any]], message: StreamMessage[Any]) -> Any:
        """Call the handler under this policy."""
        started = time.perf_counter()
        for attempt in range(1, self.attempts + 1):
            try:
                result = await call()
                log.info(
                    "handled %s in %.1f ms",
                    _where(message),
                    (time.perf_counter() - started) * 1000,
                    extra={"group": self.group, "attempt": attempt},
                )
                return result
            except UnknownMessage:
                log.info("skipped message of unknown type on %s", _where(message))
                return None
            except ValidationError as exc:
                if not _unknown_type(exc):
                    await self.dead_letter(message, exc)
                else:
                    log.info("skipped message of unknown type on %s", _where(message))
                return None
            except self.transient as exc:
                if attempt == self.attempts:
                    log.warning("transient fault persists on %s: %r", _where(message), exc)
                    raise
                await asyncio.sleep(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))
            except Exception as exc:
                await self.dead_letter(message, exc)
                return None
        return None

    async def dead_letter(self, message: StreamMessage[Any], exc: BaseException) -> None:
        """Publish the failed message, untouched, to its topic's DLQ with the reason."""
        if self.broker is None:
            raise RuntimeError("DeadLetterPolicy.broker is not set") from exc
        raw = message.raw_message
        topic = getattr(raw, "topic", "unknown")
        if topic.endswith(".dlq"):
            log.error("failed again on dead-letter topic %s: %r", _where(message), exc)
            return
        where = (topic, getattr(raw, "partition", ""), getattr(raw, "offset", ""))
        headers = dead_letter_headers(*where, self.group, exc)
        _keep_request_id(headers, tracing.from_kafka(_header_pairs(message.headers)))
        key = getattr(raw, "key", None)
        await self.broker.publish(message.body, topic=f"{topic}.dlq", key=key, headers=headers)
        self.dead_lettered += 1
        log.error("dead-lettered %s: %s", _where(message), headers["x-error"])


class Record(Protocol):
    """What a batch consumer reads of a consumed Kafka record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def dead_letter_headers(
    topic: str, partition: object, offset: object, group: str, exc: BaseException
) -> dict[str, str]:
    """Where a dead letter came from and why: the headers every DLQ record carries."""
    return {
        "x-original-topic": topic,
        "x-original-partition": str(partition),
        "x-original-offset": str(offset),
        "x-consumer-group": group,
        "x-error": f"{type(exc).__name__}: {exc}"[:2000],
        "x-failed-at": utcnow().isoformat(),
    }


async def dead_letter_record(
    broker: KafkaBroker, record: Record, group: str, exc: BaseException
) -> None:
    """Publish one record of a batch, untouched, to `<topic>.dlq` with the reason."""
    headers = dead_letter_headers(record.topic, record.partition, record.offset, group, exc)
    _keep_request_id(headers, tracing.from_kafka(getattr(record, "headers", None)))
    await broker.publish(record.value, topic=f"{record.topic}.dlq", key=record.key, headers=headers)
    log.error("dead-lettered %s[%s]@%s: %s", record.topic, record.partition, record.offset, exc)


Poison = Callable[[Record | None, Exception], Awaitable[None]]
"""Sets one record of a batch aside; `None` stands for a message consumed on its own."""


def poison_to(broker: KafkaBroker, group: str) -> Poison:
    """Dead-letter one record of a batch to `<topic>.dlq`, as DeadLetterPolicy does for one.

    Without a record (a message consumed on its own) the error is raised again, so the
    consumer's DeadLetterPolicy dead-letters that message instead.
    """

    async def publish(record: Record | None, exc: Exception) -> None:
        if record is None:
            raise exc
        await dead_letter_record(broker, record, group, exc)

    return publish


def _keep_request_id(headers: dict[str, str], request_id: str | None) -> None:
    """A dead letter keeps the request id of the record it holds, so a grep finds it too."""
    if request_id:
        headers[tracing.KAFKA_HEADER] = request_id


class _DeadLetterMiddleware(BaseMiddleware[Any, Any]):
    def __init__(self, msg: Any, /, *, context: Any, policy: DeadLetterPolicy) -> None:
        super().__init__(msg, context=context)
        self.policy = policy

    async def consume_scope(self, call_next: Callable[..., Awaitable[Any]], msg: Any) -> Any:
        return await self.policy.run(lambda: call_next(msg), msg)


class RequestIdMiddleware(BaseMiddleware[Any, Any]):
    """FastStream middleware: a consumed record's x-request-id is current while it is handled
    (so its log lines carry it), and every record published meanwhile carries it on.

    A batch holds records of many requests: its handler binds each record's id itself
    (tracing.from_kafka on the record's headers).
    """

    async def consume_scope(self, call_next: Callable[..., Awaitable[Any]], msg: Any) -> Any:
        if isinstance(msg.raw_message, tuple | list):
            return await call_next(msg)
        with tracing.bound(tracing.from_kafka(_header_pairs(msg.headers))):
            return await call_next(msg)

    async def publish_scope(self, call_next: Callable[[Any], Awaitable[Any]], cmd: Any) -> Any:
        request_id = tracing.current()
        headers = getattr(cmd, "headers", None)
        unset = isinstance(headers, dict) and tracing.KAFKA_HEADER not in map(str.lower, headers)
        if request_id and unset:
            cmd.add_headers({tracing.KAFKA_HEADER: request_id}, override=False)
        return await call_next(cmd)


def _header_pairs(headers: Any) -> list[tuple[str, bytes | str]]:
    """A consumed message's headers (FastStream decodes them to a dict) as (name, value)."""
    return list(headers.items()) if isinstance(headers, dict) else []


def _unknown_type(exc: ValidationError) -> bool:
    return any(error["type"] == "union_tag_invalid" for error in exc.errors())


def _where(message: StreamMessage[Any]) -> str:
    raw = message.raw_message
    topic, partition = getattr(raw, "topic", "?"), getattr(raw, "partition", "?")
    return f"{topic}[{partition}]@{getattr(raw, 'offset', '?')}"


def make_broker(
    settings: InfraSettings,
    *,
    client_id: str,
    policy: DeadLetterPolicy | None = None,
    registry: CollectorRegistry | None = None,
    request_timeout_ms: int = 10_000,
) -> KafkaBroker:
    """A broker whose producer waits for all in-sync replicas and never duplicates on retry."""
    middlewares: list[Any] = [RequestIdMiddleware]  # first: outermost, its id on every line
    if registry is not None:
        middlewares.append(KafkaPrometheusMiddleware(registry=registry, app_name=client_id))
    quiet: dict[str, Any] = {}  # without a policy, FastStream's default logger
    if policy is not None:
        middlewares.append(policy.middleware)
        quiet["logger"] = None  # the policy logs each outcome in place of FastStream's lines
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=request_timeout_ms,
        middlewares=middlewares,
        graceful_timeout=15.0,
        **quiet,
    )
    if policy is not None:
        policy.broker = broker
    return broker


def consumer_options(group_id: str) -> dict[str, Any]:
    """Subscriber options: a named group, read from the start, commit only after processing.

    read_committed: a producer that writes transactionally (e.g. routing) is seen only once
    its transaction commits.
    """
    return {
        "group_id": group_id,
        "auto_offset_reset": "earliest",
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "isolation_level": "read_committed",
    }


async def ensure_topics(bootstrap: str, specs: list[TopicSpec], *, replication: int = 1) -> None:
    """Create missing topics with explicit partitions; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=spec.name,
                num_partitions=spec.partitions,
                replication_factor=replication,
                topic_configs={"cleanup.policy": "compact"} if spec.compacted else {},
            )
            for spec in specs
            if spec.name not in existing
        ]
        if missing:
            await _create(admin, missing)
    finally:
        await admin.close()


async def _create(admin: AIOKafkaAdminClient, topics: list[NewTopic]) -> None:
    try:
        await admin.create_topics(topics)
    except TopicAlreadyExistsError:
        pass  # another replica created it first
    except KafkaError as exc:
        if "TopicAlreadyExists" not in repr(exc):
            raise


async def kafka_reachable(bootstrap: str, timeout_ms: int = 2_000) -> bool:
    """True when the cluster answers a metadata request."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
    try:
        await asyncio.wait_for(admin.start(), timeout=timeout_ms / 1000)
        await asyncio.wait_for(admin.list_topics(), timeout=timeout_ms / 1000)
        return True
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await admin.close()
