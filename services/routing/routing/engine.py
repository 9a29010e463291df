"""The single writer: a transactional consume-decide-produce loop over case commands and events."""

# Raw aiokafka, not FastStream like every other consumer here: each batch publishes its
# outputs and commits its input offsets in ONE Kafka transaction (send_offsets_to_transaction
# on a transactional producer), which FastStream cannot do. This file only drives batches,
# transactions and dead letters; what a record does to its case is service.py's.

import asyncio
import contextlib
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.errors import KafkaError, KafkaTimeoutError, ProducerFenced

from routing.errors import AlreadyStored
from routing.handlers import parse
from routing.models import CaseState, Outgoing
from routing.progress import Laps, Progress
from routing.service import COMMANDS, EVENTS, Message, Position, RoutingService
from routing.settings import Settings
from routing.store import CaseStore, CommandStore
from shared import tracing
from shared.enums import Department
from shared.events import CaseSubmitted
from shared.kafka import TRANSIENT_ERRORS
from shared.messages import UnknownMessage, utcnow

log = logging.getLogger("routing.engine")

MAX_HOLDS = 200
TRANSACTION_TIMEOUT_S = 30.0
ABORT_TIMEOUT_S = 5.0
CRASH_EXIT_CODE = 137  # what a SIGKILL'd process exits with
Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
# Called with the number of batches written so far, after a batch's Mongo write and before
# its Kafka commit: the worst moment to die, which the fault drill and tests pick.
AfterWrite = Callable[[int], None]


def exit_after(batches: int) -> AfterWrite:
    """Fault drill: end the process, like a SIGKILL, once `batches` batches are written."""

    def crash(written: int) -> None:
        if written >= batches:
            log.error("fault drill: exiting after %d batches, before the Kafka commit", batches)
            os._exit(CRASH_EXIT_CODE)

    return crash


def _carry_on(written: int) -> None:
    """No fault drill: nothing happens between a batch's Mongo write and its commit."""


@dataclass
class Inbound:
    """One input record, decoded: a command, an event routing acts on, poison, or neither."""

    record: ConsumerRecord[bytes, bytes]
    kind: str
    message: Message | None = None
    error: str | None = None

    @property
    def case_id(self) -> UUID | None:
        """The case the message concerns."""
        return getattr(self.message, "case_id", None)

    @property
    def request_id(self) -> str | None:
        """The request id the record carries (x-request-id), passed on to what it causes."""
        return tracing.from_kafka(self.record.headers)


@dataclass
class BatchWork:
    """What a batch decided: messages to send, cases to write, outcomes, held partitions."""

    starts: dict[tuple[str, int], int]
    states: dict[UUID, CaseState]
    sends: list["Send"] = field(default_factory=list)
    changed: dict[UUID, CaseState] = field(default_factory=dict)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    held: dict[TopicPartition, int] = field(default_factory=dict)

    def state_of(self, case_id: UUID) -> CaseState | None:
        """The case as decided so far in this batch."""
        return self.changed.get(case_id) or self.states.get(case_id)


def _starts(batch: Batch) -> dict[tuple[str, int], int]:
    """The first offset per partition of a batch."""
    return {(tp.topic, tp.partition): records[0].offset for tp, records in batch.items()}


def _floors(batch: Batch, uncommitted: Batch | None) -> dict[tuple[str, int], int]:
    """Per partition, the offset everything before which is committed.

    With a batch's commit still in flight, that is the in-flight batch's start: a redelivery
    from there must find the outputs of both batches on the case documents.
    """
    floors = _starts(batch)
    for key, start in _starts(uncommitted or {}).items():
        if key in floors:
            floors[key] = min(floors[key], start)
    return floors


@dataclass
class Prepared:
    """A batch decided and written to Mongo, its transaction not yet committed."""

    batch: Batch
    work: BatchWork
    laps: Laps
    count: int


@dataclass
class Send:
    """A message to publish inside the batch's transaction."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class Engine:
    """Applies case commands and events in per-partition order, exactly once.

    Per batch: decide every record, write case states (with the offsets they applied and what
    those caused) to Mongo, then publish all outputs and commit the input offsets in one Kafka
    transaction. A batch redelivered after a crash finds its offsets on the case documents
    and re-sends the recorded outputs instead of deciding again.
    """

    def __init__(
        self,
        settings: Settings,
        service: RoutingService,
        cases: CaseStore,
        commands: CommandStore,
        after_write: AfterWrite | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.after_write = after_write or _carry_on
        self.cases = cases
        self.commands = commands
        self.topics = settings.topics
        self.group = settings.group_id
        self.applied = 0
        self.batches = 0
        self.cache = StateCache()
        self.applied_upto: dict[tuple[str, int], int] = {}
        self.holds: dict[tuple[int, int], int] = {}
        self.careful = False  # after a surprise, read every state before deciding
        self.running = False
        self.progress = Progress(settings.stall_after_seconds)
        self.inflight: tuple[Prepared, asyncio.Task[None]] | None = None
        self.delay = 0.1
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Connect; a restarted replica fences its predecessor and aborts its open transaction."""
        await self._new_producer()
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            client_id=f"{self.group}-engine",
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            session_timeout_ms=6_000,
            # The broker may hold a fetch this long when only uncommitted data arrived.
            fetch_max_wait_ms=self.settings.fetch_max_wait_ms,
            heartbeat_interval_ms=1_000,
        )
        self.consumer.subscribe(
            [self.topics.case_commands, self.topics.case_events], listener=_Forget(self)
        )
        await self.consumer.start()
        await self._learn_output_topics()
        self.running = True
        self.progress.made()

    async def _learn_output_topics(self) -> None:
        """Fetch output topics' metadata now, not on the first send of a live batch."""
        assert self.producer is not None
        outputs = [self.topics.case_events, *(self.topics.queue(d) for d in Department)]
        outputs += [
            self.topics.dlq(t) for t in (self.topics.case_commands, self.topics.case_events)
        ]
        for topic in outputs:
            with contextlib.suppress(KafkaError):  # a send would learn it later anyway
                await self.producer.partitions_for(topic)

    async def _new_producer(self) -> None:
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            client_id=f"{self.group}-engine",
            transactional_id=self._transactional_id(),
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=15_000,
            linger_ms=1,
            # aiokafka waits this long when a transaction call meets the previous one's
            # markers still being written (ConcurrentTransactions); its 100 ms default
            # dominated the latency tail of back-to-back transactions.
            retry_backoff_ms=self.settings.producer_retry_backoff_ms,
        )
        await self.producer.start()

    async def _reset_producer(self) -> None:
        """A failed transaction can leave the producer unusable: start a fresh one (same id)."""
        if self.producer is not None:
            with contextlib.suppress(Exception):
                await self.producer.stop()
        await self._new_producer()

    def _transactional_id(self) -> str:
        namespace = self.settings.topic_namespace or "default"
        return f"{self.settings.service_name}.{namespace}.{self.settings.replica_id}"

    async def stop(self) -> None:
        """Leave the group and close the producer."""
        self.running = False
        for client in (self.consumer, self.producer):
            if client is not None:
                await client.stop()

    async def run(self) -> None:
        """Consume until cancelled; a failed batch is rewound and retried with backoff.

        Pipelined (`pipeline`, off by default): the next batch is polled, decided and written to
        Mongo while the previous batch commits; its own transaction begins once that one is done.
        """
        assert self.consumer is not None
        try:
            while True:
                laps = Laps()
                batch = await self.consumer.getmany(
                    timeout_ms=self.settings.poll_timeout_ms, max_records=self.settings.batch_max
                )
                laps.lap("poll")
                if batch:
                    await self._step(batch, laps)
                elif await self._settle():
                    self.progress.made()  # caught up, nothing in flight
        finally:
            self.progress.ended()
            await self.drain()

    async def _step(self, batch: Batch, laps: Laps) -> None:
        """Prepare a batch, wait for the previous commit, then start (or finish) this one's."""
        try:
            prepared = await self.prepare(batch, laps)
        except Exception as exc:
            failed = await self._settled_or_failed()
            # A failed commit before it explains more (and resets the producer).
            await self._recover(failed[1] if failed else exc, [*_batch_of(failed), batch])
            return
        failed = await self._settled_or_failed()
        laps.lap("wait")
        if failed is not None:
            await self._recover(failed[1], [failed[0].batch, batch])
            return
        self.inflight = (prepared, asyncio.create_task(self._commit(prepared)))
        # Held partitions are sought back after the commit, before the next poll.
        if not self.settings.pipeline or prepared.work.held:
            await self._settle()

    async def _settle(self) -> bool:
        """Wait for the in-flight commit; a failure is recovered from here."""
        failed = await self._settled_or_failed()
        if failed is not None:
            await self._recover(failed[1], [failed[0].batch])
        return failed is None

    async def _settled_or_failed(self) -> tuple[Prepared, Exception] | None:
        """Wait for the in-flight commit: None when it succeeded (or none was in flight)."""
        if self.inflight is None:
            return None
        prepared, task = self.inflight
        self.inflight = None
        try:
            await task
        except Exception as exc:
            return prepared, exc
        self._committed(prepared)
        return None

    async def drain(self) -> None:
        """Let an in-flight commit finish; partitions are about to move, or the loop ends.

        A failure is not rewound here: after a rebalance positions restart from the committed
        offsets, so the failed batch is delivered again anyway.
        """
        failed = await self._settled_or_failed()
        if failed is not None:
            log.warning("in-flight batch failed before partitions moved: %r", failed[1])
            self.cache.clear()
            await self._after_failure(failed[1])

    async def _recover(self, exc: Exception, batches: list[Batch]) -> None:
        """Rewind failed batches to their first offsets, then retry (or stop when fenced)."""
        self._rewind(batches)
        if isinstance(exc, AlreadyStored):
            log.warning("a submission was seen before; re-deciding the batch with lookups")
            self.careful = True
            self.cache.clear()
            return
        if isinstance(exc, ProducerFenced):
            log.error("another routing replica took over transactional id; stopping")
            self.running = False
            raise exc
        # Transient faults wait it out; anything else is logged loudly and retried too,
        # because skipping a command would break per-case order.
        log.warning("batch failed, retrying in %.1f s: %r", self.delay, exc, exc_info=exc)
        self.cache.clear()  # Mongo may be ahead of what this process remembers
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, 5.0)
        await self._after_failure(exc)

    async def _after_failure(self, exc: Exception) -> None:
        if isinstance(exc, KafkaError):
            with contextlib.suppress(Exception):  # the next failure retries it
                await self._reset_producer()

    def _rewind(self, batches: list[Batch]) -> None:
        """Seek every partition back to the earliest first offset any failed batch had."""
        assert self.consumer is not None
        starts: dict[TopicPartition, int] = {}
        for batch in batches:
            for tp, records in batch.items():
                starts[tp] = min(starts.get(tp, records[0].offset), records[0].offset)
        assigned = self.consumer.assignment()
        for tp, offset in starts.items():
            if tp in assigned:  # a partition that moved restarts from its committed offset
                self.consumer.seek(tp, offset)

    async def process(self, batch: Batch) -> None:
        """Decide, persist and publish one batch in a single transaction."""
        prepared = await self.prepare(batch, Laps())
        await self._commit(prepared)
        self._committed(prepared)

    async def prepare(self, batch: Batch, laps: Laps) -> Prepared:
        """Decide every record and write the changed cases; nothing is published yet."""
        # Events first: a submission fetched with a command for the same case must precede it.
        ordered = sorted(batch.items(), key=lambda entry: entry[0].topic != self.topics.case_events)
        inbound = [self._decode(tp, r) for tp, records in ordered for r in records]
        uncommitted = self.inflight[0].batch if self.inflight else None
        work = BatchWork(_floors(batch, uncommitted), await self._states(inbound))
        laps.lap("read")
        for item in inbound:
            with tracing.bound(item.request_id):  # log lines of this record carry its id
                await self._handle(item, work)
        # A hold this batch did not renew is over; counted here, not at the commit, since
        # with pipelining the previous batch commits after this one decided.
        still_held = {(tp.partition, offset) for tp, offset in work.held.items()}
        self.holds = {k: n for k, n in self.holds.items() if k in still_held}
        laps.lap("decide")
        await self._persist(work)
        laps.lap("write")
        return Prepared(batch, work, laps, len(inbound))

    async def _persist(self, work: BatchWork) -> None:
        created = work.changed.keys() - work.states.keys()
        await self.cases.save_many(work.changed.values(), new=created)
        # After the cases: the staff API reads the case once it sees a command's outcome.
        if work.outcomes:
            await self.commands.record_many(work.outcomes)
        self.cache.update(work.changed)
        if work.changed:
            self.batches += 1
            self.after_write(self.batches)

    async def _commit(self, prepared: Prepared) -> None:
        batch, work = prepared.batch, prepared.work
        offsets = {tp: work.held.get(tp, records[-1].offset + 1) for tp, records in batch.items()}
        await self._publish(work.sends, offsets, prepared.laps)

    def _committed(self, prepared: Prepared) -> None:
        """The batch's transaction committed: seek held partitions back, count, log."""
        work = prepared.work
        for tp, offset in work.held.items():
            self._seek(tp, offset)
        self.applied += prepared.count
        self.delay, self.careful = 0.1, False
        self.progress.made()
        log.info(
            "applied %d records (%d cases), published %d: %s ms",
            *(prepared.count, len(work.changed), len(work.sends), prepared.laps.line()),
        )

    def kind_of(self, topic: str) -> str:
        """Which input a topic is."""
        return COMMANDS if topic == self.topics.case_commands else EVENTS

    def _needs_lookup(self, item: Inbound) -> bool:
        """A submission above everything applied on its partition is new: no read needed."""
        if item.case_id is None or item.case_id in self.cache:
            return False
        if self.careful:
            return True
        upto = self.applied_upto.get((item.record.topic, item.record.partition))
        fresh = upto is not None and item.record.offset > upto
        return not (fresh and isinstance(item.message, CaseSubmitted))

    async def _states(self, inbound: list[Inbound]) -> dict[UUID, CaseState]:
        """States from the cache; the rest in one Mongo round trip (new cases need none)."""
        ids = {i.case_id for i in inbound if i.case_id}
        known = {case_id: self.cache[case_id] for case_id in ids if case_id in self.cache}
        missing = {i.case_id for i in inbound if i.case_id and self._needs_lookup(i)}
        if missing:
            loaded = await self.cases.get_many(missing)
            self.cache.update(loaded)
            known.update(loaded)
        return known

    async def _handle(self, item: Inbound, work: BatchWork) -> None:
        """One record: dead-letter, hold, replay what it caused before, or decide it."""
        tp = TopicPartition(item.record.topic, item.record.partition)
        if tp in work.held:
            return
        if item.error is not None:
            work.sends.append(self._dead_letter(item))
            return
        message, case_id = item.message, item.case_id
        if message is None or case_id is None:
            return
        state = work.state_of(case_id)
        if state is None and item.kind == COMMANDS and await self._wait_for_case(item):
            work.held[tp] = item.record.offset
            return
        await self._apply(item, message, state, work)

    async def _apply(
        self, item: Inbound, message: Message, state: CaseState | None, work: BatchWork
    ) -> None:
        """What the service says the record does; a record it cannot decide is dead-lettered."""
        record = item.record
        start = work.starts.get((record.topic, record.partition), record.offset)
        at = Position(item.kind, record.partition, record.offset, start)
        try:
            applied = await self.service.apply(message, state, at)
        except TRANSIENT_ERRORS:
            raise
        except Exception as exc:
            # A bug or a bad record must not block the partition: it goes to the DLQ.
            log.exception("failed to decide %s", _where(record))
            item.error = f"{type(exc).__name__}: {exc}"
            work.sends.append(self._dead_letter(item))
            return
        if applied.state is not None:
            work.changed[applied.state.case_id] = applied.state
        if applied.outcome is not None:
            work.outcomes.append(applied.outcome)
        work.sends.extend(self._sends(applied.outputs, item.request_id))

    async def _wait_for_case(self, item: Inbound) -> bool:
        """Hold a command for an unknown case while its case.events partition is behind."""
        assert self.consumer is not None
        events = TopicPartition(self.topics.case_events, item.record.partition)
        if events not in self.consumer.assignment():
            return False
        key = (item.record.partition, item.record.offset)
        self.holds[key] = self.holds.get(key, 0) + 1
        if self.holds[key] > MAX_HOLDS:
            return False  # give up waiting: the case never came, reject the command
        stable = self.consumer.last_stable_offset(events)
        return stable is None or bool(await self.consumer.position(events) < stable)

    def _seek(self, tp: TopicPartition, offset: int) -> None:
        assert self.consumer is not None
        self.consumer.seek(tp, offset)

    def _decode(self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes]) -> Inbound:
        item = Inbound(record, self.kind_of(tp.topic))
        try:
            item.message = parse(item.kind, record.value or b"")
        except UnknownMessage:
            log.info("skipped message of unknown type on %s", _where(record))
        except ValueError as exc:  # ValidationError among them
            item.error = f"{type(exc).__name__}: {exc}"[:2000]
        return item

    def _sends(self, outputs: list[Outgoing], request_id: str | None) -> list[Send]:
        """Outputs as records, carrying the request id of the input that caused them."""
        headers = tracing.kafka_headers(request_id) if request_id else []
        return [
            Send(
                self.topics.queue(out.queue) if out.queue else self.topics.case_events,
                out.key.encode(),
                json.dumps(out.value).encode(),
                list(headers),
            )
            for out in outputs
        ]

    def _dead_letter(self, item: Inbound) -> Send:
        record = item.record
        log.error("dead-lettered %s: %s", _where(record), item.error)
        headers = {
            "x-original-topic": record.topic,
            "x-original-partition": str(record.partition),
            "x-original-offset": str(record.offset),
            "x-consumer-group": self.group,
            "x-error": (item.error or "")[:2000],
            "x-failed-at": utcnow().isoformat(),
        }
        encoded = [(k, v.encode()) for k, v in headers.items()]
        encoded += tracing.kafka_headers(item.request_id) if item.request_id else []
        return Send(self.topics.dlq(record.topic), record.key, record.value or b"", encoded)

    async def _publish(
        self, sends: list[Send], offsets: dict[TopicPartition, int], laps: Laps
    ) -> None:
        # A broker restart can leave a transaction call waiting forever (seen in the fault
        # drill); bounded, it fails as a KafkaError and run() resets the producer and retries.
        try:
            await asyncio.wait_for(self._transaction(sends, offsets, laps), TRANSACTION_TIMEOUT_S)
        except TimeoutError as exc:
            raise KafkaTimeoutError(
                f"transaction unfinished after {TRANSACTION_TIMEOUT_S} s"
            ) from exc

    async def _transaction(
        self, sends: list[Send], offsets: dict[TopicPartition, int], laps: Laps
    ) -> None:
        producer = self.producer
        assert producer is not None
        await producer.begin_transaction()
        try:
            futures = [
                await producer.send(s.topic, s.value, key=s.key, headers=s.headers or None)
                for s in sends
            ]
            await asyncio.gather(*futures)
            laps.lap("send")
            await producer.send_offsets_to_transaction(offsets, self.group)
            laps.lap("offsets")
            await producer.commit_transaction()
            laps.lap("commit")
        except BaseException:
            await _abort(producer)
            raise


class StateCache(OrderedDict[UUID, CaseState]):
    """Recently used case states; valid while this process owns their partitions."""

    def __init__(self, limit: int = 50_000) -> None:
        super().__init__()
        self.limit = limit

    def update(self, states: Any = (), /, **_: Any) -> None:
        """Remember `states`, forgetting the least recently used beyond the limit."""
        for case_id, state in dict(states).items():
            self[case_id] = state
            self.move_to_end(case_id)
        while len(self) > self.limit:
            self.popitem(last=False)


class _Forget(ConsumerRebalanceListener):  # type: ignore[misc]
    """When partitions move: forget cached states, learn what Mongo already applied."""

    def __init__(self, engine: "Engine") -> None:
        self.engine = engine

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        """Another replica may write these cases next: finish the in-flight commit first."""
        await self.engine.drain()
        self.engine.cache.clear()
        self.engine.applied_upto.clear()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        """Records above a partition's highest applied offset need no redelivery check."""
        self.engine.cache.clear()
        for tp in assigned:
            kind = self.engine.kind_of(tp.topic)
            upto = await self.engine.cases.max_offset(kind, tp.partition)
            self.engine.applied_upto[(tp.topic, tp.partition)] = upto


async def _abort(producer: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(producer.abort_transaction(), ABORT_TIMEOUT_S)
    except Exception as exc:  # the transaction may already be dead; the next begin recovers
        log.warning("abort failed: %r", exc)


def _batch_of(failed: tuple[Prepared, Exception] | None) -> list[Batch]:
    return [] if failed is None else [failed[0].batch]


def _where(record: ConsumerRecord[bytes, bytes]) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"
